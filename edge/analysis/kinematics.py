"""Joint angles of the person on the mat, in the side view (SPEC.md "Measurements and faults").

Leg elevation is the angle of the hip→ankle line above the floor line: 0° on the floor, 90° vertical,
more than 90° past vertical towards the head. The floor line comes from the station's calibration when
it has one; otherwise it is estimated from the body itself while it lies flat (shoulders, hips and
ankles then lie along the floor), which also absorbs a slightly tilted camera.

Hanging from a bar, leg elevation is measured from the hanging vertical: the line the body hangs along
from the hands on the bar through the hips, which is the true vertical while the body hangs still. 0° legs
hanging straight down, 90° level with the hips, whichever way the member faces. Measured from that line
rather than from the floor's normal, a body swinging under the bar does not swing the count: the legs
swing with it. The swing itself is the angle of that line off the floor's normal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from edge.analysis.config import KinematicsConfig
from edge.analysis.tracking import MatFrame
from edge.people import ANKLES, HIPS, KNEES, SHOULDERS, WRISTS

_FLOOR_SAMPLES = 300
# How the member is placed for exercise: on their back on the mat, or hanging from a bar. None: neither
# (sitting, standing, on all fours): no rep is possible.
Posture = Literal["lying", "hanging"]


@dataclass(frozen=True, slots=True)
class BodyAngles:
    """Angles of one frame. Index 0 is the left leg, 1 the right; NaN where a joint was not seen."""

    t: float
    posture: Posture | None
    leg_elevation: np.ndarray  # (2,) degrees
    knee_angle: np.ndarray  # (2,) degrees, 180 = straight
    leg_conf: np.ndarray  # (2,) confidence of each leg's measurement
    # Degrees the hip→shoulder line is raised above where it lies when this person lies flat
    # (0 flat, ~90 sitting): shoulders and hips sit at different heights off the mat.
    trunk_elevation: float
    torso_px: float  # shoulder-mid to hip-mid distance in pixels, the body's scale in the image
    # Hanging: degrees the hands→hips line leans off the hanging vertical, signed (towards image-right
    # positive); NaN when not hanging.
    swing_deg: float = math.nan

    @property
    def lying(self) -> bool:
        return self.posture == "lying"


def _angle_at(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Angle ABC in degrees."""
    u, v = a - b, c - b
    nu, nv = float(np.hypot(*u)), float(np.hypot(*v))
    if nu < 1e-6 or nv < 1e-6:
        return math.nan
    cos = float(np.dot(u, v)) / (nu * nv)
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


class _SettlingMedian:
    """Median of the first `n` samples offered, then fixed: the camera does not move, so a settled
    estimate is kept rather than let drift with every half-raised leg that passes the flatness test.
    The median is updated when a sample arrives, not read off the samples every frame."""

    def __init__(self, n: int, default: float) -> None:
        self._samples: list[float] = []
        self._n = n
        self.value = default

    def add(self, sample: float) -> None:
        if len(self._samples) < self._n:
            self._samples.append(sample)
            self.value = float(np.median(self._samples))


class FloorLine:
    """The floor's direction in the image, fixed by calibration or estimated from the lying body."""

    def __init__(self, calibrated: tuple[tuple[float, float], tuple[float, float]] | None = None) -> None:
        self._fixed: float | None = None
        if calibrated is not None:
            (x1, y1), (x2, y2) = calibrated
            if x2 < x1:
                x1, y1, x2, y2 = x2, y2, x1, y1
            self._fixed = math.atan2(y2 - y1, x2 - x1)
        self._estimate = _SettlingMedian(_FLOOR_SAMPLES, 0.0)

    @property
    def angle(self) -> float:
        """Radians of the floor direction (pointing to image-right), 0 = image horizontal."""
        return self._fixed if self._fixed is not None else self._estimate.value

    def observe_flat_body(self, head_end: np.ndarray, feet_end: np.ndarray) -> None:
        if self._fixed is not None:
            return
        d = feet_end - head_end
        if d[0] < 0:
            d = -d
        self._estimate.add(math.atan2(d[1], d[0]))


class Kinematics:
    """Turns the tracked person's keypoints into joint angles, frame by frame."""

    def __init__(self, config: KinematicsConfig | None = None,
                 floor_line: tuple[tuple[float, float], tuple[float, float]] | None = None) -> None:
        self.config = config or KinematicsConfig()
        self.floor = FloorLine(floor_line)
        # +1 when the feet are towards image-right of the hips; kept between frames because it cannot
        # be read while the trunk is upright.
        self.feet_sign = 0.0
        self._flat_trunk = _SettlingMedian(_FLOOR_SAMPLES, 0.0)

    def _mid(self, kps: np.ndarray, pair: tuple[int, int]) -> np.ndarray | None:
        ok = [i for i in pair if kps[i, 2] >= self.config.min_keypoint_conf]
        if not ok:
            return None
        w = kps[ok, 2]
        return (kps[ok, :2] * w[:, None]).sum(axis=0) / w.sum()

    def update(self, frame: MatFrame) -> BodyAngles | None:
        """Angles for this frame, or None when the member was not seen in it.

        Keypoints the tracker held through a dropout are not measured: a held pose followed by a jump
        would read as a pause and a burst of speed, so a gap is left for the rep stage to bridge.
        """
        kps = frame.keypoints
        if kps is None or not frame.observed:
            return None
        shoulder, hip = self._mid(kps, SHOULDERS), self._mid(kps, HIPS)
        if shoulder is None or hip is None:
            return None
        ankle_mid = self._mid(kps, ANKLES)
        min_conf = self.config.min_keypoint_conf

        phi = self.floor.angle
        along = np.array([math.cos(phi), math.sin(phi)])
        trunk = hip - shoulder
        if abs(float(trunk @ along)) > 0.5 * float(np.hypot(*trunk)):
            self.feet_sign = 1.0 if float(trunk @ along) > 0 else -1.0
        feet_dir = along * (self.feet_sign or 1.0)
        # Image y points down, so "up" off the floor is the floor direction turned towards negative y.
        up = np.array([math.sin(phi), -math.cos(phi)])

        trunk_up = shoulder - hip
        trunk_elev = math.degrees(math.atan2(float(trunk_up @ up), float(trunk_up @ -feet_dir)))
        posture: Posture | None = frame.state if frame.state in ("lying", "hanging") else None
        if posture == "hanging":
            return self._hanging(frame.t, kps, shoulder, hip, up, trunk)
        if posture == "lying" and ankle_mid is not None:
            ankles = [kps[a, :2] for a in ANKLES if kps[a, 2] >= min_conf]
            flat = 180.0 - self.config.flat_body_tolerance_deg
            if all(_angle_at(shoulder, hip, a) >= flat for a in ankles):
                self.floor.observe_flat_body(shoulder, ankle_mid)
                self._flat_trunk.add(trunk_elev)

        def above_floor(hip_pt: np.ndarray, ankle: np.ndarray) -> float:
            v = ankle - hip_pt
            return math.degrees(math.atan2(float(v @ up), float(v @ feet_dir)))

        elevation, knee, conf = self._legs(kps, hip, above_floor)
        return BodyAngles(
            t=frame.t,
            posture=posture,
            leg_elevation=elevation,
            knee_angle=knee,
            leg_conf=conf,
            trunk_elevation=trunk_elev - self._flat_trunk.value,
            torso_px=float(np.hypot(*trunk)),
        )

    def _legs(self, kps: np.ndarray, hip: np.ndarray, elevation_of: Callable[[np.ndarray, np.ndarray], float]
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each leg's elevation (`elevation_of(hip, ankle)`), knee angle and the confidence of both; NaN
        and 0 where the ankle (or the knee) is not seen."""
        min_conf = self.config.min_keypoint_conf
        elevation = np.full(2, np.nan)
        knee = np.full(2, np.nan)
        conf = np.zeros(2)
        for side in (0, 1):
            h, k, a = HIPS[side], KNEES[side], ANKLES[side]
            # From the side both hips project almost onto one point, so the other hip stands in
            # for a far-side hip the model is unsure of.
            hip_pt = kps[h, :2] if kps[h, 2] >= min_conf else hip
            if kps[a, 2] < min_conf:
                continue
            elevation[side] = elevation_of(hip_pt, kps[a, :2])
            conf[side] = float(kps[a, 2])
            if kps[k, 2] >= min_conf:
                knee[side] = _angle_at(hip_pt, kps[k, :2], kps[a, :2])
                conf[side] = min(conf[side], float(kps[k, 2]))
        return elevation, knee, conf

    def _hanging(self, t: float, kps: np.ndarray, shoulder: np.ndarray, hip: np.ndarray, up: np.ndarray,
                 trunk: np.ndarray) -> BodyAngles:
        """Angles of a body hanging from a bar: elevations from the hands→hips line, unsigned (the
        legs rise in front of the body, and which side of the image that is does not matter). A hand
        seen below the shoulders has let go of the bar (the tracker says so only a moment later):
        no posture, so the arms coming down are never read as legs."""
        down = -up
        min_conf = self.config.min_keypoint_conf
        if any(kps[w, 2] >= min_conf and float((kps[w, :2] - shoulder) @ up) < 0 for w in WRISTS):
            unseen, torso = np.full(2, np.nan), float(np.hypot(*trunk))
            return BodyAngles(t=t, posture=None, leg_elevation=unseen, knee_angle=unseen,
                              leg_conf=np.zeros(2), trunk_elevation=math.nan, torso_px=torso)
        hand = self._mid(kps, WRISTS)
        pendulum = hip - (hand if hand is not None else shoulder)
        elevation, knee, conf = self._legs(
            kps, hip, lambda hip_pt, ankle: _angle_at(hip_pt + pendulum, hip_pt, ankle))
        # Signed lean off the vertical: positive when the hips are towards the floor direction's right.
        right = np.array([-up[1], up[0]])
        swing = math.degrees(math.atan2(float(pendulum @ right), float(pendulum @ down)))
        return BodyAngles(t=t, posture="hanging", leg_elevation=elevation, knee_angle=knee, leg_conf=conf,
                          trunk_elevation=math.nan, torso_px=float(np.hypot(*trunk)), swing_deg=swing)
