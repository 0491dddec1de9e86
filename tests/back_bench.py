"""The `back_arched` bench: rendered sessions (tests/sim/render.py) through the whole analysis with their
frames, each found rep matched to the true rep it overlaps most.

    python -m tests.back_bench --seeds 1-24 [--fps 15] [--json]

Reports, over straight-leg reps: recall of true arches of 2 cm or more, false alarms on flat reps
(true lift under 0.5 cm), the onset error of arches caught, the same false alarms on sessions with a
lighting step or an extra bystander and how many of them the disturbance caused (the session again
without it), and what the back measurement costs per frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from edge.analysis.analyzer import Analyzer
from edge.analysis.scoring import ScoredRep
from tests.sim.render import RenderedHold, RenderedRep, render_session
from tests.sim.render_look import Look, sample_look
from tests.sim.spec import STRAIGHT_LEG

T = TypeVar("T")
ARCHED_CM = 2.0  # the bar: lifts of at least this must be caught
FLAT_CM = 0.5


@dataclass(slots=True)
class RepResult:
    seed: int
    truth: RenderedRep
    found: ScoredRep | None
    disturbed: bool  # the session has a lighting step or an extra walker

    @property
    def flagged(self) -> bool:
        return self.found is not None and "back_arched" in self.found.faults


def _match(truth: RenderedRep | RenderedHold, found: list[T], span: Callable[[T], tuple[float, float]]
           ) -> T | None:
    """The found rep or hold whose time span (`span`) overlaps the true one most, if any does."""
    def overlap(f: T) -> float:
        start, end = span(f)
        return min(truth.end_t, end) - max(truth.start_t, start)
    best = max(found, key=overlap, default=None)
    return best if best is not None and overlap(best) > 0 else None


def run_session(seed: int, fps: float, undisturbed: bool = False, look: Look | None = None
                ) -> tuple[list[RepResult], list[tuple[float, float]], float, int]:
    """The session's straight-leg reps with what the analysis made of them, its holds' (true, found)
    back-flat shares, the seconds the back measurement took, and the frames measured. `undisturbed`:
    the same session with its light steps and the pixels of everyone behind the mat taken out (their
    detections stay), to tell what a disturbance itself caused. `look`: instead of the seed's own."""
    look = look or sample_look(seed)
    disturbed = bool(look.light_steps) or look.extra_walker is not None
    if undisturbed:
        look = dataclasses.replace(look, light_steps=())
    rs = render_session(seed, fps=fps, look=look)
    analyzer = Analyzer(floor_line=rs.floor_line)
    spent = 0.0
    measure = analyzer.back.measure

    def timed(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal spent
        t0 = time.perf_counter()
        try:
            return measure(*args, **kwargs)
        finally:
            spent += time.perf_counter() - t0

    analyzer.back.measure = timed  # type: ignore[method-assign]
    for i in range(len(rs)):
        analyzer.push(rs.people(i), rs.frame(i, bystanders=not undisturbed))
    analysis = analyzer.finish()
    results = [RepResult(seed, r, _match(r, analysis.reps, lambda s: (s.rep.start_t, s.rep.end_t)), disturbed)
               for r in rs.reps if r.variant in STRAIGHT_LEG]
    holds = []
    for h in rs.holds:
        got = _match(h, analysis.holds, lambda f: (f.start_t, f.end_t))
        if got is not None and got.flat_share is not None:
            holds.append((h.flat_s / (h.end_t - h.start_t), got.flat_share))
    return results, holds, spent, len(rs)


def caused_by_disturbance(disturbed: list[RepResult], undisturbed: list[RepResult]) -> list[RepResult]:
    """Flat reps called arched with the session's light steps and people behind the mat, but not
    without them."""
    clean = {r.truth.start_t: r.flagged for r in undisturbed}
    return [r for r in disturbed
            if r.truth.lift_cm < FLAT_CM and r.flagged and not clean.get(r.truth.start_t)]


def summary(results: list[RepResult], holds: list[tuple[float, float]], spent: float, frames: int,
            caused: int | None = None) -> dict:
    arched = [r for r in results if r.truth.lift_cm >= ARCHED_CM and r.found is not None]
    flat = [r for r in results if r.truth.lift_cm < FLAT_CM and r.found is not None]
    onset_err = [abs(r.found.rep.back_onset_deg - r.truth.onset_deg) for r in arched  # type: ignore[union-attr,operator]
                 if r.flagged and r.found.rep.back_onset_deg is not None]  # type: ignore[union-attr]
    disturbed_flat = [r for r in flat if r.disturbed]
    return {
        "reps_matched": sum(r.found is not None for r in results),
        "reps_true": len(results),
        "arched": len(arched),
        "recall": round(sum(r.flagged for r in arched) / len(arched), 3) if arched else None,
        "flat": len(flat),
        "false_alarm_rate": round(sum(r.flagged for r in flat) / len(flat), 3) if flat else None,
        "onsets_estimated": len(onset_err),
        "onset_error_median_deg": round(float(np.median(onset_err)), 1) if onset_err else None,
        "onset_error_mean_deg": round(float(np.mean(onset_err)), 1) if onset_err else None,
        "onset_within_5deg": round(float(np.mean(np.array(onset_err) <= 5)), 3) if onset_err else None,
        "disturbed_flat": len(disturbed_flat),
        "disturbed_false_alarms": sum(r.flagged for r in disturbed_flat),
        # Of those, the ones gone when the light steps and the people behind are taken out.
        "false_alarms_from_disturbance": caused,
        "holds_measured": len(holds),
        "hold_flat_share_error_mean": (round(float(np.mean([abs(a - b) for a, b in holds])), 3)
                                       if holds else None),
        "measure_ms_per_frame": round(1000 * spent / max(frames, 1), 2),
    }


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(x) for x in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="1-24")
    p.add_argument("--fps", type=float, default=15.0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    results: list[RepResult] = []
    holds: list[tuple[float, float]] = []
    spent, frames, caused = 0.0, 0, 0
    for seed in _seeds(args.seeds):
        r, h, s, n = run_session(seed, args.fps)
        results += r
        holds += h
        spent += s
        frames += n
        if r and r[0].disturbed:
            caused += len(caused_by_disturbance(r, run_session(seed, args.fps, undisturbed=True)[0]))
        if not args.json:
            for x in r:
                rep = x.found.rep if x.found is not None else None
                got = "-" if rep is None else f"{rep.back_lift_cm} cm from {rep.back_onset_deg}°"
                onset = x.truth.onset_deg and round(x.truth.onset_deg)
                print(f"seed {seed:3d} true {x.truth.lift_cm:4.2f} cm from {onset}° | found {got}"
                      f" {'ARCHED' if x.flagged else ''}", file=sys.stderr)
    out = summary(results, holds, spent, frames, caused)
    print(json.dumps(out) if args.json else "\n".join(f"{k:26s} {v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
