"""Smooth scalar motion profiles: one `Track` per joint-angle channel, built move by move.

A controlled human movement (lowering the legs while counting to four) runs at nearly constant angular
speed with short smooth speed-up and slow-down phases, so the basic move is a trapezoid in speed with
raised-cosine ramps, not a minimum-jerk curve over the whole move.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Fn = Callable[[np.ndarray], np.ndarray]


def ramp_unit(tau: np.ndarray, duration: float, r0: float, r1: float) -> np.ndarray:
    """Position 0→1 over `duration` s: cosine speed-up over r0 s, constant speed, cosine slow-down over r1 s.

    r0 or r1 = 0 starts or ends at full speed (used for a bounce or an overshoot that carries on).
    The peak speed is 1 / (duration - (r0 + r1) / 2) per second.
    """
    r0 = min(r0, duration / 2)
    r1 = min(r1, duration / 2)
    tau = np.clip(tau, 0.0, duration)
    v = 1.0 / (duration - (r0 + r1) / 2)
    out = v * (r0 / 2 + tau - r0)
    if r0 > 0:
        a = tau < r0
        out[a] = v * (tau[a] / 2 - r0 / (2 * math.pi) * np.sin(math.pi * tau[a] / r0))
    if r1 > 0:
        b = tau > duration - r1
        s = duration - tau[b]
        out[b] = 1.0 - v * (s / 2 - r1 / (2 * math.pi) * np.sin(math.pi * s / r1))
    return out


def move_duration(distance: float, peak_speed: float, r0: float, r1: float) -> float:
    """Duration of a ramped move that covers `distance` with the given peak speed."""
    return abs(distance) / peak_speed + (r0 + r1) / 2


@dataclass(frozen=True, slots=True)
class _Segment:
    t0: float
    t1: float
    fn: Fn  # absolute time → value
    end_value: float


class Track:
    """A piecewise scalar channel with a cursor: each call appends a segment that starts where the
    previous one ended, so the channel is continuous by construction."""

    def __init__(self, value: float, t: float = 0.0) -> None:
        self.t = t
        self.value = value
        self._start_value = value
        self._segments: list[_Segment] = []
        self._ends: list[float] = []

    def hold_until(self, t: float) -> None:
        # Holding is the default between segments; only the cursor moves.
        if t > self.t:
            self.t = t

    def move_to(self, value: float, duration: float, r0: float | None = None,
                r1: float | None = None) -> None:
        """Ramped move; ramps default to a full raised-cosine (smooth S) move."""
        if duration <= 0:
            self.value = value
            return
        r0 = duration / 2 if r0 is None else r0
        r1 = duration / 2 if r1 is None else r1
        t0, v0, dv = self.t, self.value, value - self.value
        self.add(duration, lambda t: v0 + dv * ramp_unit(t - t0, duration, r0, r1), value)

    def add(self, duration: float, fn: Fn, end_value: float) -> None:
        """Custom segment; fn gets absolute times and must end at end_value to keep continuity."""
        self._segments.append(_Segment(self.t, self.t + duration, fn, end_value))
        self._ends.append(self.t + duration)
        self.t += duration
        self.value = end_value

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Evaluate at sorted times."""
        if t.size == 0:
            return np.empty(0)
        # Only the segments that overlap [t[0], t[-1]] matter; the one before sets the held value.
        k = bisect.bisect_right(self._ends, float(t[0]))
        out = np.full(t.shape, self._segments[k - 1].end_value if k else self._start_value, dtype=float)
        last = float(t[-1])
        for seg in self._segments[k:]:
            if seg.t0 > last:
                break
            i0, i1 = np.searchsorted(t, [seg.t0, seg.t1])
            if i1 > i0:
                out[i0:i1] = seg.fn(t[i0:i1])
            out[i1:] = seg.end_value  # held until a later segment overwrites it
        return out


def smooth_noise(rng: np.random.Generator, freqs: tuple[float, float], n: int = 4) -> Fn:
    """Zero-mean, unit-ish amplitude sum of sinusoids: deterministic tremor/sway, smooth at any sampling."""
    f = rng.uniform(*freqs, size=n)
    ph = rng.uniform(0, 2 * math.pi, size=n)
    w = rng.uniform(0.5, 1.0, size=n)
    w /= w.sum()

    def fn(t: np.ndarray) -> np.ndarray:
        return (w[:, None] * np.sin(2 * math.pi * f[:, None] * t[None, :] + ph[:, None])).sum(axis=0)

    return fn
