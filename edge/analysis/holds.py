"""Hollow-body holds: shoulders lifted off the mat, legs held low and still, timed (not counted).

A hold is found while the posture is roughly there, then timed from when the legs and shoulders
settle into the position they are held at to when they leave it, so getting into and out of the hold
does not count. It is reported once it has lasted `hold_min_s`: brief crunches or a leg passing
through the band are not holds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from edge.analysis.config import SessionConfig
from edge.analysis.kinematics import BodyAngles

# A posture broken for less than this (a wobble, one bad frame) does not end the hold.
_BREAK_S = 0.6
# Leg speed is read over this span.
_SPEED_SPAN_S = 0.5
# Within this of the held leg elevation and shoulder lift, the member is in the hold.
_SETTLED_LEG_DEG = 1.5
_SETTLED_TRUNK_DEG = 1.0


@dataclass(frozen=True, slots=True)
class Hold:
    variant: str
    start_t: float
    end_t: float
    # Share of the hold with the lower back flat (edge/analysis/back.py); None when it could not be seen.
    flat_share: float | None = None

    @property
    def duration_s(self) -> float:
        return round(self.end_t - self.start_t, 2)


class HoldDetector:
    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self._recent: deque[tuple[float, float]] = deque()  # (t, leg elevation)
        self._start: float | None = None
        self._last_in: float | None = None
        self._samples: list[tuple[float, float, float]] = []  # (t, trunk lift, leg elevation) in the hold

    def _in_posture(self, a: BodyAngles) -> bool:
        cfg = self.config
        legs = a.leg_elevation[np.isfinite(a.leg_elevation)]
        if not a.lying or not len(legs):
            self._recent.clear()
            return False
        leg = float(legs.mean())
        self._recent.append((a.t, leg))
        while self._recent and a.t - self._recent[0][0] > _SPEED_SPAN_S:
            self._recent.popleft()
        t0, l0 = self._recent[0]
        speed = abs(leg - l0) / (a.t - t0) if a.t > t0 else 0.0
        return (a.trunk_elevation >= cfg.hold_trunk_min_deg
                and cfg.hold_leg_min_deg <= leg <= cfg.hold_leg_max_deg
                and speed <= cfg.hold_max_leg_speed_dps)

    def push(self, a: BodyAngles | None) -> Hold | None:
        """Feed one frame (None: the member was not seen); returns a hold when one has just ended."""
        if a is None:
            return None
        if self._in_posture(a):
            if self._start is None:
                self._start = a.t
            self._last_in = a.t
            self._samples.append((a.t, a.trunk_elevation, self._recent[-1][1]))
            return None
        if self._last_in is not None and a.t - self._last_in > _BREAK_S:
            return self.flush()
        return None

    def flush(self) -> Hold | None:
        start, end, samples = self._start, self._last_in, self._samples
        self._start = self._last_in = None
        self._samples = []
        if start is None or end is None or end - start < self.config.hold_min_s:
            return None
        arr = np.array(samples)
        trunk, leg = np.median(arr[:, 1]), np.median(arr[:, 2])
        settled = arr[(np.abs(arr[:, 1] - trunk) <= _SETTLED_TRUNK_DEG)
                      & (np.abs(arr[:, 2] - leg) <= _SETTLED_LEG_DEG), 0]
        if len(settled) >= 2:
            start, end = float(settled[0]), float(settled[-1])
        if end - start < self.config.hold_min_s:
            return None
        return Hold(variant="hollow_hold", start_t=round(start, 3), end_t=round(end, 3))
