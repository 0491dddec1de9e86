"""How far the lower back has lifted off the mat (`back_arched`), from what the camera sees.

COCO keypoints have no lumbar point, and the hips barely move when the back arches, so the evidence
is the silhouette of the trunk over the lumbar span (from a fifth to nearly half of the way from the
hips to the shoulders, placed by the keypoints), against a model of the empty scene. In each of nine
columns the body run through the trunk's midline gives two edges:
- the *underside*: when the back arches, the mat (or the room behind it) shows through under the
  lumbar span and the underside rises. From a side camera the near arm, lying on the mat beside the
  trunk ("hands at your sides"), can hide it, so it is read where it rose most;
- the *top*: the belly rises with the lumbar spine (by 0.7–1 times as much), always in view.
Each rep is compared with its own first half-second, legs up, where nobody arches: the member's own
flat back, so clothing, belly and camera height cancel out, and an arm moved or a shift along the mat
between reps is not read as a lift. Pixels become centimetres by the trunk's length (hip to shoulder
≈ 0.288 × stature, stature taken as 1.70 m).

Why a background model and not a segmentation network: a second network per frame would cost more
than the pose model, and the empty mat is seen every time nobody is on it. Limits: clothing the
colour of what is behind the trunk hides its edges (the reading is then low or missing, never high);
a bystander overlapping the span makes the frame unread rather than guessed; so does a picture the empty
scene cannot be compared with (black, a fade, a covered lens, light changed beyond what one gain explains),
until the same room is back or a changed one has been learnt again; breathing moves the belly by up to
~0.8 cm, which sets how small a lift can be called.

Frames are used only here, on the station, and only the lift in centimetres leaves this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from edge.analysis.config import BackConfig
from edge.people import KP, Person, iou

HIPS = (KP["left_hip"], KP["right_hip"])
SHOULDERS = (KP["left_shoulder"], KP["right_shoulder"])
# Trunk length (hip centre to shoulder centre) of an average adult, for pixels → cm.
TRUNK_CM = 0.288 * 170.0
# The lumbar span, as fractions of the way from the hip centre to the shoulder centre: from above the
# hands of "hands under the glutes" to the lower ribs, where the lumbar spine ends (beyond it, hands
# resting on the chest move with the arms and the breath).
SPAN = (0.22, 0.46)
COLUMNS = 9
PEAK_COLUMNS = 5
# An edge that moves this much (median, per column) while nobody moves is noise: breathing moves the
# belly by under 0.3 cm in the half second a reference takes.
UNSTEADY_CM = 1.0


@dataclass(frozen=True, slots=True)
class BackProfile:
    """One frame: heights of the trunk's top and underside over the lumbar columns (small-image pixels
    above the image's bottom row, NaN where not seen) and how many of those pixels make a centimetre."""

    t: float
    top: np.ndarray
    under: np.ndarray
    px_per_cm: float


Edge = Literal["top", "under"]
BOTH_EDGES: tuple[Edge, ...] = ("top", "under")


def rise_cm(profile: BackProfile, base: BackProfile, edges: tuple[Edge, ...] = BOTH_EDGES) -> float | None:
    """How much higher the back is in `profile` than in `base`: the larger of the edges' rises.
    The underside is the direct evidence but an arm can hide it; the top is always in view."""
    rises = [_peak_rise(getattr(profile, e), getattr(base, e)) for e in edges]
    seen = [r for r in rises if math.isfinite(r)]
    return round(max(seen) / profile.px_per_cm, 2) if seen else None


def flat_profile(profiles: list[BackProfile]) -> BackProfile | None:
    """The member's back at rest over some frames, column by column (median): the reference a rise is
    measured from. A column whose edge wanders by more than UNSTEADY_CM over these frames, while the
    member holds still, is not an edge (clothing within the difference level of what is behind it,
    caught in places): it is left out, so its noise is not read as a lift later."""
    if not profiles:
        return None
    px_per_cm = float(np.median([p.px_per_cm for p in profiles]))
    edges = []
    for stack in (np.stack([p.top for p in profiles]), np.stack([p.under for p in profiles])):
        middle = _median_seen(stack)
        wander = _median_seen(np.abs(stack - middle))
        middle[wander > UNSTEADY_CM * px_per_cm] = np.nan
        edges.append(middle)
    return BackProfile(profiles[0].t, edges[0], edges[1], px_per_cm)


# The flat reference of a rep: the first half-second, legs up at the top, where nobody arches. Taken
# afresh in every rep, so an arm moved or a shift along the mat between reps is not read as a lift.
REFERENCE_S = 0.5
# The lift of a rep is read at its bottom, where the legs pull hardest on the lower back.
BOTTOM_S = 0.3
# The onset is read from the underside alone when it rose by at least this share of the rep's lift:
# the top also moves with the breath (the belly, by up to ~0.8 cm), which on the way down reads as
# a lift beginning early; the underside does not.
UNDER_SHARE = 0.5


def rep_evidence(profiles: list[BackProfile], elevation: list[tuple[float, float]], start_t: float,
                 end_t: float) -> tuple[float | None, float | None]:
    """(lift at the bottom in cm, leg elevation where it began) of one rep; None where not seen.

    `elevation` is (t, degrees) of the moving legs over the rep.
    """
    span = _span(profiles, start_t, end_t, REFERENCE_S)
    legs = [(t, e) for t, e in elevation if start_t <= t <= end_t and math.isfinite(e)]
    if span is None or not legs:
        return None, None
    bottom_t, bottom_deg = min(legs, key=lambda te: te[1])
    rises = _rises(*span)
    lift = _at(rises, bottom_t)
    if lift is None:
        return None, None
    under = _rises(*span, ("under",))
    under_lift = _at(under, bottom_t)
    if under_lift is not None and under_lift >= UNDER_SHARE * lift:
        rises = under
    top_t = max((te for te in legs if te[0] <= bottom_t), key=lambda te: te[1])[0]
    times = np.array([t for t, _ in legs])
    degs = np.array([e for _, e in legs])
    down = [(float(np.interp(t, times, degs)), r) for t, r in rises if top_t <= t <= bottom_t]
    if lift <= 0 or len(down) < 5:
        return lift, None
    onset = _onset(np.array([e for e, _ in down]), np.array([r for _, r in down]), bottom_deg)
    return lift, None if onset is None else round(onset, 1)


def _at(rises: list[tuple[float, float]], bottom_t: float) -> float | None:
    """The rise at a rep's bottom (median of the frames within BOTTOM_S of it); None if none measured."""
    near = [r for t, r in rises if abs(t - bottom_t) <= BOTTOM_S]
    return round(float(np.median(near)), 2) if near else None


def _onset(degs: np.ndarray, rises: np.ndarray, bottom_deg: float) -> float | None:
    """Where the lift began on the way down: the break of a hinge fitted to the lift against
    cos(elevation), level above it (the abs hold the back down) and growing in proportion to the legs'
    pull on the pelvis, which goes as cos(elevation), below it. The level absorbs a reference that sat a
    little off; the break is searched every half degree between the bottom and the top."""
    pull = np.cos(np.radians(degs))
    best: tuple[float, float] | None = None
    for onset in np.arange(bottom_deg + 1.0, degs.max(), 0.5):
        x = np.maximum(0.0, pull - math.cos(math.radians(onset)))
        a = np.stack([np.ones_like(x), x], axis=1)
        coef = np.linalg.lstsq(a, rises, rcond=None)[0]
        if coef[1] <= 0:
            continue
        sse = float(np.sum((a @ coef - rises) ** 2))
        if best is None or sse < best[0]:
            best = (sse, float(onset))
    return None if best is None else best[1]


def _steady(rises: list[tuple[float, float | None]]) -> list[tuple[float, float]]:
    """Each measured rise replaced by the median of it and its two neighbours on either side: a
    single frame's edge can jump by pixels, an arching back does not."""
    seen = [(t, r) for t, r in rises if r is not None]
    values = np.array([r for _, r in seen])
    return [(t, float(np.median(values[max(0, i - 2):i + 3]))) for i, (t, _) in enumerate(seen)]


def flat_share(profiles: list[BackProfile], start_t: float, end_t: float, flat_cm: float) -> float | None:
    """Share of a hold's measured frames with the back within `flat_cm` of its start."""
    span = _span(profiles, start_t, end_t, 2 * REFERENCE_S)
    rises = [] if span is None else _rises(*span)
    if not rises:
        return None
    return round(sum(r < flat_cm for _, r in rises) / len(rises), 3)


def _span(profiles: list[BackProfile], start_t: float, end_t: float, reference_s: float
          ) -> tuple[list[BackProfile], BackProfile] | None:
    """The frames from `start_t` to `end_t` and the back in their first `reference_s`; None when none
    of those was measured."""
    mine = [p for p in profiles if start_t <= p.t <= end_t]
    base = flat_profile([p for p in mine if p.t <= start_t + reference_s])
    return None if base is None else (mine, base)


def _rises(mine: list[BackProfile], base: BackProfile, edges: tuple[Edge, ...] = BOTH_EDGES
           ) -> list[tuple[float, float]]:
    """(t, steadied rise of `edges` over `base` in cm) of each frame where they were measured."""
    return _steady([(p.t, rise_cm(p, base, edges)) for p in mine])


# The light of a frame is judged on a sparse grid of the scene, every GRID-th small pixel each way:
# a few thousand points, enough for a median and a share at a fraction of the measurement's cost.
GRID = 8
# A frame darker than this (median B + G + R over the grid, of 765) or flatter (the spread between the
# grid's 10th and 90th percentiles) is no picture of the room: lights off, a fade from or to black, a
# towel over the lens. Noise and compression draw edges of their own in it, so nothing is read or learnt.
DARK = 3 * 12.0
FLAT = 3 * 8.0
# The gain (this frame's light over the model's) is followed within this range. Beyond it the model,
# scaled, no longer predicts the room: its rounding and noise scale with it, and the body's contrast
# against the room sinks under the difference level or saturates, so edges go missing or wander.
GAIN_RANGE = (0.4, 2.5)
# A point of the background in view does not fit the model when, at the frame's gain, its B + G + R
# differs from the model's by more than a difference level per channel and by more than this share...
MISFIT_RELATIVE = 0.2
# ... and the frame does not fit when more than this share of them do not: the camera moved, the light
# changed unevenly (one bank of lamps off), something covers the lens. Measured on the footage's clips
# (their room, the people the pose model missed, compression): at most 0.21, typically under 0.05; half
# the room's light halved, 0.55; a blurred, greyed picture (a cloth over the lens) 0.38.
MISFIT_SHARE = 0.3
# A picture that has not fitted the model for this long shows a new room: the model is dropped and
# learnt again from that picture. Shorter, and a camera's exposure still settling would throw it away.
RELEARN_S = 2.0
# Fewer background points in view than this tell nothing about the light.
MIN_POINTS = 50
# A channel at or over this is (nearly) saturated: it no longer grows with the light.
SATURATED = 250


# What a frame is to the empty scene: no picture of the room at all (dark, flat); a picture that cannot be
# compared with the model (there is none yet, or too little background in view, or all of it saturated);
# one the model does not fit at any gain in GAIN_RANGE; or one it fits, at the frame's gain.
View = Literal["dark", "unjudged", "misfit", "fits"]


class EmptyScene:
    """A running picture of the scene without people, at reduced resolution.

    Updated every few frames, only where no person's box is, so whoever lies still on the mat never
    becomes background; kept at its first exposure, with a global gain, measured on the background in
    view, following lighting changes. Only the few pixels a measurement needs are taken from each frame.
    A small pixel is the mean of a whole block of frame pixels: a block mean is several times cheaper
    to compute than a resize to an arbitrary width.

    Each frame used is judged first (`light`): only one the model fits is learnt from or measured. So the
    lights going off, a covered lens or a fade pause the measurement, and the same room coming back
    resumes it at once. A picture the model keeps not fitting for RELEARN_S (the light changed unevenly
    or stepped beyond what a gain follows, the camera moved) is a new room: the model is learnt again
    from it, and whoever lies on the mat meanwhile stays unread until the mat is seen empty there.
    """

    def __init__(self, config: BackConfig) -> None:
        self.config = config
        self.background: np.ndarray | None = None  # float32, small, at the first exposure
        self.learned: np.ndarray | None = None  # bool, small: pixels seen empty at least once
        self.block = 1  # frame pixels per small pixel, each way
        self.relearned = 0  # how many times the model was dropped for a room it no longer fits
        self._frames = 0
        self._empty_run = 0
        self._judged = -1  # the frame `_view` and `_gain` were judged on
        self._view: View = "dark"
        self._gain = 1.0
        self._misfit_since: float | None = None  # start of the run of pictures the model does not fit
        self._born = 0.0  # when the model was first learnt
        self._version = 0  # counts the model's changes
        self._grid: tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # `_model_grid`
        # The last frame looked at, its pixels and their B + G + R on the judging grid, and whether it is
        # a picture (see `_picture`).
        self._looked: tuple[int, np.ndarray, np.ndarray, bool] = (-1, np.empty(0), np.empty(0), False)

    @property
    def scale(self) -> float:
        """Small-image pixels per frame pixel."""
        return 1 / self.block

    def observe(self, t: float, image: np.ndarray, people: list[Person]) -> None:
        """Take in a frame; every few frames, learn what is empty in it."""
        self.block = max(1, image.shape[1] // self.config.model_width)
        self._frames += 1
        small_shape = (image.shape[0] // self.block, image.shape[1] // self.block)
        if self.background is not None and self.background.shape[:2] != small_shape:
            # The camera came back in another mode (or another camera): a model of another picture.
            self.background = self.learned = None
            self.relearned += 1
        learning_frame = self.background is None or self._frames % self.config.model_every == 0
        if people:
            self._empty_run = 0
            if not learning_frame:
                return
        elif self._picture(image):
            # A frame with nobody in it right after frames with people is more likely the pose model
            # missing them than the scene being empty: learning it would paint a ghost of them in.
            self._empty_run += 1
            if self._empty_run < self.config.empty_frames or not learning_frame:
                return
        else:
            # Nobody detected in the dark proves nothing about the mat, and darkness is no new room.
            self._empty_run = 0
            self._misfit_since = None
            return
        self.light(image, people)
        if self._view == "dark":
            self._misfit_since = None
            return
        if self._view == "misfit":
            if self._misfit_since is None or t < self._misfit_since:
                self._misfit_since = t
            # Not learnt while it may be the exposure settling or a passing shadow. But a model learnt
            # moments ago, in a light that was still changing (a fade in, a camera's exposure settling at
            # start), is replaced at once: waiting would only keep the mat unread for longer.
            if t - self._misfit_since < RELEARN_S and t - self._born >= RELEARN_S:
                return
            self.background = self.learned = None  # a new room: learnt from this picture, below
            self.relearned += 1
        elif self._view == "unjudged" and self.background is not None:
            return  # its light is unknown, so it cannot be blended in at the model's exposure
        self._misfit_since = None
        self._version += 1
        small = self._shrink(image, 0, 0, image.shape[1] // self.block, image.shape[0] // self.block)
        free = self._free(small.shape, people)
        if self.background is None or self.learned is None:
            self.background = small.astype(np.float32)
            self.learned = free.copy()
            self._born = t
            self._judged = -1  # judged against no model: judged again against this one if asked
            return
        gain, rate = self._gain, self.config.model_rate
        # Seen empty before: blended in slowly, at the model's exposure. One blend of the whole image,
        # then the people's boxes put back, costs a third of a masked blend and touches memory once
        # (this runs beside the pose model, which slows down when its memory is shared).
        kept = [(box, self.background[box].copy()) for box in self._boxes(people)]
        cv2.addWeighted(self.background, 1 - rate, small, rate / gain, 0.0, dst=self.background,
                        dtype=cv2.CV_32F)
        for box, saved in kept:
            self.background[box] = saved
        # Never seen empty before: taken as it is. Only those pixels are scaled: a masked copy of the whole
        # scaled image cost 0.16 ms per frame on the clip, where people walking free a few pixels at a time.
        fresh = free & ~self.learned
        if fresh.any():
            self.background[fresh] = small[fresh] * np.float32(1 / gain)
        self.learned |= free

    def light(self, image: np.ndarray, people: list[Person]) -> float | None:
        """This frame's light over the model's (its gain) when the model fits the frame; None when the
        frame cannot be compared with it. Judged once per frame and only when asked for."""
        if self._judged != self._frames:
            self._view, self._gain = self._judge(image, people)
            self._judged = self._frames
        return self._gain if self._view == "fits" else None

    def patch(self, image: np.ndarray, gain: float, x0: int, y0: int, x1: int, y1: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """The frame's pixels over a region of the small image, and the empty scene's there at the
        frame's light (`gain`, from `light`), both as float32 small-image patches."""
        assert self.background is not None
        now = self._shrink(image, x0, y0, x1, y1).astype(np.float32)
        return now, _saturate(gain * self.background[y0:y1, x0:x1])

    def _shrink(self, image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """A region of the small image, each pixel the mean of its block of frame pixels."""
        b = self.block
        block = image[y0 * b:y1 * b, x0 * b:x1 * b]
        return cv2.resize(block, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)

    def _free(self, shape: tuple[int, ...], people: list[Person], step: int = 1) -> np.ndarray:
        """Where no person is, on the small image's grid (every `step`-th pixel)."""
        free = np.ones((-(-shape[0] // step), -(-shape[1] // step)), bool)
        for box in self._boxes(people, step):
            free[box] = False
        return free

    def _boxes(self, people: list[Person], step: int = 1) -> list[tuple[slice, slice]]:
        """Each person's box with room for straying limbs, as (rows, columns) of the small image's grid
        (every `step`-th pixel)."""
        k = self.scale / step
        boxes = []
        for p in people:
            x1, y1, x2, y2 = p.bbox * k
            m = 0.15 * max(x2 - x1, y2 - y1)  # limbs stray past the box
            boxes.append((slice(max(0, int(y1 - m)), max(0, int(y2 + m + 1))),
                          slice(max(0, int(x1 - m)), max(0, int(x2 + m + 1)))))
        return boxes

    def _judge(self, image: np.ndarray, people: list[Person]) -> tuple[View, float]:
        """What the frame is to the model, and its gain (1.0 unless it fits), on a sparse grid: the gain
        is the median ratio of brightness now to brightness in the model over the background in view,
        and the model fits when, at that gain, it predicts nearly all of that background."""
        if not self._picture(image):
            return "dark", 1.0
        _, view, now, _ = self._looked
        if self.background is None or self.learned is None:
            return "unjudged", 1.0
        model, bg, usable, model_exposed = self._model_grid()
        keep = self._free(self.background.shape, people, GRID) & usable
        # The gain is read where neither the frame nor the model is saturated: a pixel white in both
        # says nothing about how much brighter the room became (with them, a doubled light read as x1.6,
        # and the mat, predicted too dark, as body).
        exposed = keep & model_exposed & (_channel_max(view) < SATURATED)
        if exposed.sum() < MIN_POINTS:
            return "unjudged", 1.0
        gain = float(np.median(now[exposed] / bg[exposed]))
        if not GAIN_RANGE[0] <= gain <= GAIN_RANGE[1]:
            return "misfit", 1.0
        # What the model predicts at this gain, each channel saturating where the sensor does.
        b, g, r = (np.minimum(gain * model[..., c], np.float32(255.0)) for c in range(3))
        predicted = b + g + r
        error = np.abs(now - predicted)[keep]
        misfit = (error > 3 * self.config.difference_level) & (error > MISFIT_RELATIVE * predicted[keep])
        return ("fits", gain) if misfit.mean() <= MISFIT_SHARE else ("misfit", 1.0)

    def _picture(self, image: np.ndarray) -> bool:
        """Whether the frame is a picture of the room at all (not dark, not flat), from its own pixels on
        the judging grid, which are kept for `_judge`. Once per frame: the cheap half of judging it."""
        if self._looked[0] != self._frames:
            grid = GRID * self.block
            rows, cols = image.shape[0] // self.block, image.shape[1] // self.block  # the small image's
            view = image[:rows * self.block:grid, :cols * self.block:grid]
            now = _channel_sum(view)
            n = now.size
            ranks = (n // 10, n // 2, n * 9 // 10)
            low, mid, high = np.partition(now.ravel(), ranks)[list(ranks)]
            self._looked = (self._frames, view, now, bool(mid >= DARK and high - low >= FLAT))
        return self._looked[3]

    def _model_grid(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The model on the judging grid: its pixels, their B + G + R, where it can be compared with a
        frame (learnt, and not black), and where no channel is saturated. Kept until the model next
        changes: most frames are judged without anything being learnt."""
        if self._grid is None or self._grid[0] != self._version:
            assert self.background is not None and self.learned is not None
            model = np.ascontiguousarray(self.background[::GRID, ::GRID])
            bg = _channel_sum(model)
            self._grid = (self._version, model, bg, self.learned[::GRID, ::GRID] & (bg > 30),
                          _channel_max(model) < SATURATED)
        return self._grid[1:]


def _saturate(image: np.ndarray) -> np.ndarray:
    """A brighter picture of the model as the camera would take it: no channel over 255."""
    return np.minimum(image, np.float32(255.0), out=image)


def _channel_max(image: np.ndarray) -> np.ndarray:
    """The largest of B, G, R of each pixel (as `_channel_sum`, cheaper than numpy's `.max(axis=2)`)."""
    return np.maximum(np.maximum(image[..., 0], image[..., 1]), image[..., 2])


def _channel_sum(image: np.ndarray) -> np.ndarray:
    """B + G + R of each pixel, as float32. On a strided view three adds cost a sixth of numpy's
    `.sum(axis=2)` (which walks the short channel axis pixel by pixel)."""
    return image[..., 0].astype(np.float32) + image[..., 1] + image[..., 2]


def _mid(kps: np.ndarray, pair: tuple[int, int], min_conf: float) -> np.ndarray | None:
    ok = [i for i in pair if kps[i, 2] >= min_conf]
    return kps[ok, :2].mean(axis=0) if ok else None


class BackMeter:
    """Frame by frame: the member's trunk profile over the lumbar span, or None when it cannot be seen."""

    def __init__(self, config: BackConfig | None = None) -> None:
        self.config = config or BackConfig()
        self.scene = EmptyScene(self.config)

    def measure(self, t: float, image: np.ndarray, member: Person | None,
                others: list[Person]) -> BackProfile | None:
        everyone = ([member] if member is not None else []) + others
        ready = self.scene.background is not None
        self.scene.observe(t, image, everyone)
        if member is None or not ready:
            return None
        found = self._profile(image, member, others)
        if found is None:
            return None
        top, under, trunk_px = found
        return BackProfile(t, top, under, trunk_px * self.scene.scale / TRUNK_CM)

    def _profile(self, image: np.ndarray, member: Person, others: list[Person]
                 ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """Top and underside heights of the trunk over the lumbar columns, and the trunk's length in
        full-frame pixels."""
        c = self.config
        kps = member.keypoints
        hip, shoulder = _mid(kps, HIPS, c.min_keypoint_conf), _mid(kps, SHOULDERS, c.min_keypoint_conf)
        if hip is None or shoulder is None:
            return None
        axis = shoulder - hip
        trunk_px = float(np.hypot(*axis))
        # Lying: the trunk runs along the floor, not up it (a sitting or standing person is not measured).
        if trunk_px < c.min_trunk_px or abs(axis[1]) > 0.5 * abs(axis[0]):
            return None
        # A frame the empty scene cannot be compared with (dark, covered, the room changed) is unread:
        # its differences would be the light's, not the body's.
        gain = self.scene.light(image, [member, *others])
        if gain is None:
            return None
        assert self.scene.learned is not None and self.scene.background is not None  # a gain needs both
        s = self.scene.scale
        xs = (hip[0] + np.linspace(*SPAN, COLUMNS) * axis[0]) * s
        y_mid = (hip[1] + 0.3 * axis[1]) * s
        reach = trunk_px * s
        small_h, small_w = self.scene.learned.shape
        y0, y1 = int(max(0, y_mid - 0.9 * reach)), int(min(small_h, y_mid + 0.6 * reach))
        x0, x1 = int(max(0, xs.min() - 1)), int(min(small_w, xs.max() + 2))
        if y1 - y0 < 4 or x1 - x0 < COLUMNS:
            return None
        box = (x0 / s, y0 / s, x1 / s, y1 / s)
        # Someone else overlapping the span (a bystander behind, a trainer) makes it unreadable.
        if any(iou(p.bbox, box) > 0 for p in others):
            return None
        if not self.scene.learned[y0:y1, x0:x1].all():
            return None  # part of the span was never seen empty
        now, empty = self.scene.patch(image, gain, x0, y0, x1, y1)
        diff = np.abs(now - empty).max(axis=2)
        body = diff > c.difference_level
        # Close small holes first (clothing that matches the room in places), then drop specks.
        mask = cv2.morphologyEx(body.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 3), np.uint8))
        body = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0
        cols = np.clip(np.round(xs - x0).astype(int), 0, x1 - x0 - 1)
        # The trunk's midline (between the hip and shoulder keypoints) in each column: the edges are
        # where the body run through it ends, so a blob above or below it (a ghost, a bag) is not read.
        mids = np.round((hip[1] + np.linspace(*SPAN, COLUMNS) * axis[1]) * s - y0).astype(int)
        top = np.full(COLUMNS, np.nan)
        under = np.full(COLUMNS, np.nan)
        bottom_row = small_h
        for j, (col, mid) in enumerate(zip(cols, mids, strict=True)):
            run = body[:, col]
            if not 0 <= mid < run.size or not run[mid]:
                continue
            up = np.flatnonzero(~run[:mid][::-1])
            down = np.flatnonzero(~run[mid:])
            first = mid - (up[0] if up.size else mid)
            last = mid + (down[0] - 1 if down.size else run.size - 1 - mid)
            # Heights above the image's bottom row (the floor stays put while keypoints jitter), to a
            # fraction of a pixel: where the difference crosses the level between the edge pixel and
            # the one outside it.
            level, d = c.difference_level, diff[:, col]
            top[j] = bottom_row - (y0 + first - _beyond(d, first, first - 1, level))
            under[j] = bottom_row - (y0 + last + _beyond(d, last, last + 1, level))
        return top, under, trunk_px


def _beyond(d: np.ndarray, inside: int, outside: int, level: float) -> float:
    """How far past the last pixel over `level` (towards `outside`) the edge lies, 0–1 pixel."""
    if not 0 <= outside < d.size or d[inside] <= d[outside]:
        return 0.0
    return float(min(1.0, max(0.0, (d[inside] - level) / (d[inside] - d[outside]))))


def _peak_rise(now: np.ndarray, base: np.ndarray) -> float:
    """The largest rise of PEAK_COLUMNS neighbouring columns together (their median): the arch lifts
    the middle of the span most, an arm may hide part of the underside, and a column alone is noise."""
    rise = now - base
    if np.isfinite(rise).sum() < COLUMNS // 2:
        return math.nan
    k = PEAK_COLUMNS
    windows = np.stack([rise[i:i + k] for i in range(rise.size - k + 1)])
    means = _median_seen(windows.T)
    means[np.isfinite(windows).sum(axis=1) < k - 1] = np.nan
    return float(np.nanmax(means)) if np.isfinite(means).any() else math.nan


def _median_seen(a: np.ndarray) -> np.ndarray:
    """Median of each column over its finite values; NaN for a column with none."""
    out = np.full(a.shape[1], np.nan)
    seen = np.isfinite(a).any(axis=0)
    if seen.any():
        out[seen] = np.nanmedian(a[:, seen], axis=0)
    return out
