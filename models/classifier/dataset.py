"""Training data for the rep classifier: candidate movements from simulated sessions, labelled by the
simulator's ground truth.

Each session of tests/sim (with hanging sets at the bar in a third of them, movements that are no reps
between sets in all, members changing exercise between sets) runs through the analysis exactly as on
a station; every candidate rep the segmenter proposes is cut out by `edge.analysis.movement` and
labelled: the variant of the true rep it is (its start within MATCH_S and most of it overlapping), with
that rep's faults, or `not_a_rep` when it is none (a stretch, a fidget, half a rep, a rep counted twice).

    python -m models.classifier.dataset --seeds 10000-10399 -o /tmp/classifier/train.npz
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.analysis.analyzer import analyze_frames
from edge.analysis.classifier import CLASSES, SCORABLE_FAULTS
from edge.analysis.movement import Movement, features
from edge.analysis.reps import Rep
from tests.sim import random_session_spec, simulate

MATCH_S = 1.0


@dataclass(slots=True)
class Sample:
    x: np.ndarray  # (CHANNELS, STEPS)
    duration: np.ndarray  # (1,)
    label: int  # index into CLASSES
    faults: np.ndarray  # (len(SCORABLE_FAULTS),) 0/1; all 0 for not_a_rep
    rules_variant: str  # what the rules made of it
    rules_faults: tuple[str, ...]


class _Recorder:
    """A judge that takes every candidate as the rules made it and keeps what the classifier would see."""

    def __init__(self) -> None:
        self.seen: list[tuple[Rep, np.ndarray, np.ndarray]] = []

    def judge(self, rep: Rep, movement: Movement) -> Rep:
        x, duration = features(movement)
        self.seen.append((rep, x, duration))
        return rep


def session_kwargs(seed: int) -> dict[str, bool]:
    """How the sessions of a seed are drawn, for training and for evaluation alike."""
    return {"hanging": seed % 3 == 0, "non_reps": True, "floor_sets": True}


def session_samples(job: tuple[int, str]) -> list[Sample]:
    seed, generator = job
    if generator == "sim":
        sim = simulate(random_session_spec(seed, **session_kwargs(seed)))
        frames, header, truth_sets = sim.frames, sim.header, sim.truth.sets
    else:
        from tests.scenarios import generate

        sc = generate(seed)
        frames, header, truth_sets = sc.frames, sc.header, sc.truth.sets
    recorder = _Recorder()
    result = analyze_frames(frames, header, judge=recorder)
    judged = {(s.rep.start_t, s.rep.end_t): s for s in result.reps}
    truth = [(st.variant, r) for st in truth_sets for r in st.reps]
    used: set[int] = set()
    out = []
    for rep, x, duration in recorder.seen:
        best, best_d = None, MATCH_S
        for i, (_, r) in enumerate(truth):
            overlap = min(r.end_t, rep.end_t) - max(r.start_t, rep.start_t)
            shorter = min(r.end_t - r.start_t, rep.end_t - rep.start_t)
            d = abs(r.start_t - rep.start_t)
            if i not in used and d <= best_d and overlap > 0.5 * shorter:
                best, best_d = i, d
        faults = np.zeros(len(SCORABLE_FAULTS), np.float32)
        if best is None:
            label = CLASSES.index("not_a_rep")
        else:
            used.add(best)
            variant, r = truth[best]
            label = CLASSES.index(variant)
            faults[:] = [f in r.faults for f in SCORABLE_FAULTS]
        scored = judged.get((rep.start_t, rep.end_t))
        out.append(Sample(x, duration, label, faults, rep.variant, scored.faults if scored else ()))
    return out


def build(seeds: range, workers: int, generator: str = "sim") -> dict[str, np.ndarray]:
    with ProcessPoolExecutor(workers) as pool:
        parts = list(pool.map(session_samples, [(s, generator) for s in seeds], chunksize=4))
    samples = [s for part in parts for s in part]
    seed_of = np.concatenate([np.full(len(p), seed) for seed, p in zip(seeds, parts, strict=True)])
    return {
        "x": np.stack([s.x for s in samples]),
        "duration": np.stack([s.duration for s in samples]),
        "label": np.array([s.label for s in samples], np.int64),
        "faults": np.stack([s.faults for s in samples]),
        "rules_variant": np.array([CLASSES.index(s.rules_variant) for s in samples], np.int64),
        "rules_faults": np.array([[f in s.rules_faults for f in SCORABLE_FAULTS] for s in samples],
                                 np.float32),
        "seed": seed_of,
    }


def _seeds(text: str) -> range:
    a, _, b = text.partition("-")
    return range(int(a), int(b or a) + 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=_seeds, required=True)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--generator", choices=("sim", "scenarios"), default="sim",
                    help="scenarios: the independent generator, to check the model on, never to train it")
    args = ap.parse_args()
    data = build(args.seeds, args.workers, args.generator)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    counts = np.bincount(data["label"], minlength=len(CLASSES))
    print(f"{args.out}: {len(data['label'])} candidates from {len(args.seeds)} sessions: "
          + ", ".join(f"{c} {n}" for c, n in zip(CLASSES, counts, strict=True)))


if __name__ == "__main__":
    main()
