"""Accuracy of the analysis against the simulator's ground truth, over many simulated sessions.

Used by tests/test_accuracy.py on held-out seeds, and as a report while developing:
    python -m tests.accuracy --seeds 1000-1039
Tuning may only ever look at seeds below HELD_OUT_FIRST; the tests use seeds from there on.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from edge.analysis import analyze_frames
from edge.scoring import FAULTS
from tests.sim import random_session_spec, simulate
from tests.sim.observe import exchange_sides

HELD_OUT_FIRST = 90_000
JUDGED_FAULTS = ("fast_descent", "momentum", "knees_bent", "short_top")
# A detected rep belongs to a true rep when their starts are this close.
MATCH_S = 1.5


@dataclass
class Tally:
    sets: int = 0
    sets_count_exact: int = 0
    sets_variant_right: int = 0
    true_reps: int = 0
    unseen_reps: int = 0
    found_reps: int = 0
    matched: int = 0
    descent_err: list[float] = field(default_factory=list)
    bottom_err: list[float] = field(default_factory=list)
    hold_err: list[float] = field(default_factory=list)
    holds_true: int = 0
    holds_found: int = 0
    fault: dict[str, Counter] = field(default_factory=lambda: {f: Counter() for f in FAULTS})
    misses: list[str] = field(default_factory=list)

    def f1(self, name: str) -> float:
        c = self.fault[name]
        denom = 2 * c["tp"] + c["fp"] + c["fn"]
        return 2 * c["tp"] / denom if denom else 1.0

    def summary(self) -> dict[str, float]:
        out = {
            "sets": self.sets,
            "rep_count_exact_share": self.sets_count_exact / max(1, self.sets),
            "variant_right_share": self.sets_variant_right / max(1, self.sets),
            "true_reps": self.true_reps,
            "unseen_reps": self.unseen_reps,
            "found_reps": self.found_reps,
            "matched_reps": self.matched,
            "descent_mae_s": float(np.mean(self.descent_err)) if self.descent_err else 0.0,
            "bottom_mae_deg": float(np.mean(self.bottom_err)) if self.bottom_err else 0.0,
            "holds_true": self.holds_true,
            "holds_found": self.holds_found,
            "hold_max_err_s": float(np.max(self.hold_err)) if self.hold_err else 0.0,
        }
        for f in JUDGED_FAULTS:
            out[f"f1_{f}"] = self.f1(f)
        return out


def score_session(seed: int, tally: Tally, exchange_rate: float = 0.0, **spec_kw: object) -> None:
    """exchange_rate: the share of frames on which the pose model starts to exchange left and right."""
    sim = simulate(random_session_spec(seed, **spec_kw))  # type: ignore[arg-type]
    frames = exchange_sides(sim.frames, exchange_rate, seed) if exchange_rate else sim.frames
    result = analyze_frames(frames, sim.header).to_json()
    reps, sets = result["reps"], result["sets"]
    tally.found_reps += len(reps)
    used: set[int] = set()
    for ts in sim.truth.sets:
        # A rep whose turnaround fell wholly into a detection dropout is invisible in the trace; the
        # exact count is that of the reps the trace shows.
        seen = [tr for tr in ts.reps if tr.bottom_seen]
        tally.sets += 1
        tally.true_reps += len(seen)
        tally.unseen_reps += len(ts.reps) - len(seen)
        inside = [r for r in reps if ts.start_t - 1.0 <= r["start_t"] <= ts.end_t + 1.0]
        if len(inside) == len(seen):
            tally.sets_count_exact += 1
        else:
            tally.misses.append(f"seed {seed} set@{ts.start_t:.0f}s {ts.variant}: "
                                f"{len(inside)} found / {len(seen)} true")
        overlap = [s for s in sets if s["start_t"] <= ts.end_t and s["end_t"] >= ts.start_t]
        if overlap:
            best = max(overlap, key=lambda s: min(s["end_t"], ts.end_t) - max(s["start_t"], ts.start_t))
            tally.sets_variant_right += best["variant"] == ts.variant
        for tr in seen:
            cands = [r for r in reps if r["index"] not in used and abs(r["start_t"] - tr.start_t) <= MATCH_S]
            if not cands:
                for f in tr.faults:
                    tally.fault[f]["fn"] += 1
                continue
            r = min(cands, key=lambda r: abs(r["start_t"] - tr.start_t))
            used.add(r["index"])
            tally.matched += 1
            tally.descent_err.append(abs(r["descent_s"] - tr.descent_s))
            tally.bottom_err.append(abs(r["bottom_angle_deg"] - tr.bottom_angle_deg))
            for f in FAULTS:
                truth_has, found_has = f in tr.faults, f in r["faults"]
                key = "tp" if truth_has and found_has else "fn" if truth_has else "fp" if found_has else None
                if key:
                    tally.fault[f][key] += 1
    for r in reps:
        if r["index"] not in used:
            for f in r["faults"]:
                tally.fault[f]["fp"] += 1
    tally.holds_true += len(sim.truth.holds)
    tally.holds_found += len(result["holds"])
    for th in sim.truth.holds:
        near = [h for h in result["holds"] if h["start_t"] < th.end_t and h["end_t"] > th.start_t]
        tally.hold_err.append(min((abs(h["duration_s"] - th.duration_s) for h in near), default=99.0))


def evaluate(seeds: range, exchange_rate: float = 0.0, **spec_kw: object) -> Tally:
    tally = Tally()
    for seed in seeds:
        score_session(seed, tally, exchange_rate, **spec_kw)
    return tally


def _seed_range(text: str) -> range:
    a, _, b = text.partition("-")
    return range(int(a), int(b or a) + 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1000-1019", type=_seed_range)
    parser.add_argument("--exchange-rate", type=float, default=0.0,
                        help="share of frames on which the pose model starts to exchange left and right")
    args = parser.parse_args()
    tally = evaluate(args.seeds, args.exchange_rate)
    print(json.dumps(tally.summary(), indent=1))
    for f in FAULTS:
        print(f, dict(tally.fault[f]))
    print("\n".join(tally.misses[:30]))


if __name__ == "__main__":
    main()
