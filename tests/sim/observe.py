"""Observation model: what a pose model makes of the true keypoints (noise, confidence, misses)."""

from __future__ import annotations

import numpy as np

from edge.people import KP, Person, PoseFrame
from tests.sim.spec import NoiseSpec

_LEFT = [i for i, n in enumerate(KP) if n.startswith("left_")]
_RIGHT = [i for i, n in enumerate(KP) if n.startswith("right_")]
MIN_VISIBLE_KEYPOINTS = 6


def near_left(world: np.ndarray) -> np.ndarray:
    """(N,) True where the person's left side is nearer the camera (smaller depth Y) than the right."""
    return world[:, KP["left_hip"], 1] + world[:, KP["left_shoulder"], 1] < \
        world[:, KP["right_hip"], 1] + world[:, KP["right_shoulder"], 1]


def observe_person(rng: np.random.Generator, px: np.ndarray, near_is_left: np.ndarray, noise: NoiseSpec,
                   width: int, height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy keypoints (N, 17, 3), person score (N,) and bbox (N, 4) for one person over N frames.

    Far-side joints are half hidden behind the body: the model is less sure (conf 0.2–0.6) and less
    precise (twice the jitter); near-side joints and the nose in profile get 0.7–0.98.
    """
    n = px.shape[0]
    scale = width / 1280
    near_base = rng.uniform(0.7, 0.98, size=17)
    far_base = rng.uniform(0.2, 0.6, size=17)
    far = np.zeros((n, 17), dtype=bool)
    far[:, _LEFT] = ~near_is_left[:, None]
    far[:, _RIGHT] = near_is_left[:, None]
    base = np.where(far, far_base[None, :], near_base[None, :])
    conf = np.clip(base + rng.normal(0, 0.05, size=(n, 17)), 0.05, 0.99)
    sigma = noise.jitter_px * np.where(far, 2.0, 1.0)
    xy = px + rng.normal(0, 1, size=(n, 17, 2)) * sigma[..., None]
    outlier = rng.random((n, 17)) < noise.outlier_rate
    xy[outlier] += rng.normal(0, 30 * scale, size=(int(outlier.sum()), 2))
    conf[outlier] = np.minimum(conf[outlier], rng.uniform(0.3, 0.6, size=int(outlier.sum())))
    # Outside the frame the model still emits a point, clamped to the border, with almost no confidence.
    inside = (px[..., 0] >= 0) & (px[..., 0] < width) & (px[..., 1] >= 0) & (px[..., 1] < height)
    conf[~inside] = rng.uniform(0.01, 0.1, size=int((~inside).sum()))
    xy[..., 0] = np.clip(xy[..., 0], 0, width - 1)
    xy[..., 1] = np.clip(xy[..., 1], 0, height - 1)
    kps = np.concatenate([xy, conf[..., None]], axis=2)

    # Extent of the confidently seen points; a person seen only faintly falls back to all points.
    seen = conf > 0.3
    seen[~seen.any(axis=1)] = True
    big = np.where(seen[..., None], xy, np.nan)
    lo, hi = np.nanmin(big, axis=1), np.nanmax(big, axis=1)
    size = hi - lo
    margin = 0.08 * size + 5 * scale
    bbox = np.concatenate([lo - margin, hi + margin], axis=1)
    bbox[:, [0, 2]] = np.clip(bbox[:, [0, 2]], 0, width - 1)
    bbox[:, [1, 3]] = np.clip(bbox[:, [1, 3]], 0, height - 1)
    top = np.sort(conf, axis=1)[:, -10:].mean(axis=1)
    score = np.clip(0.35 + 0.6 * top + rng.normal(0, 0.03, size=n), 0.05, 0.99)
    return kps, score, bbox


def visible(px: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N,) True where enough keypoints fall inside the image for a detector to fire."""
    inside = (px[..., 0] >= 0) & (px[..., 0] < width) & (px[..., 1] >= 0) & (px[..., 1] < height)
    return inside.sum(axis=1) >= MIN_VISIBLE_KEYPOINTS


def bursts(rng: np.random.Generator, n: int, rate: float, mean_len: float) -> np.ndarray:
    """(n,) True inside bursts that start with probability `rate` per frame."""
    out = np.zeros(n, dtype=bool)
    for s in np.flatnonzero(rng.random(n) < rate):
        out[s:s + int(rng.geometric(1.0 / mean_len))] = True
    return out


def make_person(kps: np.ndarray, score: float, bbox: np.ndarray) -> Person:
    return Person(score=float(score), bbox=bbox.astype(np.float32), keypoints=kps.astype(np.float32))


def exchange_sides(frames: list[PoseFrame], rate: float, seed: int) -> list[PoseFrame]:
    """`frames` with every person's left and right exchanged now and then, as real pose models do, most
    often in the side view: on a share `rate` of frames an exchange starts and lasts 1–3 frames."""
    rng = np.random.default_rng(seed)
    exchanged = np.arange(len(KP))
    exchanged[_LEFT], exchanged[_RIGHT] = _RIGHT, _LEFT
    out = list(frames)
    i = 0
    while i < len(out):
        if rng.random() < rate:
            end = min(len(out), i + int(rng.integers(1, 4)))
            for j in range(i, end):
                f = out[j]
                out[j] = PoseFrame(f.t, tuple(Person(p.score, p.bbox, p.keypoints[exchanged])
                                              for p in f.people))
            i = end
        i += 1
    return out
