"""Measure pose-model candidates on real frames of the sports2d clip against the 640 fp32 full-frame baseline.

    python models/measure_pose.py [--models build/pose-export] [--stride 5] [--rounds 3]

For every sampled frame i (i % stride == stride // 2, never a calibration frame of export_pose.py) each
candidate runs either on the full frame or on crops. Crops come from the baseline's boxes on frame i-1,
as a tracker would have them one frame late. Reported per candidate: median ms per call and per frame
(onnxruntime, 2 threads, after warm-up, fastest of --rounds runs with the candidates taking turns,
letterbox and decode included), how many baseline people it missed, and keypoint error against the
baseline in units of torso length. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.people import Person, iou  # noqa: E402
from edge.pixels import pose_check  # noqa: E402
from edge.pixels.pose import OnnxPoseBackend, Roi, crop_around, expand_to_aspect  # noqa: E402

FOOTAGE = ROOT / "models" / "footage" / "demo.mp4"
BASELINE = "yolo11n-pose-640.onnx"
PERSON_SCORE = pose_check.PERSON_SCORE


@dataclass
class Candidate:
    name: str
    backend: OnnxPoseBackend
    mode: str  # "full" frame, or "crop" around each person


@dataclass
class Result:
    name: str
    ms_call: list[float] = field(default_factory=list)
    ms_frame: list[float] = field(default_factory=list)
    errors: list[float] = field(default_factory=list)
    missed: int = 0


def compare(base: list[Person], found: list[Person], res: Result) -> None:
    missed, errors = pose_check.compare(base, found)
    res.missed += missed
    res.errors.extend(errors)


def read_pairs(stride: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(previous frame, frame) for every sampled frame."""
    if not FOOTAGE.is_file():
        sys.exit(f"{FOOTAGE} missing: run `bash models/fetch_footage.sh` first")
    cap = cv2.VideoCapture(str(FOOTAGE))
    pairs, prev, i = [], None, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if i % stride == stride // 2 and prev is not None:
            pairs.append((prev, frame))
        prev, i = frame, i + 1
    cap.release()
    return pairs


def plan(backend: OnnxPoseBackend, mode: str, frame: np.ndarray, seeds: list[Person]) -> list[Roi | None]:
    """The calls a candidate makes on one frame: the full frame, or one crop per person seen a frame ago."""
    if mode == "full":
        return [None]
    aspect = backend.input_size[0] / backend.input_size[1]
    return [expand_to_aspect(crop_around(p.bbox, frame.shape), aspect, frame.shape) for p in seeds]


def accuracy(cand: Candidate, pairs: list[tuple[np.ndarray, np.ndarray]], base_prev: list[list[Person]],
             base_now: list[list[Person]]) -> Result:
    res = Result(cand.name)
    for (_, frame), seeds, now_people in zip(pairs, base_prev, base_now, strict=True):
        found = []
        for roi, seed in zip(plan(cand.backend, cand.mode, frame, seeds), seeds, strict=False):
            people = cand.backend.infer(frame, roi)
            if roi is None:
                found = people
            elif people:
                # A crop shows one person in full; others in it are cut off, and their own crop has them.
                found.append(max(people, key=lambda q: iou(q.bbox, seed.bbox)))
        compare(now_people, found, res)
    return res


def timing(cands: list[Candidate], results: list[Result], pairs: list[tuple[np.ndarray, np.ndarray]],
           base_prev: list[list[Person]], rounds: int) -> None:
    """Fill ms_call and ms_frame with the fastest of `rounds` runs of every call.

    Candidates take turns call by call, and only the fastest run counts, because other work on a
    shared machine only ever adds time and would favour whichever candidate ran in a quiet spell.
    """
    frames = [frame for _, frame in pairs]
    calls = [[plan(c.backend, c.mode, frame, seeds) for frame, seeds in zip(frames, base_prev, strict=True)]
             for c in cands]
    for c in cands:
        for _ in range(3):  # warm-up: first runs allocate and tune
            c.backend.infer(frames[0])
    best = [[[np.inf] * len(rois) for rois in per_frame] for per_frame in calls]
    for _ in range(rounds):
        for f in range(len(pairs)):
            for k, c in enumerate(cands):
                for j, roi in enumerate(calls[k][f]):
                    t0 = time.perf_counter()
                    c.backend.infer(frames[f], roi)
                    best[k][f][j] = min(best[k][f][j], (time.perf_counter() - t0) * 1e3)
    for k, res in enumerate(results):
        res.ms_call = [ms for frame in best[k] for ms in frame]
        res.ms_frame = [sum(frame) for frame in best[k]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=ROOT / "build" / "pose-export",
                    help="folder with the yolo11n-pose-*.onnx candidates (export_pose.py writes them)")
    ap.add_argument("--stride", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    pairs = read_pairs(args.stride)
    base = OnnxPoseBackend(args.models / BASELINE, threads=2)
    # Crops are seeded by everything the baseline detected one frame earlier, as a tracker would keep
    # a person who dipped below PERSON_SCORE for a frame; only confident people are scored.
    base_prev = [base.infer(prev) for prev, _ in pairs]
    base_now = [[p for p in base.infer(frame) if p.score > PERSON_SCORE] for _, frame in pairs]
    n_people = sum(len(p) for p in base_now)
    print(f"{len(pairs)} frames, {n_people} baseline people (640 fp32 full frame, score > {PERSON_SCORE})\n")

    cands = []
    for path in sorted(args.models.glob("yolo11n-pose-*.onnx"), key=lambda p: (len(p.stem), p.stem)):
        backend = OnnxPoseBackend(path, threads=2)
        size = path.stem.removeprefix("yolo11n-pose-")
        cands += [Candidate(f"{size} full frame", backend, "full"),
                  Candidate(f"{size} person crops", backend, "crop")]
    results = [accuracy(c, pairs, base_prev, base_now) for c in cands]
    timing(cands, results, pairs, base_prev, args.rounds)

    print("| candidate | ms/call (median) | ms/frame (median) | speed-up vs 640 full | missed people "
          "| kp error mean (torso) | kp error median (torso) |")
    print("|---|---|---|---|---|---|---|")
    ref = float(np.median(results[[r.name for r in results].index("640 full frame")].ms_frame))
    for r in results:
        per_frame = float(np.median(r.ms_frame))
        err = np.asarray(r.errors) if r.errors else np.asarray([np.nan])
        print(f"| {r.name} | {np.median(r.ms_call):.1f} | {per_frame:.1f} | {ref / per_frame:.1f}× "
              f"| {r.missed}/{n_people} | {np.mean(err):.1%} | {np.median(err):.1%} |")


if __name__ == "__main__":
    main()
