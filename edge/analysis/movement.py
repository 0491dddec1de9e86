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

    @property
    def unseen_share(self) -> float:
        """Share of the movement's own span (its margins aside) the member's legs were not seen in:
        frames without keypoints, or with neither leg measured (out of the picture), or none at all in a
        gap of the stream."""
        inside = self._inside()
        if len(inside) < 2:
            return 1.0
        t = np.array([m.t for m in inside])
        seen = np.array([m.keypoints is not None and _legs_measured(m) for m in inside])
        dt = np.diff(t)
        step = float(np.median(dt)) if len(dt) else 0.0
        # A frame stands for the time to the next one, but a gap in the stream counts as unseen.
        covered = np.minimum(dt, 2 * step)[seen[:-1]].sum()
        return float(1.0 - covered / max(t[-1] - t[0], 1e-9))

    @property
    def leg_conf(self) -> float:
        """Median over the movement's own span of the better-seen leg's confidence, where a leg was
        measured (0 if never)."""
        conf = [float(np.max(m.angles.leg_conf[np.isfinite(m.angles.leg_elevation)]))
                for m in self._inside() if m.angles is not None and _legs_measured(m)]
        return float(np.median(conf)) if conf else 0.0

    def _inside(self) -> list[Moment]:
        """The frames of the movement's own span, its margins aside."""
        return [m for m in self.moments if self.start_t <= m.t <= self.end_t]


def _legs_measured(m: Moment) -> bool:
    return m.angles is not None and bool(np.isfinite(m.angles.leg_elevation).any())


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
    has nothing. Columns seen in every frame (the usual case) are interpolated together."""
    out = np.zeros((len(grid), values.shape[1]), dtype=np.float32)
    ok = np.isfinite(values)
    whole = ok.all(axis=0)
    if whole.any():
        # Linear interpolation of many columns at once: the bracketing samples and their weights.
        j = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(t) - 1)
        k = np.minimum(j + 1, len(t) - 1)
        span = t[k] - t[j]
        w = np.where(span > 0, (grid - t[j]) / np.where(span > 0, span, 1.0), 0.0)[:, None]
        cols = values[:, whole]
        out[:, whole] = cols[j] * (1 - w) + cols[k] * w
    for c in np.flatnonzero(~whole & ok.any(axis=0)):
        out[:, c] = np.interp(grid, t[ok[:, c]], values[ok[:, c], c])
    return out


def features(movement: Movement) -> tuple[np.ndarray, np.ndarray]:
    """(CHANNELS, STEPS) float32 resampled channels and the (1,) log-duration of the movement's span."""
    duration = np.array([math.log(max(movement.end_t - movement.start_t, 0.05))], dtype=np.float32)
    moments = movement.moments
    if not moments:
        return np.zeros((CHANNELS, STEPS), dtype=np.float32), duration
    t = np.array([m.t for m in moments])
    grid = np.linspace(t[0], t[-1], STEPS) if t[-1] > t[0] else np.full(STEPS, t[0])

    unseen = np.zeros((17, 3))
    kps = np.stack([unseen if m.keypoints is None else m.keypoints for m in moments]).astype(np.float64)
    seen = kps[:, :, 2] >= _MIN_CONF
    xy = np.where(seen[..., None], kps[..., :2], np.nan)
    hip, shoulder = _mid(xy, HIPS), _mid(xy, SHOULDERS)
    torso = np.hypot(*(hip - shoulder).T)
    origin = np.nanmedian(hip, axis=0) if np.isfinite(hip).any() else np.zeros(2)
    scale = float(np.nanmedian(torso)) if np.isfinite(torso).any() else 1.0
    c, s = math.cos(movement.floor_angle), math.sin(movement.floor_angle)
    rel = (xy[:, list(BODY)] - origin) / max(scale, 1e-6)
    # Along the floor (towards the feet) and up off it (image y points down).
    along = (rel[..., 0] * c + rel[..., 1] * s) * movement.feet_sign
    up = rel[..., 0] * s - rel[..., 1] * c
    points = np.stack([along, up], axis=-1).reshape(len(moments), -1)
    conf = np.where(seen[:, list(BODY)], kps[:, list(BODY), 2], 0.0)

    angles = np.full((len(moments), 8), np.nan)
    for i, m in enumerate(moments):
        a = m.angles
        if a is not None:
            angles[i] = (*(a.leg_elevation / 90.0), *(a.knee_angle / 180.0), a.trunk_elevation / 90.0,
                         a.swing_deg / 45.0, float(a.posture == "lying"), float(a.posture == "hanging"))
    channels = np.concatenate([_resample(t, points, grid), _resample(t, conf, grid),
                               _resample(t, angles, grid)], axis=1)
    return np.ascontiguousarray(np.nan_to_num(channels.T, nan=0.0).astype(np.float32)), duration


def _mid(xy: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    """(n, 2) mid-point of a keypoint pair per frame (either one when the other is unseen); NaN if neither."""
    a, b = xy[:, pair[0]], xy[:, pair[1]]
    return np.where(np.isnan(a), b, np.where(np.isnan(b), a, (a + b) / 2))
