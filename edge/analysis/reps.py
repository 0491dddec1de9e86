"""Rep segmentation: leg elevation over time → reps with their phases measured.

A rep is one lowering and one raising of the legs, in whichever order the member does them
(SPEC.md): from the top as the guide teaches (vertical → down → back up), or from the floor as many
members do (raise → lower, the legs back on the mat between reps). Each leg's elevation runs through a
turning-point detector (a zig-zag with hysteresis, so keypoint jitter never makes a turn); both the
lowering and the raising must cover at least `min_amplitude_deg`, so smaller moves are fidgeting.

Which order a set uses is read from its first bottom: legs that come back down to where they rested
before the set and stay there a moment (`touch_s`) make a floor set, whose reps are raise → lower;
legs that turn around above it make a top set, whose reps are lower → raise, the raise that starts
the set and the lowering that ends it being no reps. Legs still on the mat for `rest_s` rest: that
ends any rep in progress, and the set (`rested`). A rep shorter than `min_rep_s` is not one a person
can do: keypoint noise or an exchange of the legs made it.

Hanging from a bar, a rep is always raise → lower: the legs start and end hanging (0°, the hanging
vertical, is where they rest), and the body's swing over the rep is measured for the momentum rule.
Knees may stay bent there: the hanging knee raise is the leg raise's regression.

A rep is reported as soon as it is over — a top rep once the legs are back up and have held still,
started down again or stayed up a few seconds; a floor rep once the legs are back on the mat — so the
screen shows it within a fraction of a second of the member finishing it.

This module measures; it does not judge. Which measurements make a fault is `edge.analysis.scoring`'s job.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import takewhile
from typing import Literal

import numpy as np

from edge.analysis.config import RepConfig
from edge.analysis.kinematics import BodyAngles, Posture

Moving = Literal["both", "left", "right"]
SIDES: tuple[Moving, Moving] = ("left", "right")

# How long the legs must hold still at the top, within how many degrees, for the rep to be over.
_SETTLE_S = 0.4
_SETTLE_RANGE_DEG = 3.0
_SETTLE_COVER = 0.75  # share of _SETTLE_S the samples seen must span
# Legs held at the top before a lowering stay within _SETTLE_RANGE_DEG for this long; a lowering faster
# than 3°/s leaves that range.
_HELD_S = 1.0
# A leg lying on the mat reads within _SETTLE_RANGE_DEG, widened by the pose model's frame-to-frame
# jitter on this leg (per-frame noise, σ estimated from second differences): real pose models jitter
# by ~0.4–1.4° a frame on a lying body (4–5° of wander over a touch of the mat), where the simulators'
# errors drift slowly instead. Up to _STILL_MAX_DEG: more would take a slow turn at the bottom for a
# touch.
_JITTER_WIDENS = 4.0
_STILL_MAX_DEG = 6.0
_JITTER_SAMPLES = 64
# Legs resting on the mat stay as still, but for a pose model's error on a lying body, which comes and
# goes in steps of a few degrees that last a few frames: an excursion shorter than this is no movement.
_REST_GRACE_S = 0.4
_LIFT_LEAD_S = 3.0  # see `_lift_off`
_ORDER = {"top": "from the top (lowered, then raised)", "floor": "from the floor (raised, then lowered)"}
# A rep's legs must have been seen in at least this share of its frames, or where it turned and on
# each side of the turn (`_seen_around_turn`).
_SEEN_SHARE = 0.3
_TURN_SEEN = 3
_TURN_BAND = 0.25  # share of the rep's height that counts as "near" a level
_AROUND_S = 0.25  # legs seen this close before or after a rep show where it began or ended too
# Consecutive samples further apart than this many typical frame intervals, and than _GAP_MIN_S, have a
# gap between them. Shorter gaps are bridged by the slope read over the samples either side.
_GAP_FRAMES = 2.5
_GAP_MIN_S = 0.35
# The knee is judged on its running median over this long: a member who bends the knees keeps them
# bent through a good part of the move, while the pose model's misplaced knees (straight legs read
# 110–145°, at any height) come and go within a few frames.
_KNEE_RUN_S = 0.7
# Longest a floor rep landed on one leg waits for the other to land.
_LANDING_WAIT_S = 2.0
# A floor rep starts and ends where the legs are within this share of its height of the mat.
_FLOOR_NEAR = 0.1
# The trunk's line is read as the median of its last few frames (see `_near_floor`).
_TRUNK_FRAMES = 9
# Easing into a pause at the bottom and out of it reads as part of it: a 3 s pause on the mat measures
# up to 4.4 s (tests/test_reps.py, the guide's three-second pause).
_EASED_S = 1.5
# How far either side of a heel tap's bottom the other leg is looked at (`_copied_tap`).
_COPY_MARGIN_S = 0.2
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
    # The back-lift evidence (edge/analysis/back.py), filled in by the analysis when frames were seen:
    # the lift over the member's flat back at the bottom (cm), and the leg elevation where it began. None: the
    # lower back could not be seen.
    back_lift_cm: float | None = None
    back_onset_deg: float | None = None
    # "top": lowered then raised back to the top; "floor": raised from the mat then lowered back to it.
    order: Literal["top", "floor"] = "top"
    # Hanging: how far the body swung to and fro under the bar during the rep (degrees, peak to peak).
    swing_deg: float = 0.0
    # The rep classifier's probability of each fault it scores, once it has judged the rep
    # (edge/analysis/verdict.py); empty: judged by the rules alone.
    fault_probs: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True, slots=True)
class Note:
    """Why a movement of the legs was counted as a rep or not (`matcoach analyze --explain`)."""

    start_t: float
    end_t: float
    counted: bool
    why: str


@dataclass(slots=True)
class _Turn:
    index: int  # absolute sample index
    value: float
    kind: Literal["peak", "trough", "start"]  # "start": the first sample of a set seen mid-move


@dataclass(slots=True)
class _Pending:
    """A top rep under way on one leg: it went down from p1 to the trough and is coming back up."""

    p1: _Turn
    trough: _Turn
    top: _Turn | None = None  # highest point since the trough


@dataclass(slots=True)
class _Spell:
    """The leg has stayed within `width` degrees of one level (lo..hi) since sample `index`, but for
    excursions shorter than `grace_s`."""

    width: float
    grace_s: float = 0.0
    lo: float = float("nan")
    hi: float = float("nan")
    index: int = -1
    away: list[tuple[int, float, float]] = field(default_factory=list)  # (index, t, value) since it left

    def extend(self, idx: int, t: float, value: float) -> bool:
        """Take one sample; True when it starts a new spell."""
        lo, hi = min(self.lo, value), max(self.hi, value)
        if self.index >= 0 and hi - lo <= self.width:
            self.lo, self.hi = lo, hi
            self.away.clear()
            return False
        self.away.append((idx, t, value))
        if self.index >= 0 and t - self.away[0][1] < self.grace_s:
            return False
        # The leg has moved: the new spell starts at the first sample away that the rest stay near.
        self.lo = self.hi = value
        self.index = idx
        for i, _, v in reversed(self.away[:-1]):
            if max(self.hi, v) - min(self.lo, v) > self.width:
                break
            self.lo, self.hi, self.index = min(self.lo, v), max(self.hi, v), i
        self.away.clear()
        return True

    @property
    def level(self) -> float:
        return (self.lo + self.hi) / 2


@dataclass(slots=True)
class _LegState:
    """One leg: its zig-zag turning points, how long it has held still, and the rep under way on it."""

    turns: list[_Turn] = field(default_factory=list)
    rising: bool = True
    ext_value: float = float("nan")
    ext_index: int = -1
    pending: _Pending | None = None
    # The last three (index, elevation) seen: turning points are found on their median, so one wild
    # keypoint (worst with the knees drawn up, when hip and ankle are close) never makes a turn.
    recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=3))
    # The last three filtered values, and the size of the last second differences between them.
    smooth: deque[float] = field(default_factory=lambda: deque(maxlen=3))
    wobble: deque[float] = field(default_factory=lambda: deque(maxlen=_JITTER_SAMPLES))
    # Held still (a stop, on the mat or at the top); lying as still as the pose model lets a leg lying
    # on the mat read (a touch of the mat); calm enough to be resting.
    still: _Spell = field(default_factory=lambda: _Spell(_SETTLE_RANGE_DEG))
    lying: _Spell = field(default_factory=lambda: _Spell(_SETTLE_RANGE_DEG))
    calm: _Spell = field(default_factory=lambda: _Spell(_SETTLE_RANGE_DEG, _REST_GRACE_S))
    touched: bool = False  # this lying spell was taken as the legs back on the mat
    rested: bool = False  # this calm spell has lasted `rest_s` at a resting level: a rest
    # Where this leg lies on the mat: the level it rested at, or started the set from. None: not seen
    # resting yet (a recording that begins mid-set, legs up).
    floor: float | None = None
    # Floor set: the turn (or sample) at which the leg last left the mat; the next rep starts there.
    contact: _Turn | None = None
    touches: int = 0  # landings back on the mat after a raise, this set
    # A floor rep landed on this leg, waiting for the other leg to land too: (lift-off, landing, until t).
    waiting: tuple[_Turn, _Turn, float] | None = None
    landed: bool = False  # the leg has been still on the mat since its last peak
    bottom: _Turn | None = None  # a rep's bottom off the mat, told once the leg is back up from it

    def reset(self) -> None:
        self.turns.clear()
        self.rising = True
        self.ext_value = float("nan")
        self.ext_index = -1
        self.pending = None
        self.recent.clear()
        self.smooth.clear()
        for spell in (self.still, self.lying, self.calm):
            spell.index = -1
            spell.away.clear()
        self.touched = self.rested = False
        self.floor = None
        self.contact = None
        self.touches = 0
        self.landed = False
        self.bottom = None
        self.waiting = None

    def filtered(self, idx: int, value: float) -> tuple[int, float] | None:
        """Median of the last three samples, dated at the middle one (one sample late)."""
        self.recent.append((idx, value))
        if len(self.recent) < 3:
            return None
        median = sorted(v for _, v in self.recent)[1]
        self.smooth.append(median)
        if len(self.smooth) == 3:
            a, b, c = self.smooth
            self.wobble.append(abs(a - 2 * b + c))
            # For white noise of σ, |second difference| has median 0.6745·√6·σ ≈ 1.65σ.
            jitter = float(np.median(self.wobble)) / 1.65 if len(self.wobble) >= _JITTER_SAMPLES // 4 else 0.0
            self.lying.width = min(_STILL_MAX_DEG, _SETTLE_RANGE_DEG + _JITTER_WIDENS * jitter)
        return self.recent[1][0], median

    def hold(self, idx: int, t: float, value: float) -> None:
        """Follow the still, lying and calm spells."""
        self.still.extend(idx, t, value)
        if self.lying.extend(idx, t, value):
            self.touched = False
        if self.calm.extend(idx, t, value):
            self.rested = False


def _interp_nan(t: np.ndarray, s: np.ndarray) -> np.ndarray:
    ok = np.isfinite(s)
    if ok.all() or not ok.any():
        return s
    out = s.copy()
    out[~ok] = np.interp(t[~ok], t[ok], s[ok])
    return out


def _dense_phases(phases: Callable[[np.ndarray, np.ndarray, int, RepConfig], _Phases], t: np.ndarray,
                  s: np.ndarray, turn: int, cfg: RepConfig) -> _Phases:
    """`phases` of s (NaN where unseen), with samples filled into each gap of the input: frames where the
    member went unseen never reach the segmenter, and the moves are timed by speeds, which a slope read
    over samples either side of such a gap puts inside it. Over a gap, as over legs unseen in frames
    that did arrive, the legs are taken to have moved along the straight line between the samples
    either side."""
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    gaps = np.nonzero(np.diff(t) > max(_GAP_FRAMES * dt, _GAP_MIN_S))[0] if dt > 0 else []
    if not len(gaps):
        return phases(t, _interp_nan(t, s), turn, cfg)
    # Samples at the input's frame interval inside each gap only: the frames that did arrive keep their
    # own spacing (a median of three, a count of samples, mean the same as without a gap).
    grid = np.sort(np.concatenate([t, *(np.arange(t[i] + dt, t[i + 1] - dt / 2, dt) for i in gaps)]))
    ok = np.isfinite(s)
    dense = np.interp(grid, t[ok], s[ok]) if ok.any() else np.full(len(grid), np.nan)
    return phases(grid, dense, int(np.searchsorted(grid, t[turn])), cfg)


def _seen_around_turn(t: np.ndarray, s: np.ndarray, kind: Literal["top", "floor"], frame_dt: float) -> bool:
    """Whether a rep whose legs were mostly unseen still shows the whole move: seen at its turn (a top
    rep's lowest point, a floor rep's highest) on `_TURN_SEEN` frames in a row, and at least halfway
    back on each side of it. Feet out of the picture at the top, legs lost lying flat on the mat or a
    detector dropout through a whole lowering hide most of a rep the member did; a few stray points,
    or a detector finding the member on one frame in several, never hold a turn."""
    ok = np.isfinite(s)
    t, s = t[ok], s[ok]
    if len(s) < _TURN_SEEN + 2:
        return False
    turn = int(np.argmin(s if kind == "top" else -s))
    if turn == 0 or turn == len(s) - 1:
        return False
    band = _TURN_BAND * float(np.ptp(s))
    away = np.abs(s - s[turn])
    near, run, longest = away <= band, 0, 0
    for i in range(len(s)):
        follows = i > 0 and near[i - 1] and t[i] - t[i - 1] <= 1.5 * frame_dt
        run = (run + 1 if follows else 1) if near[i] else 0
        longest = max(longest, run)
    return (longest >= _TURN_SEEN
            and bool(np.any(away[:turn] >= 2 * band)) and bool(np.any(away[turn + 1:] >= 2 * band)))


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


def _left_hold(t: np.ndarray, s: np.ndarray, start: int, level: float) -> float:
    """When the legs left the level they held at or above `level` (near the top), if they only went down
    from there to sample `start` (where the lowering reached its speed): a member who lowers slowly,
    even stopping on the way, and then lets the legs drop began the rep at the top, not where the drop
    began. Legs that never held the top, lowered again as soon as they got there, left it where they
    were last near it. Otherwise t[start]."""
    highest = s[start]
    j = start
    for j in range(start, -1, -1):
        # Up by more than a pose model's bump of a few frames: the legs went up on the way, and what
        # came before is no part of this lowering.
        if s[j] < highest - _STILL_MAX_DEG:
            break
        highest = max(highest, s[j])
        held = s[np.searchsorted(t, t[j] - _HELD_S): j + 1]
        if t[j] - t[0] >= _HELD_S and s[j] >= level and np.ptp(held) <= _SETTLE_RANGE_DEG:
            return float(t[j])
    if highest < level:
        return float(t[start])
    # Never held, but lowered faster than a hold may drift: a leg resting at tabletop while the other
    # one taps creeps down slower, and its rep starts at its own drop.
    top = j + int(np.nonzero(s[j : start + 1] >= highest - _SETTLE_RANGE_DEG)[0][-1])
    if s[top] - s[start] >= _SETTLE_RANGE_DEG / _HELD_S * (t[start] - t[top]):
        return float(t[top])
    return float(t[start])


def _value_at(t: np.ndarray, s: np.ndarray, when: float) -> float:
    return float(np.interp(when, t, s))


class RepSegmenter:
    """Streaming: push BodyAngles frame by frame, get Reps as they finish."""

    def __init__(self, config: RepConfig | None = None, explain: bool = False) -> None:
        self.config = config or RepConfig()
        # Why each movement was counted or not, kept only when asked (a station never asks).
        self.notes: list[Note] | None = [] if explain else None
        self._style_why = ""
        self._keep_s = self.config.max_rep_s + 2 * _TOP_WAIT_S + 5.0
        self._t: deque[float] = deque()
        self._elev: deque[np.ndarray] = deque()
        self._knee: deque[np.ndarray] = deque()
        self._conf: deque[np.ndarray] = deque()
        self._swing: deque[float] = deque()
        # The trunk's elevation over the last frames it was seen lying (see `_near_floor`).
        self._trunk: deque[float] = deque(maxlen=_TRUNK_FRAMES)
        # Lying on the mat or hanging from a bar: a change ends the set, as sitting up does.
        self._posture: Posture | None = None
        self._first = 0  # absolute index of the oldest buffered sample
        self._legs = (_LegState(), _LegState())
        self._reported: deque[tuple[float, float, Moving]] = deque(maxlen=4)
        # How this set's reps are paired: "top" (lower → raise), "floor" (raise → lower), None: not
        # known yet. Both readings are followed until the set's bottoms tell (`_found`), and the reps
        # of the one that holds are reported.
        self.style: Literal["top", "floor"] | None = None
        self._found: dict[str, list[Rep]] = {"top": [], "floor": []}
        # Once the reading is known, the other one's recent candidates (see `_turned`).
        self._shadow: list[Rep] = []
        # Given the candidates of the reading the set's bottoms tell and those of the other, a reason to
        # take the other one instead, or None (the analysis sets it when a rep classifier is at hand).
        self.weigh: Callable[[list[Rep], list[Rep]], str | None] | None = None
        # The legs came to rest on the mat in the last push: the set is over.
        self.rested = False
        self._rest_now = False

    # -- buffer ---------------------------------------------------------------------------------
    @property
    def _count(self) -> int:
        return self._first + len(self._t)

    def _at(self, idx: int) -> float:
        return self._t[idx - self._first]

    def _arrays(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Samples with absolute indices a..b inclusive."""
        sl = slice(a - self._first, b - self._first + 1)
        t = np.fromiter(list(self._t)[sl], float)
        return (t, np.array(list(self._elev)[sl]), np.array(list(self._knee)[sl]),
                np.array(list(self._conf)[sl]))

    def _frame_dt(self) -> float:
        """The input's frame interval: the typical step between buffered frames, most of which follow
        one another (those where nobody was found are not buffered)."""
        steps = np.diff(np.fromiter(self._t, float))
        steps = steps[steps > 0]
        return float(np.percentile(steps, 25)) if steps.size else 1.0

    def _trim(self) -> None:
        """Forget samples older than any rep can be; turns and reps under way that reach back that far
        are forgotten with them (such a "rep" would be too long to be one)."""
        while self._t and self._t[-1] - self._t[0] > self._keep_s:
            self._t.popleft()
            self._elev.popleft()
            self._knee.popleft()
            self._conf.popleft()
            self._swing.popleft()
            self._first += 1
        for leg in self._legs:
            del leg.turns[:-2]  # only the last peak and trough are ever looked back at
            leg.turns[:] = [tr for tr in leg.turns if tr.index >= self._first]
            if leg.pending is not None and leg.pending.p1.index < self._first:
                leg.pending = None
            if leg.contact is not None and leg.contact.index < self._first:
                leg.contact = None
            if leg.waiting is not None and leg.waiting[0].index < self._first:
                leg.waiting = None
            if leg.bottom is not None and leg.bottom.index < self._first:
                leg.bottom = None
            for spell in (leg.still, leg.lying, leg.calm):
                spell.index = max(spell.index, self._first) if spell.index >= 0 else -1

    # -- streaming ------------------------------------------------------------------------------
    def reset(self) -> None:
        """The member is no longer lying: no rep spans this."""
        for leg in self._legs:
            leg.reset()
        self._trunk.clear()
        self._new_set()

    def end_set(self) -> list[Rep]:
        """The member is no longer lying or hanging (or has left): what the set was waiting to tell
        apart is told now, and nothing after is paired with anything before."""
        if self._posture is None:
            return []
        reps = self.flush()
        self.reset()
        self._posture = None
        return reps

    def push(self, a: BodyAngles | None) -> list[Rep]:
        """Add one frame's angles (None: not seen in this frame) and return reps finished now."""
        self.rested = False
        if a is None:
            return []
        # Sitting up, or letting go of the bar, ends the set.
        reps = self.end_set() if a.posture != self._posture else []
        self._posture = a.posture
        if a.posture is None:
            return reps
        if a.posture == "hanging":
            self._decide("floor", "hanging from a bar, the legs rise from the hang and are lowered back")
        self._t.append(a.t)
        self._elev.append(a.leg_elevation.astype(float))
        self._knee.append(a.knee_angle.astype(float))
        self._conf.append(a.leg_conf.astype(float))
        self._swing.append(a.swing_deg)
        if a.posture == "lying" and math.isfinite(a.trunk_elevation):
            self._trunk.append(a.trunk_elevation)
        idx = self._count - 1
        for side, leg in enumerate(self._legs):
            value = float(a.leg_elevation[side])
            sample = leg.filtered(idx, value) if np.isfinite(value) else None
            if sample is not None:
                self._unstray(side, leg)
                self._step(side, leg, *sample)
        reps += self._reported_now()
        if self._rest_now:
            self._rest_now = False
            self._new_set()
            self.rested = True
        self._trim()
        return reps

    def _unstray(self, side: int, leg: _LegState) -> None:
        """The middle one of the leg's last three readings, if alone between unseen frames and further than
        a turn from their median, is kept as that median. Where a foot is out of the picture the pose
        model now and then guesses it, at the mat as likely as anywhere: the turns are found on the
        medians (`_LegState.filtered`), and a guess must not be the bottom or top a rep is measured from."""
        (i0, v0), (i1, v1), (i2, v2) = leg.recent
        median = sorted((v0, v1, v2))[1]
        if (i1 - i0 > 1 and i2 - i1 > 1 and i1 >= self._first
                and abs(v1 - median) > self.config.turn_hysteresis_deg):
            self._elev[i1 - self._first][side] = median

    def _reported_now(self) -> list[Rep]:
        out: list[Rep] = []
        for rep in self._take():
            if self._report(rep, out):
                if rep.variant == "hanging":
                    why = f"a raise from the hang and back, {_moves(rep)}"
                else:
                    why = (f"a rep {_ORDER[rep.order]}, {rep.moving} moving: {_moves(rep)}; the set was read "
                           f"as done {_ORDER[rep.order]}: {self._style_why}")
                self._note_why(rep.start_t, rep.end_t, True, why)
        return out

    def _note_why(self, start_t: float, end_t: float, counted: bool, why: str) -> None:
        if self.notes is not None:
            self.notes.append(Note(start_t, end_t, counted, why))

    def _new_set(self) -> None:
        """The legs rest: the next set's order is read afresh."""
        self.style = None
        self._found = {"top": [], "floor": []}
        self._shadow = []
        for leg in self._legs:
            leg.touches = 0

    def _report(self, rep: Rep, out: list[Rep]) -> bool:
        """Both legs of a double-leg rep find the same rep; it is reported once. No person lowers and
        raises a leg in less than `min_rep_s`: a shorter "rep" is noise or the legs exchanged."""
        if not self._long_enough(rep):
            self._note_why(rep.start_t, rep.end_t, False,
                           f"{rep.end_t - rep.start_t:.2f} s from start to end: nobody lowers and raises a "
                           f"leg in under {self.config.min_rep_s} s")
            return False
        if any(_same_rep(start, end, moving, rep) for start, end, moving in self._reported):
            return False
        self._reported.append((rep.start_t, rep.end_t, rep.moving))
        out.append(rep)
        return True

    def _long_enough(self, rep: Rep) -> bool:
        """Shorter than `min_rep_s` is no rep, in either reading."""
        return rep.end_t - rep.start_t >= self.config.min_rep_s

    def _distinct(self, reps: list[Rep]) -> list[Rep]:
        """A reading's candidates as the reps it would report: each long enough, a double-leg rep once."""
        out: list[Rep] = []
        for rep in reps:
            if self._long_enough(rep) and not any(_same_rep(r.start_t, r.end_t, r.moving, rep) for r in out):
                out.append(rep)
        return out

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

    def _step(self, side: int, leg: _LegState, idx: int, value: float) -> None:
        """One sample of one leg: follow its stillness and both readings of the set (top and floor),
        and decide between them at the set's bottoms."""
        cfg = self.config
        if leg.ext_index < 0:
            if leg.floor is None and self._posture == "hanging":
                leg.floor = 0.0  # legs hang straight down between reps
            elif leg.floor is None and abs(value) <= cfg.rest_max_deg:
                leg.floor = value  # the set starts from the mat: a floor set's reps return here
            if leg.contact is None:
                # Where the leg was first seen: if it was already rising (the member was found, or the
                # picture came back, mid-rep), the rep started before it.
                leg.contact = _Turn(idx, value, "start")
        leg.hold(idx, self._at(idx), value)
        self._note("floor", self._waited(side, leg))
        self._still(side, leg, idx)
        self._lift_off(leg, idx)
        turn = self._turning_point(leg, idx, value)
        if turn is not None and turn.kind == "peak":
            leg.landed = False
        if turn is not None and turn.kind == "trough":
            self._note("floor", self._floor_rep(side, leg, turn))
            if not leg.landed and self._bottom_of_a_rep(leg, turn):
                leg.bottom = turn
        bottom = leg.bottom
        if bottom is not None and leg.landed:
            leg.bottom = None
        elif bottom is not None and value - bottom.value >= cfg.min_amplitude_deg:
            # Back up by a rep's amplitude without touching the mat: the pose model's few degrees of
            # wobble on a leg landing turn back no further.
            leg.bottom = None
            self._decide("top", f"its first bottom, {bottom.value:.0f}° at {self._at(bottom.index):.1f} s, "
                         "was no landing on the mat")
        self._note("top", self._top_step(side, leg, idx, value, turn))

    def _bottom_of_a_rep(self, leg: _LegState, trough: _Turn) -> bool:
        """A lowering by a rep's amplitude that went at least halfway down to the mat: a swing past the
        top and back, or a wobble up there, tells nothing of how the set is done."""
        peak = leg.turns[-2] if len(leg.turns) >= 2 else None
        if peak is None or peak.value - trough.value < self.config.min_amplitude_deg:
            return False
        floor = leg.floor if leg.floor is not None else 0.0
        return trough.value - floor <= 0.5 * (peak.value - floor)

    def _note(self, style: Literal["top", "floor"], rep: Rep | None) -> None:
        if rep is not None:
            self._found[style].append(rep)

    def _decide(self, style: Literal["top", "floor"], why: str) -> None:
        if self.style is not None:
            return
        other: Literal["top", "floor"] = "top" if style == "floor" else "floor"
        if self.weigh is not None and self._posture == "lying":
            instead = self.weigh(self._distinct(self._found[style]), self._distinct(self._found[other]))
            if instead is not None:
                style, why = other, f"{why}, but {instead}"
        self.style, self._style_why = style, why

    def _resolve(self) -> None:
        """The set ends before its order was clear: raise → lower if the legs landed on the mat after a
        raise, else lower → raise."""
        if any(leg.touches for leg in self._legs):
            self._decide("floor", "it ended after the legs had landed back on the mat once")
        self._decide("top", "it ended before any of its bottoms told")

    def _take(self) -> list[Rep]:
        """The reps of the set's reading, once it is known; until then both readings keep theirs. The
        other reading's candidates are kept a while: the reading may still turn (`_turned`)."""
        if self.style is None:
            return []
        if (self.style == "floor" and not self._found["floor"]
                and any(self._tapped_from_tabletop(r) for r in self._found["top"])):
            # A heel tap is lowered from tabletop and raised back, never raised from the mat: a floor
            # reading carried over from the set before (no rest on the mat between, say for knee hugs)
            # would lose every tap of the set as a knee tuck.
            self.style = "top"
            self._style_why = "heel taps are lowered from tabletop and raised back"
        reps = self._found[self.style]
        other = "top" if self.style == "floor" else "floor"
        for rep in self._found[other]:
            self._note_why(rep.start_t, rep.end_t, False, f"a rep {_ORDER[other]}, but the set was read as "
                           f"done {_ORDER[self.style]}: {self._style_why}")
        since = self._t[-1] - self._keep_s
        self._shadow = [r for r in self._shadow + self._found[other] if r.end_t >= since]
        self._found = {"top": [], "floor": []}
        out: list[Rep] = []
        for rep in reps:
            out += self._turned(rep, out)
        return out

    def _tapped_from_tabletop(self, rep: Rep) -> bool:
        """A heel tap whose other leg was held up at tabletop through it (in a crunch or a bridge, knees
        bent, both legs move together)."""
        if rep.variant != "heel_tap" or rep.moving not in SIDES:
            return False
        t = np.fromiter(self._t, float)
        span = (t >= rep.start_t) & (t <= rep.end_t)
        other = np.array(self._elev)[span, 1 - SIDES.index(rep.moving)]
        other = other[np.isfinite(other)]
        # Nearly all through: a stray reading of the pose model does not set a held leg down.
        return len(other) > 0 and float(np.percentile(other, 10)) >= self.config.tabletop_other_leg_deg

    def _turned(self, rep: Rep, taken: list[Rep]) -> list[Rep]:
        """A candidate of the set's reading, or, where the rep classifier makes no rep of it and takes every
        candidate of the other reading that overlaps it, those: from there on the other reading holds. (The
        first bottoms of a top set lowered onto the mat with pauses tell "floor"; the classifier only
        sees that the floor reading's candidates span halves of two reps a few reps on.)"""
        overlapping = [r for r in self._shadow if self._long_enough(r)
                       and min(r.end_t, rep.end_t) > max(r.start_t, rep.start_t)]
        if (self.weigh is None or self._posture != "lying" or self.style is None or not overlapping
                or not self._long_enough(rep)):
            return [rep]
        instead = self.weigh([rep], overlapping)
        if instead is None:
            return [rep]
        old = self.style
        self.style = "top" if old == "floor" else "floor"
        self._style_why = (f"it was read as done {_ORDER[old]} until {rep.end_t:.1f} s, but then {instead}")
        self._note_why(rep.start_t, rep.end_t, False, f"a rep {_ORDER[old]}: {self._style_why}")
        self._shadow = [r for r in self._shadow if r not in overlapping] + [rep]
        # Those sharing time with a rep already reported, or taken before this one, span part of it: the
        # turn counts from after it.
        before = [(start, end) for start, end, _ in self._reported] + [(r.start_t, r.end_t) for r in taken]
        return [r for r in overlapping
                if not any(min(end, r.end_t) > max(start, r.start_t) for start, end in before)]

    def _still(self, side: int, leg: _LegState, idx: int) -> None:
        """The leg has just held still long enough for a touch of the mat, or calm for a rest: a rest as
        seen up to its sample idx. (Not up to the newest frame: where the member went unseen after it, the
        unseen time is no rest, and the leg may come back at the top.)"""
        cfg = self.config
        still, calm, now = leg.lying, leg.calm, self._t[-1]
        # Legs lie near 0°: a level far below it is the pose model pointing a leg at the head.
        if (still.index >= 0 and abs(still.level) <= cfg.rest_max_deg and not leg.touched
                and now - self._at(still.index) >= cfg.touch_s and self._on_the_mat(side, leg)):
            leg.touched = True
            landing = _Turn(still.index, still.level, "trough")
            leg.landed = True
            if self._raised(side, leg, landing):
                # Back on the mat after a rep's raise. Twice in a set, it is done from the floor; once,
                # it may still be a top set lowered to the mat with a pause (its next bottom tells).
                leg.touches += 1
                if leg.touches >= 2:
                    self._decide("floor", f"the {SIDES[side]} leg landed back on the mat after a raise "
                                 f"twice, the second time at {self._at(landing.index):.1f} s")
            self._note("floor", self._floor_rep(side, leg, landing))
            leg.contact = landing
        # A rest is declared on a sample at its level, never during an excursion that may be the rise.
        if (calm.index >= 0 and not calm.away and abs(calm.level) <= cfg.rest_max_deg and not leg.rested
                and (leg.floor is None or self._near_floor(leg, calm.level))
                and self._at(idx) - self._at(calm.index) >= cfg.rest_s):
            leg.rested = True
            # The lowest level it rests at is the mat: legs also hold still higher (a hollow hold).
            leg.floor = calm.level if leg.floor is None else min(leg.floor, calm.level)
            leg.pending = None  # legs resting on the mat end any rep in progress
            leg.contact = _Turn(calm.index, calm.level, "trough")
            # The zig-zag starts again from here: nothing before the rest is paired with what follows.
            leg.turns.clear()
            leg.rising, leg.ext_value, leg.ext_index = True, calm.level, calm.index
            if all(other.rested or other.calm.index < 0 for other in self._legs):
                self._resolve()
                self._rest_now = True

    def _lift_off(self, leg: _LegState, idx: int) -> None:
        """While the leg lies where it touched down or rested, the next floor rep is measured from at most
        `_LIFT_LEAD_S` before now: a rest can outlast the window and any rep, and its rep must not start
        back there. (Not from now: the pose model may see one leg of a double-leg lift leave the mat late,
        and the rep is measured from before either did.)"""
        c = leg.contact
        if c is None or c.kind != "trough" or c.index == idx:
            return
        if 0 <= leg.lying.index <= c.index or (0 <= leg.calm.index <= c.index and not leg.calm.away):
            since, index = self._t[-1] - _LIFT_LEAD_S, c.index
            while index < idx and self._at(index + 1) <= since:
                index += 1
            if index > c.index:
                leg.contact = _Turn(index, c.value, "trough")

    def _on_the_mat(self, side: int, leg: _LegState) -> bool:
        """The leg is back where it lies on the mat, and not tapping it from tabletop: during a heel tap
        the other leg stays up."""
        cfg = self.config
        if not self._near_floor(leg, leg.lying.level):
            return False
        other = self._elev[-1][1 - side]
        return not (np.isfinite(other) and other >= cfg.tabletop_other_leg_deg)

    def _near_floor(self, leg: _LegState, level: float) -> bool:
        """`level` is where the leg lies on the mat, as far as the pose model tells: near where it
        rested, or in line with the trunk lying on the mat. (Filmed along the body, a whole lying body
        can read tilted by 10–15° from where it read at the start of the set, legs and trunk alike.)"""
        if leg.floor is None:
            return False
        tolerance = self.config.floor_tolerance_deg
        tilt = float(np.median(self._trunk)) if self._trunk else 0.0
        return level <= leg.floor + max(0.0, tilt) + tolerance

    def _raised(self, side: int, leg: _LegState, landing: _Turn) -> bool:
        """Since it last left the mat the leg went up and came back down to `landing`, each by a rep's
        amplitude, and at least halfway back to the mat: legs swinging past the top and back, however
        far, are still up."""
        contact = leg.contact
        if contact is None or landing.index <= contact.index:
            return False
        _, elev, _, _ = self._arrays(contact.index, landing.index)
        seen = elev[:, side][np.isfinite(elev[:, side])]
        if not len(seen):
            return False
        top = float(seen.max())
        rise = top - landing.value if contact.kind == "start" else top - contact.value
        floor = leg.floor if leg.floor is not None else min(contact.value, landing.value)
        halfway = landing.value - floor <= 0.5 * (top - floor)
        amplitude = (self.config.hanging_min_amplitude_deg if self._posture == "hanging"
                     else self.config.min_amplitude_deg)
        return halfway and min(rise, top - landing.value) >= amplitude

    def _floor_rep(self, side: int, leg: _LegState, landing: _Turn) -> Rep | None:
        """Floor set: the leg left the mat at `leg.contact`, went up and came back down to `landing`,
        where the next rep starts. A dip that is no lowering leaves the start where it was. While the
        other leg is still on its way down with it (a double-leg rep), the rep waits for it to land."""
        contact = leg.contact
        if contact is None:
            leg.contact = landing
            return None
        if not self._raised(side, leg, landing):
            return None
        leg.contact = landing
        if self._other_landing(side):
            leg.waiting = (contact, landing, self._t[-1] + _LANDING_WAIT_S)
            return None
        return self._measure(side, contact.index, landing.index, self._count - 1, kind="floor")

    def _other_landing(self, side: int) -> bool:
        """The other leg is still moving: it has not held still since the last `touch_s` (a leg that landed
        has, and so has a support leg bent on the mat), nor lain on the mat as still as the pose model
        reads a lying leg. Not "above where it rests": a floor learnt from the first frames of a set can
        sit a few degrees high, and the rep would end before the leg lands."""
        other = self._legs[1 - side]
        now = self._elev[-1][1 - side]
        if other.floor is None or not np.isfinite(now):
            return False

        def lasted(spell: _Spell) -> bool:
            return spell.index >= 0 and self._t[-1] - self._at(spell.index) >= self.config.touch_s

        lying = lasted(other.lying) and self._near_floor(other, other.lying.level)
        return not (lasted(other.still) or lying)

    def _waited(self, side: int, leg: _LegState) -> Rep | None:
        """A floor rep that waited for the other leg: measured once that leg is down or stopped."""
        if leg.waiting is None:
            return None
        contact, landing, until = leg.waiting
        if self._t[-1] < until and self._other_landing(side):
            return None
        leg.waiting = None
        return self._measure(side, contact.index, landing.index, self._count - 1, kind="floor")

    def _top_step(self, side: int, leg: _LegState, idx: int, value: float, turn: _Turn | None) -> Rep | None:
        """Top set (or not known yet): follow the lowering and the return, report the rep when it is over."""
        cfg = self.config
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
            if t_now - self._at(pend.trough.index) > cfg.max_bottom_pause_s + cfg.max_rep_s:
                leg.pending = None  # the legs were put down to rest
            return rep
        assert pend.top is not None
        t_top = self._at(pend.top.index)
        window = takewhile(lambda te: t_now - te[0] <= _SETTLE_S,
                           zip(reversed(self._t), reversed(self._elev), strict=True))
        recent = [(te, e[side]) for te, e in window if np.isfinite(e[side])]
        levels = [v for _, v in recent]
        # Held still for the whole time, as seen: a leg hidden on its way up and seen on two frames at
        # the top has not settled there (it may be swinging past it).
        settled = (len(recent) >= 2 and t_now - recent[-1][0] >= _SETTLE_COVER * _SETTLE_S
                   and max(levels) - min(levels) <= _SETTLE_RANGE_DEG)
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
        return self._measure(side, pend.p1.index, pend.top.index, idx, kind="top")

    def flush(self) -> list[Rep]:
        """End of input: report a rep whose legs came back up (or down, in a floor set) on the last
        frames."""
        if not self._t:
            return []
        idx = self._count - 1
        for side, leg in enumerate(self._legs):
            self._stop_waiting(side, leg)
            if leg.pending is not None and self._returned(leg.pending):
                self._note("top", self._finish(side, leg, idx))
            if leg.recent and leg.floor is not None:
                # The recording ends with the legs just back down: as if they had touched the mat.
                i_last, v_last = leg.recent[-1]
                if self._near_floor(leg, v_last):
                    landing = _Turn(i_last, v_last, "trough")
                    if self._raised(side, leg, landing):
                        leg.touches += 1
                    self._note("floor", self._floor_rep(side, leg, landing))
        for side, leg in enumerate(self._legs):
            self._stop_waiting(side, leg)  # both legs landed on the last frames: neither waits any more
        self._resolve()
        return self._reported_now()

    def _stop_waiting(self, side: int, leg: _LegState) -> None:
        if leg.waiting is not None:
            leg.waiting = (*leg.waiting[:2], -math.inf)
            self._note("floor", self._waited(side, leg))

    def _rested_between(self, t: np.ndarray, elev: np.ndarray, ph: _Phases) -> bool:
        """Both legs lay on the mat (each near where it lies, never over `rest_max_deg`) at a top rep's
        bottom for `rest_s` or more (`_EASED_S` more, as the rep's phases measure it). The rest the
        segmenter watches for needs the legs still; a member shifting a leg on the mat while resting
        breaks that, and must not join the lowering before the rest to the next set's raise. (Legs held
        still off the mat are a long pause, not a rest.)"""
        cfg = self.config
        if ph.pause < cfg.rest_s + _EASED_S:
            return False
        low = elev[(t >= ph.d_end) & (t <= ph.a_start)]
        for leg, levels in zip(self._legs, low.T, strict=True):
            levels = levels[np.isfinite(levels)]
            if (len(levels) == 0 or float(np.max(np.abs(levels))) > cfg.rest_max_deg
                    or not self._near_floor(leg, float(np.median(levels)))):
                return False
        return True

    def _copied_tap(self, side: int, t: np.ndarray, elev: np.ndarray, conf: np.ndarray, ph: _Phases) -> bool:
        """A heel tap lowers one foot from tabletop while the other stays up. Where the other leg was down
        at the mat too at this one's bottom, and seen with more confidence there, this "tap" is the other
        leg's, its points put on this leg by the pose model (the far leg read on the near one). (Straight
        legs lowered from near vertical with their knees misread are no tap: both legs go down.)"""
        if ph.top_angle >= self.config.straight_other_leg_deg:
            return False
        # A copy may touch bottom for a frame or two, where the other leg can go unseen.
        at_bottom = (t >= ph.d_end - _COPY_MARGIN_S) & (t <= ph.a_start + _COPY_MARGIN_S)
        seen = at_bottom & np.isfinite(elev[:, 1 - side])
        if not seen.any():
            return False
        other_down = float(np.median(elev[seen, 1 - side])) < self.config.tabletop_other_leg_deg
        return other_down and float(np.mean(conf[seen, 1 - side])) > float(np.mean(conf[seen, side]))

    def _variant(self, moving: Moving, side: int, other_elev: np.ndarray, knee_rep: np.ndarray) -> str:
        """What the camera sees: both legs together, one leg with the other foot down or held up
        straight (leg drops), or tabletop taps."""
        if moving == "both":
            return "double_leg"
        cfg = self.config
        other_ok = other_elev[np.isfinite(other_elev)]
        if len(other_ok) >= 3:
            held = float(np.median(other_ok))
            tabletop = cfg.tabletop_other_leg_deg <= held < cfg.straight_other_leg_deg
        else:
            # The resting leg is hidden: a moving knee held near 90° is a heel tap.
            tabletop = len(knee_rep) > 0 and float(np.median(knee_rep)) < cfg.tabletop_knee_deg
        return "heel_tap" if tabletop else "single_leg"

    # -- measurement ----------------------------------------------------------------------------
    def _measure(self, side: int, i_from: int, i_turn: int, i_now: int,
                 kind: Literal["top", "floor"]) -> Rep | None:
        """The rep on `side` from sample i_from: a top rep's previous top, lowest point, and top at
        i_turn; a floor rep's lift-off, its top and landing at i_turn. Samples run on to i_now."""
        cfg = self.config
        t, elev, knee, conf = self._arrays(i_from, i_now)
        turn = i_turn - i_from

        def rejected(start: float, end: float, why: str) -> None:
            self._note_why(start, end, False, f"{SIDES[side]} leg {_ORDER[kind]}: {why}")

        if t[turn] - t[0] > cfg.max_rep_s:
            rejected(t[0], t[turn], f"over {cfg.max_rep_s:.0f} s long")
            return None
        phases = _phases if kind == "top" else _floor_phases
        ph = _dense_phases(phases, t, elev[:, side], turn, cfg)
        # Whether the other leg moved is judged over this rep only: between two heel taps of one leg
        # the other leg makes its own tap.
        in_rep = (t >= ph.start) & (t <= ph.end)
        moved = (t >= min(ph.start, ph.first_off if ph.first_off is not None else ph.start)) & (t <= ph.end)
        own_range = float(np.ptp(_interp_nan(t, elev[:, side])[moved])) if moved.any() else 0.0
        other = elev[:, 1 - side]
        other_ok = other[moved & np.isfinite(other)]
        other_range = float(np.ptp(other_ok)) if len(other_ok) > 3 else 0.0
        moving: Moving = "both" if other_range >= cfg.both_legs_ratio * own_range else SIDES[side]
        own_knee = knee[:, side][in_rep]
        own_knee = own_knee[np.isfinite(own_knee)]
        # Knees bent all through, lowered from tabletop and back: one leg's heel tap, whatever the pose
        # model read into the other leg (the legs overlap from the side).
        tapping = (kind == "top" and len(own_knee) > 0 and ph.top_angle >= cfg.tabletop_other_leg_deg
                   and float(np.median(own_knee)) < cfg.leg_lift_min_knee_deg)
        if tapping and self._copied_tap(side, t, elev, conf, ph):
            rejected(ph.start, ph.end, f"the {SIDES[1 - side]} leg was down at the mat too at its bottom, "
                     "and seen surer: the pose model read this leg where that one was (in a heel tap "
                     "the other leg stays up)")
            return None
        if tapping:
            moving = SIDES[side]
        if moving == "both":
            sig, knee_sig = _weighted_mean(elev, conf), _weighted_mean(knee, conf)
            ph = _dense_phases(phases, t, sig, turn, cfg)
            in_rep = (t >= ph.start) & (t <= ph.end)
        else:
            sig, knee_sig = elev[:, side], knee[:, side]
        if ph.pause > cfg.max_bottom_pause_s:
            rejected(ph.start, ph.end, f"held {ph.pause:.1f} s at the bottom, over "
                     f"{cfg.max_bottom_pause_s:.0f} s")
            return None
        if kind == "top" and self._posture == "lying" and self._rested_between(t, elev, ph):
            rejected(ph.start, ph.end, f"both legs lay on the mat {ph.pause:.1f} s between the lowering and "
                     "the raising: a rest, which ends any rep")
            return None
        seen = int(np.isfinite(sig[in_rep]).sum())
        # Frames where nobody was found at all never reach the segmenter: the rep's frames are counted
        # from its span at the input's frame rate.
        frame_dt = self._frame_dt()
        frames = max(int(in_rep.sum()), round((ph.end - ph.start) / frame_dt) + 1)
        around = (t >= ph.start - _AROUND_S) & (t <= ph.end + _AROUND_S)
        if seen < _SEEN_SHARE * frames and not _seen_around_turn(t[around], sig[around], kind, frame_dt):
            # Mostly bridged over frames where the legs were not seen, and not seen where it turned: a
            # few stray points make no move.
            rejected(ph.start, ph.end, f"legs seen in {seen} of its {frames} frames, and not held "
                     f"{_TURN_SEEN} frames where it turned")
            return None
        knee_rep = knee_sig[in_rep]
        knee_rep = knee_rep[np.isfinite(knee_rep)]
        hanging = self._posture == "hanging"
        if hanging:
            variant = "hanging"
        else:
            variant = "heel_tap" if tapping else self._variant(moving, side, other[in_rep], knee_rep)
        knees_bent_through = len(knee_rep) and float(np.median(knee_rep)) < cfg.leg_lift_min_knee_deg
        if knees_bent_through and not (tapping or hanging):
            rejected(ph.start, ph.end, f"knees bent to {np.median(knee_rep):.0f}° throughout (median), not "
                     "lowered from tabletop: a crunch, a bridge or a knee tuck, not a leg lift")
            return None
        min_knee = _lowest_sustained(knee_rep, _knee_run(t[in_rep]))
        swing = np.array(list(self._swing)[i_from - self._first: i_now - self._first + 1])[in_rep]
        swing = swing[np.isfinite(swing)]
        return Rep(
            start_t=round(ph.start, 3),
            end_t=round(ph.end, 3),
            moving=moving,
            variant=variant,
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
            order=kind,
            swing_deg=round(float(np.ptp(swing)), 1) if len(swing) else 0.0,
        )


@dataclass(frozen=True, slots=True)
class _Phases:
    """The lowering (d_) and the raising (a_) of a rep, in either order; the rep spans start..end."""

    start: float
    end: float
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
    # A floor rep: when the leg first rose off the mat (None for a top rep). A pose model that reads one
    # leg of a double-leg lift leaving late has the other already well up by `start`.
    first_off: float | None = None

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
    highest = float(s[: tr + 1].max())
    d_start = min(d_start, _left_hold(t, s, int(np.searchsorted(t, d_start)),
                                      highest - 0.25 * (highest - bottom_v)))
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
        start=d_start,
        end=a_end,
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


def _floor_phases(t: np.ndarray, s: np.ndarray, land: int, cfg: RepConfig) -> _Phases:
    """Raising, top and lowering of a floor rep: s leaves the mat at index 0, goes up, and is back
    down at index `land` (the legs of a double-leg rep may still be landing after it). The rep starts
    where the legs were last down before rising: legs dangling from a bar sway first, and a pose model's
    reading of legs lying on the mat wobbles by more than the share of the rep's height that tells them
    down."""
    peak = int(np.argmax(s[: land + 1]))
    top_v, start_v = float(s[peak]), float(np.min(s[: peak + 1]))
    land = peak + int(np.argmin(s[peak:]))
    land_v = float(s[land])
    s = _median3(s)
    v = local_slope(t, s, cfg.speed_window_s)

    def move(lo: int, hi: int, sign: float, low_v: float) -> tuple[float, float]:
        """Bounds of the raise (sign +1) or the lowering (-1) between the mat (low_v) and the top."""
        q1, q3 = low_v + 0.25 * (top_v - low_v), low_v + 0.75 * (top_v - low_v)
        low_end, high_end = s <= q1, s >= q3
        return _motion_bounds(t, s, lo, hi, sign, top_v - low_v, (s > q1) & (s < q3),
                              low_end if sign > 0 else high_end, high_end if sign > 0 else low_end, cfg)

    a_start, a_end = move(0, peak, +1.0, start_v)
    d_start, d_end = move(peak, land, -1.0, land_v)
    d_start = max(d_start, a_end)
    # The rep itself is bounded where the legs leave the mat and are back on it: a lowering that eases
    # onto the mat is still under way while it slows, until the legs are down.
    near = _FLOOR_NEAR * (top_v - min(start_v, land_v))
    off = np.nonzero(s[: peak + 1] > start_v + near)[0]
    # Legs low and not rising (slower than the share of the raise's speed that marks a move's start)
    # still lie on the mat: a pose model reads legs lying there a few degrees over their lowest reading.
    still = np.abs(v) < cfg.motion_speed_fraction * (top_v - start_v) / max(a_end - a_start, 1e-6)
    low = (s <= start_v + near) | (still & (s <= start_v + 2 * near))
    on = np.nonzero(low[: peak + 1])[0]
    down = np.nonzero(s[peak : land + 1] <= land_v + near)[0]
    start = float(t[on[-1]]) if len(on) else a_start
    end = float(t[peak + down[0]]) if len(down) else d_end
    # The level the legs settle at on top before the lowering: a swing past it is an overshoot.
    held = s[peak : max(peak + 1, int(np.searchsorted(t, d_start)))]
    held = held[held >= (top_v + start_v) / 2]
    level = float(np.median(held)) if len(held) > 2 else top_v
    return _Phases(
        start=min(start, a_start),
        end=max(end, d_end),
        d_start=d_start,
        d_end=d_end,
        a_start=a_start,
        a_end=a_end,
        top_angle=level,
        bottom=min(start_v, land_v),
        peak_up_speed=float(v[: peak + 1].max()),
        # No turnaround at the bottom inside the rep: nothing to bounce out of.
        in_speed=0.0,
        out_speed=0.0,
        overshoot=max(0.0, top_v - level),
        first_off=float(t[max(0, off[0] - 1)]) if len(off) else None,
    )


def _same_rep(start: float, end: float, moving: Moving, rep: Rep) -> bool:
    """Both legs of a double-leg rep find it: spans sharing over half the shorter one, either of them
    "both", are one rep."""
    overlap = min(end, rep.end_t) - max(start, rep.start_t)
    shorter = min(end - start, rep.end_t - rep.start_t)
    return "both" in (moving, rep.moving) and shorter > 0 and overlap > 0.5 * shorter


def _moves(rep: Rep) -> str:
    lower = f"lowered {rep.top_angle_deg:.0f}° → {rep.bottom_angle_deg:.0f}° in {rep.descent_s:.1f} s"
    raise_ = f"raised in {rep.ascent_s:.1f} s"
    return f"{raise_}, {lower}" if rep.order == "floor" else f"{lower}, {raise_}"


def _weighted_mean(values: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Per-sample mean of the two legs weighted by confidence; NaN where neither leg was seen."""
    w = np.where(np.isfinite(values), np.maximum(conf, 1e-3), 0.0)
    total = w.sum(1)
    return np.where(total > 0, np.nansum(values * w, 1) / np.maximum(total, 1e-9), np.nan)


def _running_median(x: np.ndarray, n: int) -> np.ndarray:
    """Running median over n (odd) samples, the ends kept as they are."""
    if len(x) < n:
        return x
    half = n // 2
    stacked = np.lib.stride_tricks.sliding_window_view(x, n)
    return np.concatenate([x[:half], np.median(stacked, axis=1), x[len(x) - half:]])


def _knee_run(t: np.ndarray) -> int:
    """Samples (odd, at least 3) that span `_KNEE_RUN_S` at the frame rate of these times."""
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    n = round(_KNEE_RUN_S / dt) if dt > 0 else 3
    return max(3, n | 1)


def _lowest_sustained(x: np.ndarray, n: int) -> float:
    """The lowest median of n consecutive samples: one wild keypoint, at either end too, is no bend."""
    if len(x) < n:
        return float(np.median(x)) if len(x) else float("nan")
    half = n // 2
    return float(np.min(_running_median(x, n)[half:len(x) - half]))  # without its unfiltered ends


def _median3(x: np.ndarray) -> np.ndarray:
    """Three-sample running median: one wild keypoint must not look like a stop or a burst."""
    return _running_median(x, 3)
