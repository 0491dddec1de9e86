"""One candidate movement as the rep classifier sees it: the member's keypoints and joint angles over
the movement, normalised and resampled to a fixed length.

The analyzer keeps the member's recent frames (`MovementHistory`); when the segmenter proposes a rep,
`MovementHistory.window` cuts out its span (with a margin, but never past the present: a live station
judges a rep the moment it ends) and `features` turns it into the classifier's input. The same code
makes the training data (models/classifier/), so what the model learnt from is what it is given.

Normalised so that neither the camera nor the member matters: keypoints relative to the median hip
centre, in units of the median torso length, turned so the floor line is horizontal, up is +y and the
feet are towards +x (whichever side of the image the head is on).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.analysis.kinematics import BodyAngles
from edge.people import HIPS, KP, SHOULDERS

# Version of the input layout below; a model file names the one it was trained on.
FEATURES_VERSION = 1
STEPS = 48  # samples per movement after resampling
# The keypoints given to the model: shoulders, elbows, wrists, hips, knees, ankles (left, right).
BODY = tuple(KP[f"{side}_{joint}"] for joint in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
             for side in ("left", "right"))
# Per step: x and y of each BODY keypoint, its confidence, then leg elevation (×2), knee angle (×2),
# trunk elevation, the hanging body's swing, and the posture (lying, hanging).
CHANNELS = 3 * len(BODY) + 8
_MIN_CONF = 0.15
# Margin kept before and after a movement's span: the run-up and the settling tell a rep from a stretch.
_MARGIN_SHARE, _MARGIN_MIN_S, _MARGIN_MAX_S = 0.25, 0.3, 1.0
HISTORY_S = 40.0  # longer than any rep with its margins (RepConfig.max_rep_s is 25 s)


@dataclass(frozen=True, slots=True)
class Moment:
    """One frame of the member: smoothed keypoints (None: not seen) and the angles measured on them."""

    t: float
    keypoints: np.ndarray | None  # (17, 3)
    angles: BodyAngles | None


@dataclass(frozen=True, slots=True)
class Movement:
    """A candidate movement: the frames from its margin before to its margin after (or now)."""

    start_t: float
    end_t: float
    moments: tuple[Moment, ...]
    floor_angle: float  # radians, the floor line's direction in the image
    feet_sign: float  # +1 when the feet are towards image-right of the hips


class MovementHistory:
    """The member's recent frames, for cutting out a candidate movement."""

    def __init__(self) -> None:
        self._moments: deque[Moment] = deque()

    def add(self, moment: Moment) -> None:
        self._moments.append(moment)
        while self._moments and moment.t - self._moments[0].t > HISTORY_S:
            self._moments.popleft()

    def clear(self) -> None:
        self._moments.clear()

    def window(self, start_t: float, end_t: float, floor_angle: float, feet_sign: float) -> Movement:
        margin = min(_MARGIN_MAX_S, max(_MARGIN_MIN_S, _MARGIN_SHARE * (end_t - start_t)))
        lo, hi = start_t - margin, end_t + margin
        moments = tuple(m for m in self._moments if lo <= m.t <= hi)
        return Movement(start_t, end_t, moments, floor_angle, feet_sign or 1.0)


def _resample(t: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Each column of values (n, k) linearly interpolated onto grid where it is finite; 0 where a column
    has nothing."""
    out = np.zeros((len(grid), values.shape[1]), dtype=np.float32)
    for j in range(values.shape[1]):
        ok = np.isfinite(values[:, j])
        if ok.any():
            out[:, j] = np.interp(grid, t[ok], values[ok, j])
    return out


def features(movement: Movement) -> tuple[np.ndarray, np.ndarray]:
    """(CHANNELS, STEPS) float32 resampled channels and the (1,) log-duration of the movement's span."""
    duration = np.array([math.log(max(movement.end_t - movement.start_t, 0.05))], dtype=np.float32)
    moments = movement.moments
    if not moments:
        return np.zeros((CHANNELS, STEPS), dtype=np.float32), duration
    t = np.array([m.t for m in moments])
    grid = np.linspace(t[0], t[-1], STEPS) if t[-1] > t[0] else np.full(STEPS, t[0])

    xy = np.full((len(moments), len(BODY), 2), np.nan)
    conf = np.zeros((len(moments), len(BODY)))
    for i, m in enumerate(moments):
        if m.keypoints is not None:
            k = m.keypoints[list(BODY)]
            seen = k[:, 2] >= _MIN_CONF
            xy[i, seen] = k[seen, :2]
            conf[i] = np.where(seen, k[:, 2], 0.0)
    hip = _mid_track(moments, HIPS)
    shoulder = _mid_track(moments, SHOULDERS)
    torso = np.hypot(*(hip - shoulder).T)
    origin = np.nanmedian(hip, axis=0) if np.isfinite(hip).any() else np.zeros(2)
    scale = float(np.nanmedian(torso)) if np.isfinite(torso).any() else 1.0
    c, s = math.cos(movement.floor_angle), math.sin(movement.floor_angle)
    rel = (xy - origin) / max(scale, 1e-6)
    # Along the floor (towards the feet) and up off it (image y points down).
    along = (rel[..., 0] * c + rel[..., 1] * s) * movement.feet_sign
    up = rel[..., 0] * s - rel[..., 1] * c
    points = np.stack([along, up], axis=-1).reshape(len(moments), -1)

    angles = np.full((len(moments), 8), np.nan)
    for i, m in enumerate(moments):
        a = m.angles
        if a is None:
            continue
        angles[i, 0:2] = a.leg_elevation / 90.0
        angles[i, 2:4] = a.knee_angle / 180.0
        angles[i, 4] = a.trunk_elevation / 90.0
        angles[i, 5] = a.swing_deg / 45.0
        angles[i, 6] = float(a.posture == "lying")
        angles[i, 7] = float(a.posture == "hanging")
    channels = np.concatenate([_resample(t, points, grid), _resample(t, conf, grid),
                               _resample(t, angles, grid)], axis=1)
    return np.ascontiguousarray(np.nan_to_num(channels.T, nan=0.0).astype(np.float32)), duration


def _mid_track(moments: tuple[Moment, ...], pair: tuple[int, int]) -> np.ndarray:
    """(n, 2) mid-point of a keypoint pair per frame (either one when the other is unsure); NaN if neither."""
    out = np.full((len(moments), 2), np.nan)
    for i, m in enumerate(moments):
        if m.keypoints is None:
            continue
        ok = [j for j in pair if m.keypoints[j, 2] >= _MIN_CONF]
        if ok:
            out[i] = m.keypoints[ok, :2].mean(axis=0)
    return out
