"""Accuracy of the analysis against ground truth, over many generated sessions, from either generator.

Two independent generators write sessions with ground truth:
- `sim` (tests/sim): the first simulator, written with the same assumptions as the analysis;
- `scenarios` (tests/scenarios): a second one on another motion model (minimum-jerk moves between
  postures, floor-start and top-start sets, rests, leg switches, a structured pose-model error model).
Grading on both keeps the analysis from being graded only on its own assumptions.

Used by tests/test_accuracy.py on held-out seeds, and as a report while developing:
    python -m tests.accuracy --seeds 1000-1039
    python -m tests.accuracy --generator scenarios --seeds 1000-1039
Held-out seeds, never to be looked at while tuning the analysis (or, for scenarios, while developing the
generator): sim from HELD_OUT_FIRST (90 000) on, scenarios from SCENARIO_HELD_OUT_FIRST (70 000) on.
The scenario generator was developed on seeds below 1 000; the rep-duration property test uses 50 000+.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge.analysis.analyzer import analyze_frames
from edge.analysis.config import AnalysisConfig, ClassifierConfig
from edge.analysis.scoring import FAULTS
from edge.people import PoseFrame
from edge.trace import TraceHeader
from tests.sim.observe import exchange_sides
from tests.sim.spec import NON_REPS
from tests.sim.truth import Truth

HELD_OUT_FIRST = 90_000
SCENARIO_HELD_OUT_FIRST = 70_000
GENERATORS = ("sim", "scenarios")
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
    # Per true variant: sets, sets counted exactly, matched reps, matched reps given that variant, and
    # the fault verdicts on its reps (a false rep's counted under the variant it was given).
    by_variant: dict[str, Counter] = field(default_factory=dict)
    variant_fault: dict[str, dict[str, Counter]] = field(default_factory=dict)
    # Movements that are no reps (tests.sim.spec.NON_REPS), per kind: how many, and how many were counted.
    non_reps: Counter = field(default_factory=Counter)
    non_reps_counted: Counter = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)
    # Per wrong set: (set label, found − true). The label says how the set was done (scenarios: the
    # variant, top- or floor-start, a leg switch, opened mid-set), so miss patterns can be counted.
    count_errors: list[tuple[str, int]] = field(default_factory=list)
    variant_errors: list[str] = field(default_factory=list)

    def f1(self, name: str) -> float:
        c = self.fault[name]
        denom = 2 * c["tp"] + c["fp"] + c["fn"]
        return 2 * c["tp"] / denom if denom else 1.0

    def merge(self, other: Tally) -> None:
        for name in ("sets", "sets_count_exact", "sets_variant_right", "true_reps", "unseen_reps",
                     "found_reps", "matched", "holds_true", "holds_found"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in ("descent_err", "bottom_err", "hold_err", "misses", "count_errors", "variant_errors"):
            getattr(self, name).extend(getattr(other, name))
        for f in FAULTS:
            self.fault[f].update(other.fault[f])
        self.non_reps.update(other.non_reps)
        self.non_reps_counted.update(other.non_reps_counted)
        for v, c in other.by_variant.items():
            self.by_variant.setdefault(v, Counter()).update(c)
        for v, faults in other.variant_fault.items():
            for f, c in faults.items():
                self._verdicts(v)[f].update(c)

    def _verdicts(self, variant: str) -> dict[str, Counter]:
        return self.variant_fault.setdefault(variant, {f: Counter() for f in FAULTS})

    def _verdict(self, variant: str, fault: str, key: str) -> None:
        self.fault[fault][key] += 1
        self._verdicts(variant)[fault][key] += 1

    def variant_f1(self, variant: str, fault: str) -> float:
        c = self._verdicts(variant)[fault]
        denom = 2 * c["tp"] + c["fp"] + c["fn"]
        return 2 * c["tp"] / denom if denom else 1.0

    def count_exact_share(self, variant: str) -> float:
        c = self.by_variant.get(variant, Counter())
        return c["exact"] / max(1, c["sets"])

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


@dataclass(frozen=True, slots=True)
class Session:
    """One generated session, whichever generator made it."""

    frames: list[PoseFrame]
    header: TraceHeader
    truth: Truth
    set_labels: list[str]  # one per truth set


def load_session(seed: int, generator: str = "sim", **spec_kw: Any) -> Session:
    """The session of a seed from a generator; spec_kw pins parts of its random spec / plan."""
    # Imported here: a caller (or a worker process) only ever loads the generator it uses.
    if generator == "sim":
        from tests.sim import random_session_spec, simulate

        sim = simulate(random_session_spec(seed, **spec_kw))
        return Session(sim.frames, sim.header, sim.truth, [s.variant for s in sim.truth.sets])
    if generator == "scenarios":
        from tests.scenarios import generate

        sc = generate(seed, **spec_kw)
        labels = []
        for s in sc.plan.sets:
            label = s.variant if s.variant == "heel_tap" else f"{s.variant} {s.start}-start"
            label += " leg-switch" if s.switch_after else ""
            label += " opened-mid-set" if s.already_started else ""
            labels.append(label)
        return Session(sc.frames, sc.header, sc.truth, labels)
    raise ValueError(f"unknown generator {generator!r}; choose from {GENERATORS}")


def score_session(seed: int, tally: Tally, exchange_rate: float = 0.0, generator: str = "sim",
                  config: AnalysisConfig | None = None, **spec_kw: Any) -> None:
    """exchange_rate: the share of frames on which the pose model starts to exchange left and right;
    config: the analysis's (default: with the rep classifier)."""
    session = load_session(seed, generator, **spec_kw)
    frames = exchange_sides(session.frames, exchange_rate, seed) if exchange_rate else session.frames
    result = analyze_frames(frames, session.header, config).to_json()
    reps, sets = result["reps"], result["sets"]
    tally.found_reps += len(reps)
    used: set[int] = set()
    for ts, label in zip(session.truth.sets, session.set_labels, strict=True):
        # A rep whose turnaround fell wholly into a detection dropout is invisible in the trace; the
        # exact count is that of the reps the trace shows.
        seen = [tr for tr in ts.reps if tr.bottom_seen]
        per = tally.by_variant.setdefault(ts.variant, Counter())
        per["sets"] += 1
        tally.sets += 1
        tally.true_reps += len(seen)
        tally.unseen_reps += len(ts.reps) - len(seen)
        inside = [r for r in reps if ts.start_t - 1.0 <= r["start_t"] <= ts.end_t + 1.0]
        if len(inside) == len(seen):
            tally.sets_count_exact += 1
            per["exact"] += 1
        else:
            tally.misses.append(f"seed {seed} set@{ts.start_t:.0f}s {label}: "
                                f"{len(inside)} found / {len(seen)} true")
            tally.count_errors.append((label, len(inside) - len(seen)))
        overlap = [s for s in sets if s["start_t"] <= ts.end_t and s["end_t"] >= ts.start_t]
        found_variant = None
        if overlap:
            best = max(overlap, key=lambda s: min(s["end_t"], ts.end_t) - max(s["start_t"], ts.start_t))
            found_variant = best["variant"]
            tally.sets_variant_right += found_variant == ts.variant
        if found_variant != ts.variant:
            tally.variant_errors.append(f"seed {seed} set@{ts.start_t:.0f}s {label}: found {found_variant}")
        for tr in seen:
            cands = [r for r in reps if r["index"] not in used and abs(r["start_t"] - tr.start_t) <= MATCH_S]
            if not cands:
                for f in tr.faults:
                    tally._verdict(ts.variant, f, "fn")
                continue
            r = min(cands, key=lambda r: abs(r["start_t"] - tr.start_t))
            used.add(r["index"])
            tally.matched += 1
            per["reps"] += 1
            per["reps_variant_right"] += r["variant"] == ts.variant
            tally.descent_err.append(abs(r["descent_s"] - tr.descent_s))
            tally.bottom_err.append(abs(r["bottom_angle_deg"] - tr.bottom_angle_deg))
            for f in FAULTS:
                truth_has, found_has = f in tr.faults, f in r["faults"]
                key = "tp" if truth_has and found_has else "fn" if truth_has else "fp" if found_has else None
                if key:
                    tally._verdict(ts.variant, f, key)
    for r in reps:
        if r["index"] not in used:
            for f in r["faults"]:
                tally._verdict(r["variant"], f, "fp")
    for move in session.truth.fidgets:
        if move.kind in NON_REPS:
            tally.non_reps[move.kind] += 1
            tally.non_reps_counted[move.kind] += any(
                move.start_t - 0.5 <= r["start_t"] and r["end_t"] <= move.end_t + 1.0 for r in reps)
    tally.holds_true += len(session.truth.holds)
    tally.holds_found += len(result["holds"])
    for th in session.truth.holds:
        near = [h for h in result["holds"] if h["start_t"] < th.end_t and h["end_t"] > th.start_t]
        tally.hold_err.append(min((abs(h["duration_s"] - th.duration_s) for h in near), default=99.0))


def _score_one(job: tuple[int, float, str, AnalysisConfig | None, dict[str, Any]]) -> Tally:
    seed, exchange_rate, generator, config, spec_kw = job
    tally = Tally()
    score_session(seed, tally, exchange_rate, generator, config, **spec_kw)
    return tally


def default_workers() -> int:
    """Sessions are independent: one process per core, at most two (the Pis' and CI's core count)."""
    return max(1, min(2, os.cpu_count() or 1))


def map_seeds(fn: Callable[[Any], Any], jobs: Iterable[Any], workers: int = 1) -> list[Any]:
    """fn over jobs, in order: in this process, or in `workers` processes.

    Worker processes come from a forkserver (clean processes, safe whatever threads the caller, e.g.
    pytest, is running), which imports the caller's main module: a script calling this with workers > 1
    needs the `if __name__ == "__main__":` guard.
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(fn, jobs))


def evaluate(seeds: Iterable[int], exchange_rate: float = 0.0, generator: str = "sim", workers: int = 1,
             config: AnalysisConfig | None = None, **spec_kw: Any) -> Tally:
    """Score every seed's session; workers > 1 runs sessions in that many processes (see map_seeds)."""
    if generator not in GENERATORS:
        raise ValueError(f"unknown generator {generator!r}; choose from {GENERATORS}")
    tally = Tally()
    jobs = [(s, exchange_rate, generator, config, spec_kw) for s in seeds]
    for part in map_seeds(_score_one, jobs, workers):
        tally.merge(part)
    return tally


def _rep_spans(job: tuple[int, str]) -> list[tuple[float, float]]:
    seed, generator = job
    session = load_session(seed, generator)
    result = analyze_frames(session.frames, session.header).to_json()
    return [(r["start_t"], r["end_t"]) for r in result["reps"]]


def reported_rep_spans(seeds: Iterable[int], generator: str,
                       workers: int = 1) -> dict[int, list[tuple[float, float]]]:
    """(start_t, end_t) of every rep the analysis reports, per seed."""
    seeds = list(seeds)
    return dict(zip(seeds, map_seeds(_rep_spans, [(s, generator) for s in seeds], workers), strict=True))


def miss_patterns(tally: Tally) -> list[tuple[str, int]]:
    """How the wrong counts went, most common first: ("double_leg floor-start: found k-1", n)."""
    c = Counter(f"{label}: found k{d:+d}" for label, d in tally.count_errors)
    return c.most_common()


def _seed_range(text: str) -> range:
    a, _, b = text.partition("-")
    return range(int(a), int(b or a) + 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1000-1019", type=_seed_range)
    parser.add_argument("--generator", choices=GENERATORS, default="sim")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="processes running sessions (default: one per core, at most 2)")
    parser.add_argument("--exchange-rate", type=float, default=0.0,
                        help="share of frames on which the pose model starts to exchange left and right")
    parser.add_argument("--hanging", action="store_true",
                        help="sim: sessions with hanging sets at the bar beside the mat")
    parser.add_argument("--non-reps", action="store_true",
                        help="sim: movements that are no reps on the mat between sets")
    parser.add_argument("--floor-sets", action="store_true",
                        help="sim: half the straight-leg sets done from the floor")
    parser.add_argument("--off-side", action="store_true",
                        help="sim: the camera turned 15–50° round the mat and raised, looking down")
    parser.add_argument("--rules-only", action="store_true", help="without the rep classifier")
    args = parser.parse_args()
    spec_kw = {k: True for k, on in (("hanging", args.hanging), ("non_reps", args.non_reps),
                                     ("floor_sets", args.floor_sets), ("off_side", args.off_side)) if on}
    config = AnalysisConfig(classifier=ClassifierConfig(enabled=False)) if args.rules_only else None
    tally = evaluate(args.seeds, args.exchange_rate, args.generator, args.workers, config, **spec_kw)
    print(json.dumps(tally.summary(), indent=1))
    for f in FAULTS:
        print(f, dict(tally.fault[f]))
    if tally.non_reps:
        print("\nmovements that are no reps, counted as reps:",
              ", ".join(f"{k} {tally.non_reps_counted[k]}/{n}" for k, n in sorted(tally.non_reps.items())))
    print("\nper variant: sets counted exactly, reps given the right variant, fault F1")
    for v, c in sorted(tally.by_variant.items()):
        f1 = ", ".join(f"{f} {tally.variant_f1(v, f):.3f}" for f in JUDGED_FAULTS
                       if sum(tally._verdicts(v)[f].values()))
        print(f"  {v:<11} {c['exact']}/{c['sets']} sets, {c['reps_variant_right']}/{c['reps']} reps; {f1}")
    print("\nmiss patterns:")
    for pattern, n in miss_patterns(tally):
        print(f"  {n:3d}  {pattern}")
    print("\n".join(tally.misses[:30]))
    if tally.variant_errors:
        print("\nwrong variants:")
        print("\n".join(tally.variant_errors[:30]))


if __name__ == "__main__":
    main()
