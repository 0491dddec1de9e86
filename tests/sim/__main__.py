"""CLI: python -m tests.sim --seed 7 -o /tmp/s7.jsonl --truth /tmp/s7.truth.json"""

from __future__ import annotations

import argparse

from tests.sim.simulate import simulate
from tests.sim.spec import REP_VARIANTS, random_session_spec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.sim",
                                 description="Simulate a side-view leg-lift session.")
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("-o", "--out", required=True, help="trace v1 JSONL path")
    ap.add_argument("--truth", help="ground-truth JSON path")
    ap.add_argument("--variant", action="append", choices=REP_VARIANTS, help="restrict the sets (repeatable)")
    ap.add_argument("--fault-rate", type=float, default=0.35)
    ap.add_argument("--no-bystanders", action="store_true")
    ap.add_argument("--off-side", action="store_true", help="the camera turned round the mat and raised")
    args = ap.parse_args(argv)
    spec = random_session_spec(args.seed, variants=args.variant, fault_rate=args.fault_rate,
                               bystanders=not args.no_bystanders, off_side=args.off_side)
    result = simulate(spec)
    result.write(args.out, args.truth)
    reps = result.truth.reps
    print(f"{args.out}: {len(result.frames)} frames, {len(result.truth.sets)} sets, {len(reps)} reps, "
          f"{sum(1 for r in reps if r.faults)} with faults")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
