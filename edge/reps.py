"""Rep segmentation: leg elevation over time → reps with their phases measured.

Each leg's elevation runs through a turning-point detector (a zig-zag with hysteresis, so keypoint
jitter never makes a turn). A rep is top → bottom → top, where both the lowering and the return cover
at least `min_amplitude_deg`; smaller moves are fidgeting, and a lowering that is not followed by a
return (putting the legs down to rest) is not a rep. A rep is reported as soon as the legs have come
back up and either held still, started down again, or stayed up for a few seconds, so the screen shows
it within a fraction of a second of the member finishing it.

This module measures; it does not judge. Which measurements make a fault is `edge.scoring`'s job.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Literal

import numpy as np

from edge.config import RepConfig
from edge.kinematics import BodyAngles

Moving = Literal["both", "left", "right"]
SIDES: tuple[Moving, Moving] = ("left", "right")

# How long the legs must hold still at the top, within how many degrees, for the rep to be over.
_SETTLE_S = 0.4
_SETTLE_RANGE_DEG = 3.0
# Longest wait at the top before a rep is reported anyway.
_TOP_WAIT_S = 3.0


@dataclass(frozen=True, slots=True)
class Rep:
    """One measured rep, before scoring. Times in seconds on the input's clock, angles in degrees."""

    start_t: float
    end_t: float
    moving: Moving
    variant: str
    descent_s: float
    ascent_s: float
    bottom_pause_s: float
    top_angle_deg: float
    bottom_angle_deg: float
    min_knee_angle_deg: float
    peak_return_speed_dps: float
    # Speeds into and out of the bottom turnaround (°/s): both high means a bounce.
    bottom_in_speed_dps: float
    bottom_out_speed_dps: float
    overshoot_deg: float
    # The back-lift evidence (edge/back.py), filled in by the analysis when frames were seen: the lift
    # over the member's flat back at the bottom (cm), and the leg elevation where it began. None: the
    # lower back could not be seen.
    back_lift_cm: float | None = None
    back_onset_deg: float | None = None


@dataclass(slots=True)
class _Turn:
    index: int  # absolute sample index
    value: float
    kind: Literal["peak", "trough"]


@dataclass(slots=True)
class _Pending:
    """A rep under way on one leg: it went down from p1 to the trough and is coming back up."""

    p1: _Turn
    trough: _Turn
    top: _Turn | None = None  # highest point since the trough


@dataclass(slots=True)
class _LegState:
    """Zig-zag turning points of one leg's elevation, and the rep under way on it."""

    turns: list[_Turn] = field(default_factory=list)
    rising: bool = True
    ext_value: float = float("nan")
    ext_index: int = -1
    pending: _Pending | None = None
    # The last three (index, elevation) seen: turning points are found on their median, so one wild
    # keypoint (worst with the knees drawn up, when hip and ankle are close) never makes a turn.
    recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=3))

    def reset(self) -> None:
        self.turns.clear()
        self.rising = True
        self.ext_value = float("nan")
        self.ext_index = -1
        self.pending = None
        self.recent.clear()

    def filtered(self, idx: int, value: float) -> tuple[int, float] | None:
        """Median of the last three samples, dated at the middle one (one sample late)."""
        self.recent.append((idx, value))
        if len(self.recent) < 3:
            return None
        return self.recent[1][0], sorted(v for _, v in self.recent)[1]


def _interp_nan(t: np.ndarray, s: np.ndarray) -> np.ndarray:
    ok = np.isfinite(s)
    if ok.all() or not ok.any():
        return s
    out = s.copy()
    out[~ok] = np.interp(t[~ok], t[ok], s[ok])
    return out


def local_slope(t: np.ndarray, s: np.ndarray, window_s: float) -> np.ndarray:
    """Speed (units per second) at each sample by least-squares line over ±window/2."""
    n = len(t)
    v = np.zeros(n)
    half = window_s / 2
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    for i in range(n):
        a, b = lo[i], hi[i]
        if b - a < 3:  # too few samples in the window at a low frame rate: widen to neighbours
            a, b = max(0, i - 1), min(n, i + 2)
        tt, ss = t[a:b], s[a:b]
        dt = tt - tt.mean()
        den = float(dt @ dt)
        v[i] = float(dt @ (ss - ss.mean())) / den if den > 0 else 0.0
    return v


def _crossing(t: np.ndarray, v: np.ndarray, i: int, j: int, thr: float) -> float:
    """Time between samples i and j (adjacent) at which v crosses thr, linearly interpolated."""
    if v[i] == v[j]:
        return float(t[i])
    f = (thr - v[i]) / (v[j] - v[i])
    return float(t[i] + np.clip(f, 0.0, 1.0) * (t[j] - t[i]))


def _motion_bounds(t: np.ndarray, s: np.ndarray, lo: int, hi: int, sign: float, span: float,
                   mid_mask: np.ndarray, start_zone: np.ndarray, end_zone: np.ndarray,
                   cfg: RepConfig) -> tuple[float, float]:
    """Start and end time of one monotonic move (sign -1 lowering, +1 raising) within [lo, hi].

    The move is bounded where its speed falls under a fraction of its typical speed (the median speed
    over the middle of its range), which finds the start of motion rather than the first few degrees.
    The search starts from the fastest point in the middle of the range, so a swing at the top (an
    overshoot settling) is never taken for the move itself. Speed is read over a window that grows
    with the move's length: a slow four-second lowering needs more samples than keypoint jitter to
    show where it starts, a quick tap needs its detail. A move only starts in `start_zone` (near the
    level it leaves) and ends in `end_zone`: a slow patch halfway is part of the move.
    """
    tt, ss = t[lo : hi + 1], s[lo : hi + 1]
    mid = mid_mask[lo : hi + 1]
    v = sign * local_slope(tt, ss, cfg.speed_window_s)
    typical = float(np.median(v[mid])) if mid.any() else float(v.max())
    duration = span / max(typical, 1e-6)
    window = min(max(cfg.speed_window_s, 0.1 * duration), 3 * cfg.speed_window_s)
    if window > cfg.speed_window_s:
        v = sign * local_slope(tt, ss, window)
        typical = float(np.median(v[mid])) if mid.any() else float(v.max())
    thr = cfg.motion_speed_fraction * max(typical, 1e-6)
    k = int(np.argmax(np.where(mid, v, -np.inf))) if mid.any() else int(np.argmax(v))
    n = len(v)
    starts, ends = start_zone[lo : hi + 1], end_zone[lo : hi + 1]
    i = k
    while i > 0 and (v[i - 1] > thr or not starts[i - 1]):
        i -= 1
    start = _crossing(tt, v, i - 1, i, thr) if i > 0 else float(tt[0])
    j = k
    while j < n - 1 and (v[j + 1] > thr or not ends[j + 1]):
        j += 1
    end = _crossing(tt, v, j, j + 1, thr) if j < n - 1 else float(tt[-1])
    return start, end


def _value_at(t: np.ndarray, s: np.ndarray, when: float) -> float:
    return float(np.interp(when, t, s))


class RepSegmenter:
    """Streaming: push BodyAngles frame by frame, get Reps as they finish."""

    def __init__(self, config: RepConfig | None = None) -> None:
        self.config = config or RepConfig()
        self._keep_s = self.config.max_rep_s + 2 * _TOP_WAIT_S + 5.0
        self._t: deque[float] = deque()
        self._elev: deque[np.ndarray] = deque()
        self._knee: deque[np.ndarray] = deque()
        self._conf: deque[np.ndarray] = deque()
        self._first = 0  # absolute index of the oldest buffered sample
        self._legs = (_LegState(), _LegState())
        self._reported: deque[tuple[float, float, Moving]] = deque(maxlen=4)

    # -- buffer ---------------------------------------------------------------------------------
    @property
    def _count(self) -> int:
        return self._first + len(self._t)

    def _arrays(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Samples with absolute indices a..b inclusive."""
        sl = slice(a - self._first, b - self._first + 1)
        t = np.fromiter(list(self._t)[sl], float)
        return (t, np.array(list(self._elev)[sl]), np.array(list(self._knee)[sl]),
                np.array(list(self._conf)[sl]))

    def _trim(self) -> None:
        """Forget samples older than any rep can be; turns and reps under way that reach back that far
        are forgotten with them (such a "rep" would be too long to be one)."""
        while self._t and self._t[-1] - self._t[0] > self._keep_s:
            self._t.popleft()
            self._elev.popleft()
            self._knee.popleft()
            self._conf.popleft()
            self._first += 1
        for leg in self._legs:
            del leg.turns[:-2]  # only the last peak and trough are ever looked back at
            leg.turns[:] = [tr for tr in leg.turns if tr.index >= self._first]
            if leg.pending is not None and leg.pending.p1.index < self._first:
                leg.pending = None

    # -- streaming ------------------------------------------------------------------------------
    def reset(self) -> None:
        """The member is no longer lying: no rep spans this."""
        for leg in self._legs:
            leg.reset()

    def push(self, a: BodyAngles | None) -> list[Rep]:
        """Add one frame's angles (None: not seen in this frame) and return reps finished now."""
        if a is None:
            return []
        if not a.lying:
            self.reset()
            return []
        self._t.append(a.t)
        self._elev.append(a.leg_elevation.astype(float))
        self._knee.append(a.knee_angle.astype(float))
        self._conf.append(a.leg_conf.astype(float))
        idx = self._count - 1
        reps: list[Rep] = []
        for side, leg in enumerate(self._legs):
            value = float(a.leg_elevation[side])
            sample = leg.filtered(idx, value) if np.isfinite(value) else None
            if sample is not None:
                self._report(self._step(side, leg, *sample), reps)
        self._trim()
        return reps

    def _report(self, rep: Rep | None, out: list[Rep]) -> None:
        """Both legs of a double-leg rep find the same rep; it is reported once."""
        if rep is None:
            return
        for start, end, moving in self._reported:
            overlap = min(end, rep.end_t) - max(start, rep.start_t)
            shorter = min(end - start, rep.end_t - rep.start_t)
            if "both" in (moving, rep.moving) and shorter > 0 and overlap > 0.5 * shorter:
                return
        self._reported.append((rep.start_t, rep.end_t, rep.moving))
        out.append(rep)

    def _turning_point(self, leg: _LegState, idx: int, value: float) -> _Turn | None:
        """Advance the zig-zag; returns a turn confirmed by this sample."""
        h = self.config.turn_hysteresis_deg
        if leg.ext_index < 0:
            leg.ext_value, leg.ext_index = value, idx
            return None
        turn = None
        if leg.rising:
            if value > leg.ext_value:
                leg.ext_value, leg.ext_index = value, idx
            elif value < leg.ext_value - h:
                turn = _Turn(leg.ext_index, leg.ext_value, "peak")
        elif value < leg.ext_value:
            leg.ext_value, leg.ext_index = value, idx
        elif value > leg.ext_value + h:
            turn = _Turn(leg.ext_index, leg.ext_value, "trough")
        if turn is not None:
            leg.turns.append(turn)
            leg.rising = not leg.rising
            leg.ext_value, leg.ext_index = value, idx
        return turn

    def _step(self, side: int, leg: _LegState, idx: int, value: float) -> Rep | None:
        """One sample of one leg: follow the rep under way and report it when it is over."""
        cfg = self.config
        turn = self._turning_point(leg, idx, value)
        rep = None
        if turn is not None and turn.kind == "trough":
            # Going down again ends the rep under way (if its legs came back up); a small dip at the
            # top, such as an overshoot swinging back, is part of it.
            pend = leg.pending
            if pend is not None and self._returned(pend) and pend.top is not None \
                    and pend.top.value - turn.value >= cfg.min_amplitude_deg:
                rep = self._finish(side, leg, idx)
            # A deep enough lowering starts a new rep, replacing one whose legs never came back up.
            prev_peak = leg.turns[-2] if len(leg.turns) >= 2 else None
            if prev_peak is not None and prev_peak.value - turn.value >= cfg.min_amplitude_deg:
                leg.pending = _Pending(p1=prev_peak, trough=turn)
        pend = leg.pending
        if pend is None:
            return rep
        if idx > pend.trough.index and (pend.top is None or value > pend.top.value):
            pend.top = _Turn(idx, value, "peak")
        t_now = self._t[-1]
        if not self._returned(pend):
            if t_now - self._t[pend.trough.index - self._first] > cfg.max_bottom_pause_s + cfg.max_rep_s:
                leg.pending = None  # the legs were put down to rest
            return rep
        assert pend.top is not None
        t_top = self._t[pend.top.index - self._first]
        window = takewhile(lambda te: t_now - te[0] <= _SETTLE_S,
                           zip(reversed(self._t), reversed(self._elev), strict=True))
        recent = [e[side] for _, e in window if np.isfinite(e[side])]
        settled = (len(recent) >= 2 and t_now - self._t[0] >= _SETTLE_S
                   and max(recent) - min(recent) <= _SETTLE_RANGE_DEG)
        halfway = pend.trough.value + 0.5 * (pend.top.value - pend.trough.value)
        if settled or value < halfway or t_now - t_top >= _TOP_WAIT_S:
            rep = rep or self._finish(side, leg, idx)
        return rep

    def _returned(self, pend: _Pending) -> bool:
        return pend.top is not None and pend.top.value - pend.trough.value >= self.config.min_amplitude_deg

    def _finish(self, side: int, leg: _LegState, idx: int) -> Rep | None:
        pend = leg.pending
        leg.pending = None
        if pend is None or pend.top is None:
            return None
        return self._measure(side, pend.p1.index, pend.trough.index, pend.top.index, idx)

    def flush(self) -> list[Rep]:
        """End of input: report a rep whose legs came back up on the last frames."""
        reps: list[Rep] = []
        if not self._t:
            return reps
        idx = self._count - 1
        for side, leg in enumerate(self._legs):
            if leg.pending is not None and self._returned(leg.pending):
                self._report(self._finish(side, leg, idx), reps)
        return reps

    def _variant(self, moving: Moving, side: int, other_elev: np.ndarray, knee_rep: np.ndarray) -> str:
        """What the camera sees: both legs together, one leg with the other foot down, or tabletop taps."""
        if moving == "both":
            return "double_leg"
        other_ok = other_elev[np.isfinite(other_elev)]
        if len(other_ok) >= 3:
            tabletop = float(np.median(other_ok)) >= self.config.tabletop_other_leg_deg
        else:
            # The resting leg is hidden: a moving knee held near 90° is a heel tap.
            tabletop = len(knee_rep) > 0 and float(np.median(knee_rep)) < self.config.tabletop_knee_deg
        return "heel_tap" if tabletop else "single_leg"

    # -- measurement ----------------------------------------------------------------------------
    def _measure(self, side: int, i_p1: int, i_tr: int, i_top: int, i_now: int) -> Rep | None:
        cfg = self.config
        t, elev, knee, conf = self._arrays(i_p1, i_now)
        top = i_top - i_p1
        if t[top] - t[0] > cfg.max_rep_s:
            return None
        ph = _phases(t, _interp_nan(t, elev[:, side]), top, cfg)
        # Whether the other leg moved is judged over this rep only: between two heel taps of one leg
        # the other leg makes its own tap.
        in_rep = (t >= ph.d_start) & (t <= ph.a_end)
        own_range = float(np.ptp(_interp_nan(t, elev[:, side])[in_rep])) if in_rep.any() else 0.0
        other = elev[:, 1 - side]
        other_ok = other[in_rep & np.isfinite(other)]
        other_range = float(np.ptp(other_ok)) if len(other_ok) > 3 else 0.0
        moving: Moving = "both" if other_range >= cfg.both_legs_ratio * own_range else SIDES[side]
        if moving == "both":
            sig, knee_sig = _weighted_mean(elev, conf), _weighted_mean(knee, conf)
            ph = _phases(t, _interp_nan(t, sig), top, cfg)
            in_rep = (t >= ph.d_start) & (t <= ph.a_end)
        else:
            knee_sig = knee[:, side]
        if ph.pause > cfg.max_bottom_pause_s:
            return None
        knee_rep = knee_sig[in_rep]
        knee_rep = knee_rep[np.isfinite(knee_rep)]
        min_knee = float(np.min(_median3(knee_rep))) if len(knee_rep) else float("nan")
        return Rep(
            start_t=round(ph.d_start, 3),
            end_t=round(ph.a_end, 3),
            moving=moving,
            variant=self._variant(moving, side, other[in_rep], knee_rep),
            descent_s=round(ph.d_end - ph.d_start, 3),
            ascent_s=round(ph.a_end - ph.a_start, 3),
            bottom_pause_s=round(ph.pause, 3),
            top_angle_deg=round(ph.top_angle, 1),
            bottom_angle_deg=round(ph.bottom, 1),
            min_knee_angle_deg=round(min_knee, 1),
            peak_return_speed_dps=round(ph.peak_up_speed, 1),
            bottom_in_speed_dps=round(ph.in_speed, 1),
            bottom_out_speed_dps=round(ph.out_speed, 1),
            overshoot_deg=round(ph.overshoot, 1),
        )


@dataclass(frozen=True, slots=True)
class _Phases:
    d_start: float
    d_end: float
    a_start: float
    a_end: float
    top_angle: float
    bottom: float
    peak_up_speed: float
    in_speed: float
    out_speed: float
    overshoot: float

    @property
    def pause(self) -> float:
        return max(0.0, self.a_start - self.d_end)


def _phases(t: np.ndarray, s: np.ndarray, top: int, cfg: RepConfig) -> _Phases:
    """Descent, bottom and ascent of the elevation curve s, which starts at the previous top (index 0),
    reaches this rep's top at index `top`, and may run on past it."""
    tr = int(np.argmin(s[: top + 1]))
    top_v, bottom_v = float(s[top]), float(s[tr])
    # The level the legs held before going down: the previous turning point may be the peak of an
    # overshoot, so take the typical level of the upper half instead.
    before_trough = s[: tr + 1]
    upper = before_trough[before_trough >= (before_trough.max() + bottom_v) / 2]
    p1_v = float(np.median(upper))
    s = _median3(s)  # a single wild keypoint must not look like a stop or a burst
    v = local_slope(t, s, cfg.speed_window_s)
    drop_lo, drop_hi = bottom_v + 0.25 * (p1_v - bottom_v), bottom_v + 0.75 * (p1_v - bottom_v)
    rise_lo, rise_hi = bottom_v + 0.25 * (top_v - bottom_v), bottom_v + 0.75 * (top_v - bottom_v)
    d_start, d_end = _motion_bounds(t, s, 0, tr, -1.0, p1_v - bottom_v, (s > drop_lo) & (s < drop_hi),
                                    s >= drop_hi, s <= drop_lo, cfg)
    a_start, a_end = _motion_bounds(t, s, tr, top, +1.0, top_v - bottom_v, (s > rise_lo) & (s < rise_hi),
                                    s <= rise_lo, s >= rise_hi, cfg)
    a_start = max(a_start, d_end)

    # Settled top after the rep: if the legs swung past it, the swing is an overshoot and the ascent
    # ends where the legs first reach the level they settle at.
    after = s[top:]
    halfway = bottom_v + 0.5 * (top_v - bottom_v)
    settled_after = after[after >= halfway]
    overshoot = 0.0
    if len(settled_after) > 2:
        level = float(np.median(settled_after))
        overshoot = max(0.0, top_v - level)
        if overshoot > 0:
            reach = np.nonzero(s[tr : top + 1] >= level)[0]
            if len(reach):
                a_end = min(a_end, float(t[tr + int(reach[0])]))

    before = (t >= d_start - 0.5) & (t <= d_start)
    t_bottom = float(t[tr])
    win = cfg.bottom_speed_window_s
    return _Phases(
        d_start=d_start,
        d_end=d_end,
        a_start=a_start,
        a_end=a_end,
        top_angle=float(np.median(s[before])) if before.any() else p1_v,
        bottom=bottom_v,
        peak_up_speed=float(v[tr : top + 1].max()),
        in_speed=(_value_at(t, s, t_bottom - win) - bottom_v) / win,
        out_speed=(_value_at(t, s, t_bottom + win) - bottom_v) / win,
        overshoot=overshoot,
    )


def _weighted_mean(values: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Per-sample mean of the two legs weighted by confidence; NaN where neither leg was seen."""
    w = np.where(np.isfinite(values), np.maximum(conf, 1e-3), 0.0)
    total = w.sum(1)
    return np.where(total > 0, np.nansum(values * w, 1) / np.maximum(total, 1e-9), np.nan)


def _median3(x: np.ndarray) -> np.ndarray:
    """Three-sample running median: one wild keypoint must not make a bent knee."""
    if len(x) < 3:
        return x
    stacked = np.stack([x[:-2], x[1:-1], x[2:]])
    return np.concatenate([x[:1], np.median(stacked, axis=0), x[-1:]])
