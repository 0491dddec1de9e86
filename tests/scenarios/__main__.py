"""CLI: python -m tests.scenarios --seed 7 -o /tmp/s7.jsonl --truth /tmp/s7.truth.json"""

from __future__ import annotations

import argparse

from tests.scenarios.plan import VARIANTS, random_plan
from tests.scenarios.session import build


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m tests.scenarios",
        description="Generate a leg-lift scenario session (trace v1 + ground truth).")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("-o", "--out", required=True, help="trace v1 JSONL path")
    ap.add_argument("--truth", help="ground-truth JSON path")
    ap.add_argument("--variant", action="append", choices=VARIANTS, help="restrict the sets (repeatable)")
    ap.add_argument("--start", choices=("top", "floor"), help="start every straight-leg set this way")
    ap.add_argument("--fault-rate", type=float, default=0.14)
    ap.add_argument("--no-bystanders", action="store_true")
    args = ap.parse_args(argv)
    plan = random_plan(args.seed, variants=args.variant, start=args.start, fault_rate=args.fault_rate,
                       bystanders=not args.no_bystanders)
    scenario = build(plan)
    scenario.write(args.out, args.truth)
    reps = scenario.truth.reps
    faulty = sum(1 for r in reps if r.faults)
    print(f"{args.out}: {len(scenario.frames)} frames, {scenario.frames[-1].t:.0f} s, "
          f"{len(scenario.truth.sets)} sets, {len(reps)} reps, {faulty} with faults")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
