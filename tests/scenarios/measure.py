"""Ground truth of a scenario, measured on the noise-free joint angles.

Event times follow one rule, the way a person marking up the video frame by frame would place them:
the legs *leave* an extreme when their hip→ankle elevation is DEPART_DEG away from it, and *arrive* at
one when they come within DEPART_DEG of it. (A minimum-jerk move creeps out of rest: it takes a tenth
of a 4 s lowering to cover its first degree, so "the instant the move begins" would be a moment no one,
and no camera, can see.)

- top-start rep (and heel tap): starts when the legs leave the top; ends at the first arrival back at
  the top it settles at (an overshoot's swings come after the end); descent = leaving the top →
  arriving at the lowest point; ascent = leaving the lowest point → end.
- floor-start rep: starts when the legs leave the mat; ends when they arrive back on it; ascent =
  leaving the mat → arriving at the top; descent = leaving the top → arriving on the mat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEPART_DEG = 1.0
TRUTH_HZ = 500.0


@dataclass(frozen=True, slots=True)
class TopEvents:
    start: float
    bottom: float  # arrival at the lowest point
    leave_bottom: float
    end: float
    top: float  # elevation left at the start
    low: float
    settled: float  # elevation the raise settles at


@dataclass(frozen=True, slots=True)
class FloorEvents:
    start: float  # leaves the mat
    top_arrive: float
    leave_top: float
    end: float  # back on the mat
    rest: float  # elevation on the mat before the raise
    top: float  # elevation the raise settles at
    peak: float  # highest elevation (an overshoot's peak)


def _first(mask: np.ndarray, default: int) -> int:
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else default


def _last(mask: np.ndarray, default: int) -> int:
    idx = np.flatnonzero(mask)
    return int(idx[-1]) if idx.size else default


def top_rep_events(t: np.ndarray, e: np.ndarray, t0: float, t1: float) -> TopEvents:
    """Events of a rep that starts at the top, from its moves' window [t0, t1] on a dense curve."""
    i0, i1 = int(np.searchsorted(t, t0)), int(np.searchsorted(t, t1, side="right"))
    ts, seg = t[i0:i1], e[i0:i1]
    top, settled = float(seg[0]), float(seg[-1])
    k_low = int(np.argmin(seg))
    low = float(seg[k_low])
    start = _first(seg[:k_low + 1] <= top - DEPART_DEG, 0)
    bottom = _first(seg <= low + DEPART_DEG, k_low)
    end = k_low + _first(seg[k_low:] >= settled - DEPART_DEG, len(seg) - 1 - k_low)
    leave = bottom + _last(seg[bottom:end + 1] <= low + DEPART_DEG, 0)
    return TopEvents(float(ts[start]), float(ts[bottom]), float(ts[leave]), float(ts[end]), top, low, settled)


def floor_rep_events(t: np.ndarray, e: np.ndarray, t0: float, t1: float, t_top: float) -> FloorEvents:
    """Events of a rep from the mat; t_top: the raise (and any swings past the top) has ended."""
    i0, i1 = int(np.searchsorted(t, t0)), int(np.searchsorted(t, t1, side="right"))
    ts, seg = t[i0:i1], e[i0:i1]
    k_top = min(len(seg) - 1, int(np.searchsorted(ts, t_top)))
    rest, settled, after = float(seg[0]), float(seg[k_top]), float(seg[-1])
    start = _first(seg >= rest + DEPART_DEG, 0)
    arrive = _first(seg >= settled - DEPART_DEG, k_top)
    leave = _last(seg >= settled - DEPART_DEG, k_top)
    end = leave + _first(seg[leave:] <= after + DEPART_DEG, len(seg) - 1 - leave)
    return FloorEvents(float(ts[start]), float(ts[arrive]), float(ts[leave]), float(ts[end]), rest, settled,
                       float(seg.max()))


def peak_speed(t: np.ndarray, e: np.ndarray, a: float, b: float) -> float:
    """Fastest rise of e (units per second) between times a and b."""
    sel = (t >= a) & (t <= b)
    if sel.sum() < 3:
        return 0.0
    return float(np.gradient(e[sel], t[sel]).max())


def turnaround_speeds(t: np.ndarray, e: np.ndarray, at: float, window: float = 0.25) -> tuple[float, float]:
    """Mean speeds (°/s) into and out of a turning point over `window` seconds either side."""
    def value(x: float) -> float:
        return float(np.interp(x, t, e))
    v0, v1, v2 = value(at - window), value(at), value(at + window)
    return abs(v1 - v0) / window, abs(v2 - v1) / window
