"""Who is on the mat: the one member lying on it (or hanging from the bar beside it), picked out of
everyone the pose model sees.

The camera looks at the mat from the side, and other people walk past behind it. Each frame the
tracker decides whether a member is on the mat, follows that member from frame to frame, smooths
their keypoints, and says when they arrive, lie down, get up, hang from a bar, let go and leave.

How the member is told apart from bystanders (all thresholds are in `TrackingConfig`):
- Once there is a member, continuity wins: the detection whose keypoints are closest to the
  member's last ones, measured in torso lengths, is the member, provided its torso is about the
  member's size. A bystander crossing the member's box is upright while the member lies, so its
  keypoints stay far away even when the boxes overlap (which is why box overlap is not used); two
  upright people crossing differ in size, the bystander being further from the camera. No new
  person is considered while there is a member, even one the detector is briefly missing.
- Without a member, a person becomes the member only after staying on the mat and nearly still for
  `state_hold_s`: bystanders walk past, so they never stay still on the mat for that long.
- "On the mat" means the person's lowest body point (where they touch the floor) lies within the mat
  region, so someone walking behind the mat, whose feet are higher in the image, is not on it.
- Before the mat region is known (no calibration), only a person lying down can become the member,
  and the mat region is then estimated from their body and kept.
- Someone hanging from a bar (torso near vertical, both hands above the head) can become the member
  wherever the bar is: gyms put the pull-up bar beside the mat, and nobody walking past hangs still
  for `state_hold_s`. Their feet are off the floor, so a hanging body never moves the mat region.

Every state change must hold for `state_hold_s` before it is reported, so one bad frame never makes
a member "leave". A member the detector misses is held for `max_gap_s`; a lying or hanging member, who
cannot walk off unseen, is kept (without keypoints) for up to `max_gap_lying_s`. Events come in balanced
pairs: every "arrived" is followed by a "left", every "lay_down" by a "got_up" and every "hang" by a
"let_go" (a member who leaves while lying gets both "got_up" and "left").
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge.analysis.smoothing import OneEuroFilter, SmoothingConfig
from edge.people import ANKLES, HIPS, KNEES, SHOULDERS, WRISTS, Person, PoseFrame

MatState = Literal["empty", "on_mat", "lying", "hanging"]
# What one frame alone says about the member; "off" = seen, but off the mat (and not hanging).
_RawState = Literal["off", "on_mat", "lying", "hanging"]
# The states a member can be in, and the events that enter and leave the exercising ones.
_MemberState = Literal["on_mat", "lying", "hanging"]
_ENTER = {"lying": "lay_down", "hanging": "hang"}
_LEAVE = {"lying": "got_up", "hanging": "let_go"}
MatRegion = tuple[float, float, float, float]

# Keypoints that can touch the floor, for the "where does this person stand or lie" point.
_BODY = (*SHOULDERS, *HIPS, *KNEES, *ANKLES)
# Fewer keypoints seen in both detections than this make their distance meaningless: no match.
_MIN_COMMON_KEYPOINTS = 3
# A newcomer's frames kept for the analysis to catch up on once they are taken as the member: the start of
# a rep they were already doing.
_RUN_KEPT_S = 5.0
# Torso lengths the member's size is the median of: 1–3 s of frames, long enough to outvote a run
# of frames with one side's shoulder or hip missing, short enough to follow a member moving closer.
_SCALE_HISTORY = 31


class TrackingConfig(BaseModel):
    """Thresholds of the mat tracker. Lengths are in torso lengths (shoulder-mid to hip-mid), so they
    hold at any resolution and camera distance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    smoothing: SmoothingConfig = SmoothingConfig()
    # Detections scored below this are ignored altogether.
    min_person_score: float = Field(0.3, ge=0, le=1)
    # Keypoints below this confidence are not used for geometry and are held by the smoother. The
    # far-side limbs of a lying member are half hidden and typically come at 0.2–0.6: still usable.
    min_keypoint_conf: float = Field(0.15, ge=0, le=1)
    # Lying: the torso is within this angle of horizontal to start lying, and within the second to stay
    # lying (a camera towards the feet foreshortens the torso, and its angle wobbles by ±20°)...
    lying_max_torso_deg: float = Field(40.0, gt=0, lt=90)
    lying_keep_torso_deg: float = Field(55.0, gt=0, lt=90)
    # ...and, to start lying, the box is at least this much wider than tall, or the feet are raised
    # above the hips (a member already at the top of a rep: the box is then about square). Someone
    # bending over has a level torso too, but a narrow box and feet on the floor.
    lying_min_aspect: float = Field(1.0, gt=0)
    # Hanging from a bar: the torso within this angle of vertical (a swinging body tilts ±30°, a
    # camera at 45° to the body foreshortens the rest)...
    hanging_max_tilt_deg: float = Field(40.0, gt=0, lt=90)
    # ...head up, and both hands at least this many torso lengths above the shoulders (arms hanging
    # straight from a bar put them 0.6–1.2 above).
    hanging_min_hands_up: float = Field(0.35, gt=0)
    # A new member must move less than this (torso lengths per second, horizontally) while waiting
    # to be accepted; people walking past move several torso lengths per second.
    max_still_speed: float = Field(0.5, gt=0)
    # How far (torso lengths) a person's lowest point may lie outside the mat region and still count
    # as on the mat: the ankle and hip keypoints sit a little above the floor they rest on.
    floor_tolerance: float = Field(0.3, ge=0)
    # Margin (torso lengths) around the first lying body when the mat region has to be estimated.
    mat_margin: float = Field(0.5, ge=0)
    # A detection is the same person if its keypoints are on average within this many torso lengths
    # of the member's last ones (a leg swinging during a short dropout moves the mean by ~0.3)...
    match_max_dist: float = Field(0.75, gt=0)
    # ...and its torso is no more than this factor longer or shorter. The torso keeps its length in
    # the side view whatever the posture, while a bystander walking behind the mat is further from
    # the camera and looks smaller; this is what tells two upright people apart as they cross.
    match_max_scale_ratio: float = Field(1.3, gt=1)
    # After the detector has missed the member, a detection on the mat may be this many torso lengths
    # further away per second missed: sitting up during a 1 s miss moves the upper body ~1 length.
    reacquire_speed: float = Field(1.0, ge=0)
    # A member not detected for up to this long is held where last seen; after it their keypoints are
    # unknown (None), and a member who was not lying has left.
    max_gap_s: float = Field(1.0, gt=0)
    # A lying member cannot leave without first sitting up, standing and walking off, which takes
    # several seconds in view (a hanging one: dropping, standing and walking off); vanishing while
    # lying or hanging means the detector is missing them (occlusion, a run of misses), so only an
    # absence this long counts as leaving.
    max_gap_lying_s: float = Field(8.0, gt=0)
    # A new state must hold this long before it is reported (and before a newcomer is accepted).
    state_hold_s: float = Field(0.7, ge=0)
    # Someone lying still this long off a mat region that was only estimated moves the region to them.
    mat_move_hold_s: float = Field(3.0, ge=0)

    @model_validator(mode="after")
    def _lying_gap_is_the_longer(self) -> TrackingConfig:
        if self.max_gap_lying_s < self.max_gap_s:
            raise ValueError("max_gap_lying_s must be at least max_gap_s")
        return self


@dataclass(frozen=True, slots=True)
class MatFrame:
    t: float
    # empty: nobody on the mat; on_mat: the member is there but not lying (sitting, kneeling,
    # standing); lying: on their back or side, exercise possible; hanging: from a bar, exercise
    # possible.
    state: MatState
    # (17, 3) smoothed x, y, conf in pixels; None when nobody is on the mat, or when the member has
    # not been detected for longer than max_gap_s (a lying member is kept for longer; see config).
    keypoints: np.ndarray | None
    # The member was detected in this frame (False: keypoints held through a dropout).
    observed: bool
    # Transitions decided in this frame: "arrived", "lay_down", "got_up", "hang", "let_go", "left".
    events: tuple[str, ...]
    # On the frame a member is accepted: their frames while they waited to be (state_hold_s), lying or
    # hanging, oldest first, so the analysis also sees the start of a rep begun before acceptance.
    earlier: tuple[MatFrame, ...] = ()


def _mid(kps: np.ndarray, pair: tuple[int, int], min_conf: float) -> np.ndarray | None:
    ok = [i for i in pair if kps[i, 2] >= min_conf]
    return kps[ok, :2].mean(axis=0) if ok else None


@dataclass(frozen=True, slots=True)
class _Seen:
    """One detection with the geometry the tracker judges it by."""

    person: Person
    kps: np.ndarray  # (17, 3) float64
    low_point: np.ndarray  # (x, y): the body's lowest confident point, where it meets the floor
    centre_x: float
    # Torso angle from image horizontal (0–90) and torso length in pixels; None when the shoulders or
    # hips are not seen (e.g. a standing member whose upper body is above the image).
    torso_deg: float | None
    scale: float | None

    @property
    def aspect(self) -> float:
        x1, y1, x2, y2 = self.person.bbox
        return float((x2 - x1) / max(y2 - y1, 1e-6))


def _measure(person: Person, min_conf: float) -> _Seen | None:
    """Geometry of a detection, or None when no body keypoint is seen (nothing to place it by)."""
    kps = np.asarray(person.keypoints, dtype=np.float64)
    body = [i for i in _BODY if kps[i, 2] >= min_conf]
    if not body:
        return None
    pts = kps[body, :2]
    low = pts[int(np.argmax(pts[:, 1]))]
    torso_deg = scale = None
    shoulder, hip = _mid(kps, SHOULDERS, min_conf), _mid(kps, HIPS, min_conf)
    if shoulder is not None and hip is not None:
        dx, dy = hip - shoulder
        if math.hypot(dx, dy) >= 1.0:
            torso_deg, scale = math.degrees(math.atan2(abs(dy), abs(dx))), float(math.hypot(dx, dy))
    return _Seen(person=person, kps=kps, low_point=low, centre_x=float(pts[:, 0].mean()),
                 torso_deg=torso_deg, scale=scale)


@dataclass(slots=True)
class _Candidate:
    """Someone who might become the member, followed until they have stayed long enough."""

    last: _Seen
    last_t: float
    scale: float  # torso length (px) last measured
    since_t: float  # start of the current unbroken run of frames on the mat; inf while off it
    all_lying: bool  # every frame of the run was lying
    all_hanging: bool  # every frame of the run was hanging from a bar
    # (t, centre x) over the last state_hold_s, for the speed check.
    path: deque[tuple[float, float]] = field(default_factory=deque)
    # The run's detections (t, detection), handed on as the member's earlier frames if they are taken.
    run: list[tuple[float, _Seen]] = field(default_factory=list)


@dataclass(slots=True)
class _Member:
    last: _Seen
    last_t: float
    state: _MemberState
    pending: _RawState | None = None
    pending_since: float = 0.0
    # Recent torso lengths (px). One frame's length wobbles by ~20% as the far-side shoulder or hip
    # drops in and out of confidence, so the member's size is their median.
    scales: deque[float] = field(default_factory=lambda: deque(maxlen=_SCALE_HISTORY))

    @property
    def scale(self) -> float:
        return float(np.median(self.scales))


class MatTracker:
    """Frame-by-frame tracker of the member on the mat; see the module docstring for how it decides.

    mat_region: the mat's footprint in the image as x1, y1, x2, y2 pixels: x from one end of the mat
    to the other, y the band of floor it covers (from the camera low at the side, a thin band). Someone
    is on the mat when their body's mean x is between x1 and x2 and their lowest point is within the
    band, give or take `floor_tolerance`. None: estimated from the first member who lies down.
    """

    def __init__(self, config: TrackingConfig | None = None, mat_region: MatRegion | None = None) -> None:
        self.config = config or TrackingConfig()
        self._mat: MatRegion | None = None
        # The mat region was estimated from a body, not given: someone lying still long enough elsewhere
        # moves it (the first "lying" body may have been someone getting down on all fours).
        self._mat_estimated = False
        if mat_region is not None:
            x1, y1, x2, y2 = (float(v) for v in mat_region)
            self._mat = (x1, y1, x2, y2)
        self._filter = OneEuroFilter(self.config.smoothing, self.config.min_keypoint_conf)
        self._member: _Member | None = None
        self._candidates: list[_Candidate] = []

    @property
    def mat_region(self) -> MatRegion | None:
        """The mat region in use: the calibrated one, or the one estimated from the first lying member."""
        return self._mat

    # -- per-person judgements ------------------------------------------------------------------

    def _lying(self, s: _Seen, already: bool) -> bool:
        limit = self.config.lying_keep_torso_deg if already else self.config.lying_max_torso_deg
        if s.torso_deg is None or s.torso_deg > limit:
            return False
        return already or s.aspect >= self.config.lying_min_aspect or self._feet_up(s)

    def _hanging(self, s: _Seen, already: bool = False) -> bool:
        """Torso near vertical, head up, both hands seen well above the shoulders: hanging from a bar.
        Someone already hanging stays so while no hand is seen below that (hands at the bar leave the
        picture, or the model loses them in the frames where the knees come up past the face)."""
        if s.torso_deg is None or s.scale is None or 90.0 - s.torso_deg > self.config.hanging_max_tilt_deg:
            return False
        min_conf = self.config.min_keypoint_conf
        shoulder, hip = _mid(s.kps, SHOULDERS, min_conf), _mid(s.kps, HIPS, min_conf)
        hands = [s.kps[w, 1] for w in WRISTS if s.kps[w, 2] >= min_conf]
        if shoulder is None or hip is None or shoulder[1] >= hip[1] or len(hands) < (0 if already else 2):
            return False
        return all(y <= shoulder[1] - self.config.hanging_min_hands_up * s.scale for y in hands)

    def _feet_up(self, s: _Seen) -> bool:
        """Both feet seen at least half a torso length above the hips."""
        min_conf = self.config.min_keypoint_conf
        feet = [s.kps[a, 1] for a in ANKLES if s.kps[a, 2] >= min_conf]
        hip = _mid(s.kps, HIPS, min_conf)
        return len(feet) == 2 and hip is not None and s.scale is not None \
            and max(feet) < hip[1] - 0.5 * s.scale

    def _on_mat(self, s: _Seen, scale: float) -> bool:
        if self._mat is None:
            return False
        x1, y1, x2, y2 = self._mat
        tol = self.config.floor_tolerance * scale
        return x1 <= s.centre_x <= x2 and y1 - tol <= s.low_point[1] <= y2 + tol

    def _distance(self, ref: _Seen, scale: float, s: _Seen) -> float:
        """How far detection s is from a person last seen as ref (torso length `scale`), in torso
        lengths; inf when it cannot be the same person."""
        if s.scale is not None and not (1 / self.config.match_max_scale_ratio
                                        <= s.scale / scale <= self.config.match_max_scale_ratio):
            return math.inf
        min_conf = self.config.min_keypoint_conf
        common = (ref.kps[:, 2] >= min_conf) & (s.kps[:, 2] >= min_conf)
        if common.sum() < _MIN_COMMON_KEYPOINTS:
            return math.inf
        return float(np.hypot(*(ref.kps[common, :2] - s.kps[common, :2]).T).mean() / scale)

    def _closest(self, ref: _Seen, scale: float, seen: list[_Seen]) -> int | None:
        dists = [self._distance(ref, scale, s) for s in seen]
        best = int(np.argmin(dists)) if dists else -1
        return None if best < 0 or dists[best] > self.config.match_max_dist else best

    def _find_member(self, member: _Member, seen: list[_Seen], t: float) -> _Seen | None:
        """The member's detection in this frame, if any.

        After a dropout the member may have moved further than a frame-to-frame match allows, so
        the allowance grows with the time missed, but only for a detection on the mat (or still
        hanging from the bar the member hung from).
        """
        grown = self.config.match_max_dist + self.config.reacquire_speed * (t - member.last_t)
        best, best_d = None, math.inf
        for s in seen:
            d = self._distance(member.last, member.scale, s)
            still_there = self._on_mat(s, member.scale) or (member.state == "hanging"
                                                            and self._hanging(s, already=True))
            near = d <= self.config.match_max_dist or (d <= grown and still_there)
            if near and d < best_d:
                best, best_d = s, d
        return best

    @property
    def _mat_movable(self) -> bool:
        return self._mat is None or self._mat_estimated

    def _estimate_mat(self, s: _Seen, scale: float) -> MatRegion:
        """A mat region around a lying body: head to feet plus a margin, and a thin band at the floor."""
        xs = s.kps[s.kps[:, 2] >= self.config.min_keypoint_conf, 0]
        m = self.config.mat_margin * scale
        floor_y = float(s.low_point[1])
        return (float(xs.min()) - m, floor_y - 0.5 * m, float(xs.max()) + m, floor_y + 0.5 * m)

    # -- the frame loop -------------------------------------------------------------------------

    def update(self, frame: PoseFrame) -> MatFrame:
        t = frame.t
        seen = [s for p in frame.people if p.score >= self.config.min_person_score
                and (s := _measure(p, self.config.min_keypoint_conf)) is not None]
        if self._member is None:
            return self._look_for_member(t, seen)
        return self._follow_member(t, seen, self._member)

    def _follow_member(self, t: float, seen: list[_Seen], member: _Member) -> MatFrame:
        s = self._find_member(member, seen, t)
        if s is None:
            gap = t - member.last_t
            limit = self.config.max_gap_lying_s if member.state in _ENTER else self.config.max_gap_s
            if gap > limit:
                return self._leave(t, member)
            held = self._filter.estimate if gap <= self.config.max_gap_s else None
            return MatFrame(t, member.state, held, observed=False, events=())

        member.last, member.last_t = s, t
        if s.scale is not None:
            member.scales.append(s.scale)
        keypoints = self._filter.update(t, s.kps)
        raw: _RawState
        if s.torso_deg is None:
            # Posture unknown (torso not seen): only where they are can change.
            raw = member.state if self._on_mat(s, member.scale) else "off"
        elif self._lying(s, already=member.state == "lying"):
            raw = "lying"
        elif self._hanging(s, already=member.state == "hanging"):
            raw = "hanging"
        elif self._on_mat(s, member.scale):
            raw = "on_mat"
        else:
            raw = "off"

        if raw == member.state:
            member.pending = None
            return MatFrame(t, member.state, keypoints, observed=True, events=())
        if member.pending != raw:
            member.pending, member.pending_since = raw, t
        if t - member.pending_since < self.config.state_hold_s:
            return MatFrame(t, member.state, keypoints, observed=True, events=())
        if raw == "off":
            return self._leave(t, member)
        events = tuple(e for e in (_LEAVE.get(member.state), _ENTER.get(raw)) if e)
        member.state, member.pending = raw, None
        return MatFrame(t, raw, keypoints, observed=True, events=events)

    def _leave(self, t: float, member: _Member) -> MatFrame:
        events = (_LEAVE[member.state], "left") if member.state in _LEAVE else ("left",)
        self._member = None
        self._filter.reset()
        return MatFrame(t, "empty", None, observed=False, events=events)

    def _look_for_member(self, t: float, seen: list[_Seen]) -> MatFrame:
        hold = self.config.state_hold_s
        # Posture and size are what a newcomer is judged by, so only people whose torso is seen count.
        unclaimed = [s for s in seen if s.scale is not None]
        for cand in self._candidates:
            best = self._closest(cand.last, cand.scale, unclaimed)
            if best is None:
                continue
            s = unclaimed.pop(best)
            cand.last, cand.last_t, cand.scale = s, t, s.scale or cand.scale
            lying = self._lying(s, already=cand.all_lying and not math.isinf(cand.since_t))
            hanging = self._hanging(s)
            if not (self._on_mat(s, cand.scale) or (lying and self._mat_movable) or hanging):
                # Stepped off (or never was on): the wait starts again when they are back on.
                cand.since_t, cand.all_lying, cand.all_hanging = math.inf, True, True
                cand.path.clear()
                cand.run.clear()
                continue
            if math.isinf(cand.since_t):
                cand.since_t, cand.all_lying, cand.all_hanging = t, lying, hanging
            cand.all_lying &= lying
            cand.all_hanging &= hanging
            cand.path.append((t, s.centre_x))
            cand.run.append((t, s))
            while cand.run[0][0] < t - _RUN_KEPT_S:
                del cand.run[0]
            while len(cand.path) > 1 and cand.path[1][0] <= t - hold:
                cand.path.popleft()

        self._candidates = [c for c in self._candidates if t - c.last_t <= self.config.max_gap_s]
        for s in unclaimed:
            scale = s.scale or 0.0  # never 0: unclaimed only holds people whose torso is seen
            lying, hanging = self._lying(s, already=False), self._hanging(s)
            if self._on_mat(s, scale) or (lying and self._mat_movable) or hanging:
                self._candidates.append(_Candidate(s, t, scale, t, lying, hanging, deque([(t, s.centre_x)]),
                                                   [(t, s)]))

        ready = [c for c in self._candidates if c.last_t == t and self._ready(c, t)]
        if not ready:
            return MatFrame(t, "empty", None, observed=False, events=())
        # Someone lying beats someone hanging beats someone standing; then the one who has waited longest.
        chosen = min(ready, key=lambda c: (not c.all_lying, not c.all_hanging, c.since_t))
        self._candidates = []
        state: _MemberState = "lying" if chosen.all_lying else "hanging" if chosen.all_hanging else "on_mat"
        if state != "hanging" and (self._mat is None or (self._mat_estimated
                                                         and not self._on_mat(chosen.last, chosen.scale))):
            self._mat = self._estimate_mat(chosen.last, chosen.scale)
            self._mat_estimated = True
        self._member = _Member(chosen.last, t, state)
        self._member.scales.append(chosen.scale)
        self._filter.reset()
        earlier: tuple[MatFrame, ...] = ()
        if state in _ENTER:
            earlier = tuple(MatFrame(te, state, self._filter.update(te, seen.kps), observed=True, events=())
                            for te, seen in chosen.run[:-1])
        keypoints = self._filter.update(t, chosen.last.kps)
        events = ("arrived", _ENTER[state]) if state in _ENTER else ("arrived",)
        return MatFrame(t, state, keypoints, observed=True, events=events, earlier=earlier)

    def _ready(self, cand: _Candidate, t: float) -> bool:
        if math.isinf(cand.since_t) or t - cand.since_t < self.config.state_hold_s:
            return False
        if self._mat is None and not (cand.all_lying or cand.all_hanging):
            return False
        if self._mat is not None and not self._on_mat(cand.last, cand.scale) and not cand.all_hanging \
                and (not cand.all_lying or t - cand.since_t < self.config.mat_move_hold_s):
            return False
        t0, x0 = cand.path[0]
        speed = abs(cand.last.centre_x - x0) / (t - t0) if t > t0 else 0.0
        return speed <= self.config.max_still_speed * cand.scale


def track(frames: Iterable[PoseFrame], config: TrackingConfig | None = None,
          mat_region: MatRegion | None = None) -> list[MatFrame]:
    """Run a fresh tracker over a whole sequence of frames."""
    tracker = MatTracker(config, mat_region)
    return [tracker.update(f) for f in frames]
