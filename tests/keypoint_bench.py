"""How well the pose stage holds on lying bodies, measured on the real clips of ../shared/footage/.

    python -m tests.keypoint_bench              # every way of running the pose model below, every clip
    python -m tests.keypoint_bench --ways whole-640 crops-640-upright

Per way: of the member's frames in the clips whose legs stay straight throughout (labels in
tests/footage_labels.toml: no clip there bends its knees), the share whose knee reads under 150° (the
`knees_bent` rule) and the median knee; how much the thigh and shin lengths (over the torso's) wobble
from frame to frame (coefficient of variation, mean over the leg-lift clips; the bones do not change
length, and in the side view they stay in the image plane); the reps found and false (tests/footage.py);
and the pose stage's milliseconds per frame, all ways measured in the same run. docs/keypoints.md has
today's figures.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.analysis.analyzer import analyze_frames
from edge.analysis.tracking import MatTracker
from edge.people import ANKLES, HIPS, KNEES, SHOULDERS, Person, PoseFrame
from edge.pixels.camera import OpenCVSource
from edge.pixels.model_files import BASELINE_MODEL, CROP_MODEL
from edge.pixels.pose import PoseBackend, load_backend
from edge.pixels.runner import CropRunner
from edge.trace import make_header
from tests.footage import Clip, load_labels, score

KP_CONF = 0.3
BENT_DEG = 150.0
Infer = Callable[[float, np.ndarray], list[Person]]


def _whole(model: PoseBackend) -> Callable[[], Infer]:
    return lambda: lambda t, image: model.infer(image)


def _crops(crop: PoseBackend, scan: PoseBackend, upright: bool) -> Callable[[], Infer]:
    return lambda: CropRunner(crop, scan, upright=upright).infer


def ways() -> dict[str, Callable[[], Infer]]:
    """Each way of running the pose model: a factory of a fresh per-clip `infer(t, image)`."""
    fp32 = load_backend("onnx", model_path=BASELINE_MODEL)
    int8 = load_backend("onnx", model_path=CROP_MODEL)
    return {
        "whole-640": _whole(fp32),  # the 640 model on every whole frame
        "crops-int8": _crops(int8, fp32, upright=False),  # the station's crops, as they were
        "crops-int8-upright": _crops(int8, fp32, upright=True),  # ... turned to stand a lying member up
        "crops-640-upright": _crops(fp32, fp32, upright=True),  # the 640 model on those turned crops
    }


@dataclass
class Measured:
    frames: int = 0
    seconds: float = 0.0
    knees: list[float] | None = None
    cv: list[float] | None = None
    found: int = 0
    labelled: int = 0
    false: int = 0


def _member_keypoints(frames: list[PoseFrame]) -> list[np.ndarray]:
    tracker = MatTracker()
    out = []
    for f in frames:
        mat = tracker.update(f)
        out += [m.keypoints for m in (*mat.earlier, mat) if m.keypoints is not None and m.observed]
    return out


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    u, v = a - b, c - b
    return float(np.degrees(np.arccos(np.clip(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)), -1, 1))))


def _legs(members: list[np.ndarray]) -> tuple[list[float], float]:
    """Knee angles of every confidently seen leg, and the mean wobble of thigh and shin lengths."""
    knees, thighs, shins = [], [], []
    for k in members:
        ok = k[:, 2] >= KP_CONF
        if not ok[list(SHOULDERS + HIPS)].any():
            continue
        torso = np.linalg.norm(k[list(SHOULDERS), :2].mean(0) - k[list(HIPS), :2].mean(0))
        for h, kn, a in zip(HIPS, KNEES, ANKLES, strict=True):
            if ok[h] and ok[kn] and ok[a] and torso > 1:
                knees.append(_angle(k[h, :2], k[kn, :2], k[a, :2]))
                thighs.append(np.linalg.norm(k[kn, :2] - k[h, :2]) / torso)
                shins.append(np.linalg.norm(k[a, :2] - k[kn, :2]) / torso)
    cv = [float(np.std(x) / np.mean(x)) for x in (thighs, shins) if len(x) > 5]
    return knees, float(np.mean(cv)) if cv else float("nan")


def measure(clips: list[Clip], way: Callable[[], Infer]) -> Measured:
    m = Measured(knees=[], cv=[])
    for clip in clips:
        infer = way()
        source = OpenCVSource(clip.path)
        frames: list[PoseFrame] = []
        with source:
            for t, image in source:
                t0 = time.perf_counter()
                people = infer(t, image)
                m.seconds += time.perf_counter() - t0
                frames.append(PoseFrame(t, tuple(people)))
        m.frames += len(frames)
        w, h = source.size
        result = score(clip, analyze_frames(frames, make_header(fps=source.fps, width=w, height=h))
                       .to_json()["reps"])
        m.found += len(result.matched)
        m.labelled += len(clip.reps)
        m.false += len(result.false)
        if clip.reps and clip.reps[0].variant != "heel_tap" and clip.reps[0].variant != "hanging":
            knees, cv = _legs(_member_keypoints(frames))
            m.cv.append(cv)
            if all(r.faults.get("knees_bent") is False for r in clip.reps):
                m.knees += knees
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ways", nargs="*", help="only these ways (default: all)")
    args = parser.parse_args()
    clips = [c for c in load_labels() if c.path.exists()]
    chosen = {k: v for k, v in ways().items() if not args.ways or k in args.ways}
    print(f"{'way':<20} {'knee<150':>8} {'knee med':>8} {'bone cv':>7} {'reps':>7} {'false':>5} "
          f"{'ms/frame':>8}")
    for name, way in chosen.items():
        m = measure(clips, way)
        knees = np.array(m.knees)
        print(f"{name:<20} {np.mean(knees < BENT_DEG):>8.2f} {np.median(knees):>8.0f} "
              f"{np.nanmean(m.cv):>7.2f} {m.found:>3}/{m.labelled:<3} {m.false:>5} "
              f"{1000 * m.seconds / m.frames:>8.1f}")


if __name__ == "__main__":
    main()
