"""Rep segmentation and measurement on leg-elevation curves built here, independent of the simulator."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from edge.analysis.kinematics import BodyAngles
from edge.analysis.reps import Rep, RepSegmenter


def _ramp_move(a: float, b: float, dur: float, ramp: float, fps: float) -> list[float]:
    """Angles of a move from a to b: constant speed with cosine-shaped speed-up and slow-down."""
    n = max(2, round(dur * fps))
    tau = np.linspace(0, dur, n, endpoint=False)
    v = np.ones(n)
    r = min(ramp, dur / 2)
    v[tau < r] = 0.5 * (1 - np.cos(math.pi * tau[tau < r] / r))
    tail = tau > dur - r
    v[tail] = 0.5 * (1 - np.cos(math.pi * (dur - tau[tail]) / r))
    pos = np.cumsum(v)
    pos = (pos - pos[0]) / (pos[-1] - pos[0])
    return list(a + (b - a) * pos)


def _hold(a: float, dur: float, fps: float) -> list[float]:
    return [a] * max(1, round(dur * fps))


def _both(t: float, v: float, knee: float = 175.0) -> BodyAngles:
    """Both legs at elevation v."""
    return BodyAngles(t=t, posture="lying", leg_elevation=np.array([v, v]), knee_angle=np.array([knee, knee]),
                      leg_conf=np.array([0.9, 0.9]), trunk_elevation=0.0, torso_px=200.0)


def _both_legs(elevation: list[float], fps: float, wobble: float = 0.0) -> tuple[list[Rep], list[float]]:
    """Both legs through `elevation`, each frame `wobble`·sin(i) off it: the reps, and when the legs
    rested."""
    seg = RepSegmenter()
    reps, rests = [], []
    for i, v in enumerate(elevation):
        reps += seg.push(_both(i / fps, v + wobble * math.sin(i)))
        rests += [i / fps] * seg.rested
    return reps + seg.flush(), rests


def _top_rep(top: float, bottom: float, fps: float, descent: float = 4.0) -> list[float]:
    """A rep from the top: lower, raise, a second at the top."""
    lower, lift = _ramp_move(top, bottom, descent, 0.4, fps), _ramp_move(bottom, top, 1.5, 0.3, fps)
    return lower + lift + _hold(top, 1.0, fps)


def _feed(elevation: list[float], fps: float, knee: float = 175.0, other: list[float] | None = None,
          noise: float = 0.0, seed: int = 0) -> list[Rep]:
    rng = np.random.default_rng(seed)
    seg = RepSegmenter()
    reps: list[Rep] = []
    for i, e in enumerate(elevation):
        o = other[i] if other is not None else e
        elev = np.array([e, o]) + rng.normal(0, noise, 2)
        a = BodyAngles(t=i / fps, posture="lying", leg_elevation=elev, knee_angle=np.array([knee, knee]),
                       leg_conf=np.array([0.9, 0.6]), trunk_elevation=0.0, torso_px=200.0)
        reps.extend(seg.push(a))
    reps.extend(seg.flush())
    return reps


def _set_of_reps(n: int, fps: float, descent: float = 4.0, ascent: float = 1.5, pause: float = 0.5,
                 top: float = 88.0, bottom: float = 15.0) -> list[float]:
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, top, 1.5, 0.3, fps) + _hold(top, 1.0, fps)
    for _ in range(n):
        e += _ramp_move(top, bottom, descent, 0.4, fps) + _hold(bottom, pause, fps)
        e += _ramp_move(bottom, top, ascent, 0.3, fps) + _hold(top, 1.0, fps)
    return e + _ramp_move(top, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)


@pytest.mark.parametrize("fps", [10.0, 15.0, 30.0])
def test_counts_every_rep_and_not_the_lift_or_the_put_down(fps: float) -> None:
    reps = _feed(_set_of_reps(6, fps), fps, noise=0.4)
    assert len(reps) == 6
    assert all(r.moving == "both" and r.variant == "double_leg" for r in reps)


def test_measures_tempo_and_angles() -> None:
    reps = _feed(_set_of_reps(3, 30.0, descent=4.0, ascent=1.5, pause=1.0), 30.0, noise=0.3)
    assert len(reps) == 3
    for r in reps:
        assert r.descent_s == pytest.approx(4.0, abs=0.3)
        assert r.ascent_s == pytest.approx(1.5, abs=0.3)
        assert r.bottom_pause_s == pytest.approx(1.0, abs=0.3)
        assert r.top_angle_deg == pytest.approx(88.0, abs=2.0)
        assert r.bottom_angle_deg == pytest.approx(15.0, abs=2.0)
        assert r.min_knee_angle_deg == pytest.approx(175.0, abs=1.0)


def test_small_leg_moves_are_not_reps() -> None:
    fps = 30.0
    e = _hold(0.0, 2.0, fps)
    for _ in range(5):
        e += _ramp_move(0.0, 18.0, 1.0, 0.3, fps) + _ramp_move(18.0, 0.0, 1.0, 0.3, fps) + _hold(0, 1, fps)
    assert _feed(e, fps, noise=0.5) == []


def test_a_long_rest_with_legs_down_splits_what_would_look_like_a_rep() -> None:
    fps = 20.0
    e = _set_of_reps(2, fps)  # ends with legs down resting
    e += _hold(0.0, 30.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 2.0, fps)
    assert len(_feed(e, fps)) == 2


def test_one_leg_moving_with_the_other_foot_down_is_single_leg() -> None:
    fps = 30.0
    e = _set_of_reps(4, fps)
    other = [2.0] * len(e)  # bent knee, foot flat: the ankle stays on the floor
    reps = _feed(e, fps, knee=170.0, other=other, noise=0.3)
    assert len(reps) == 4
    assert {r.variant for r in reps} == {"single_leg"} and {r.moving for r in reps} == {"left"}


def test_taps_from_tabletop_are_heel_taps() -> None:
    fps = 30.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 45.0, 1.0, 0.3, fps) + _hold(45.0, 1.0, fps)
    for _ in range(5):
        e += _ramp_move(45.0, 2.0, 1.2, 0.3, fps) + _ramp_move(2.0, 45.0, 1.0, 0.3, fps) + _hold(45, 1.5, fps)
    other = [45.0] * len(e)
    reps = _feed(e, fps, knee=90.0, other=other, noise=0.3)
    assert len(reps) == 5
    assert {r.variant for r in reps} == {"heel_tap"}


def test_rep_is_reported_soon_after_the_legs_are_back_up() -> None:
    fps = 30.0
    seg = RepSegmenter()
    e = _set_of_reps(1, fps, pause=0.0)
    reported_at = None
    for i, v in enumerate(e):
        if seg.push(_both(i / fps, v)):
            reported_at = i / fps
            break
    assert reported_at is not None
    # The rep's return ends at 2 + 1.5 + 1 + 4 + 1.5 = 10 s; it must be on screen within a second.
    assert reported_at - 10.0 < 1.0


def _floor_set(n: int, fps: float, top: float = 85.0, rest_between: float = 1.0, up: float = 1.5,
               down: float = 2.0) -> tuple[list[float], list[tuple[float, float]]]:
    """Reps from the floor: raise from the mat, lower back onto it, legs resting between. Returns the
    elevations and each rep's (start, end)."""
    e = _hold(0.0, 3.0, fps)
    spans = []
    for _ in range(n):
        start = len(e) / fps
        e += _ramp_move(0.0, top, up, 0.3, fps) + _hold(top, 0.3, fps) + _ramp_move(top, 0.0, down, 0.3, fps)
        spans.append((start, len(e) / fps))
        e += _hold(0.0, rest_between, fps)
    return e + _hold(0.0, 5.0, fps), spans


@pytest.mark.parametrize("fps", [12.0, 30.0])
def test_reps_from_the_floor_are_raise_then_lower(fps: float) -> None:
    e, spans = _floor_set(4, fps)
    reps = _feed(e, fps, noise=0.4)
    assert len(reps) == 4
    for rep, (start, end) in zip(reps, spans, strict=True):
        assert rep.order == "floor"
        assert rep.start_t == pytest.approx(start, abs=0.3) and rep.end_t == pytest.approx(end, abs=0.3)
        assert rep.descent_s == pytest.approx(2.0, abs=0.4) and rep.ascent_s == pytest.approx(1.5, abs=0.4)
        assert rep.top_angle_deg == pytest.approx(85.0, abs=3.0)


def test_one_raise_and_lower_from_the_mat_is_one_rep() -> None:
    e, _ = _floor_set(1, 25.0)
    assert len(_feed(e, 25.0)) == 1


def test_a_floor_rep_is_on_screen_soon_after_the_legs_land_from_the_second_on() -> None:
    fps = 30.0
    e, spans = _floor_set(3, fps)
    seg = RepSegmenter()
    when = []
    for i, v in enumerate(e):
        a = _both(i / fps, v)
        when += [i / fps] * len(seg.push(a))
    # The first rep waits for the second landing (a set lowered to the mat from the top looks the same
    # until then); every later one is reported within half a second of landing.
    assert len(when) == 3
    assert when[0] == when[1] and when[1] - spans[1][1] < 0.5 and when[2] - spans[2][1] < 0.5


@pytest.mark.parametrize("lying_s", [5.0, 9.0])
def test_legs_resting_on_the_mat_end_the_set_and_nothing_joins_across_the_rest(lying_s: float) -> None:
    fps = 20.0
    # A set from the top, its final lowering, 5-9 s lying still with the legs down, then another set.
    e = _set_of_reps(3, fps)[: -round(5.0 * fps)] + _hold(0.0, lying_s, fps)
    e += _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _top_rep(88.0, 15.0, fps) + _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    reps, rests = _both_legs(e, fps)
    assert len(reps) == 4 and all(r.order == "top" for r in reps)
    assert all(r.end_t - r.start_t < 8.0 for r in reps)  # no rep spans the rest
    assert len(rests) >= 1


def test_a_member_shifting_a_leg_while_resting_on_the_mat_joins_nothing_across_the_rest() -> None:
    fps = 25.0
    # A set from the top, its final lowering, 7 s lying on the mat: the left leg shifts once (to 13°
    # and back), so that leg never holds still for a rest; then the next set's raise.
    e = _set_of_reps(2, fps)[: -round(5.0 * fps)]
    e += _hold(0.0, 2.5, fps) + _ramp_move(0.0, 13.0, 0.6, 0.2, fps) + _ramp_move(13.0, 0.0, 0.6, 0.2, fps)
    e += _hold(0.0, 3.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _top_rep(88.0, 15.0, fps) + _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    other = list(e)
    i = round(len(_set_of_reps(2, fps)) - 5.0 * fps + 2.5 * fps)
    other[i: i + round(1.2 * fps)] = [0.0] * round(1.2 * fps)  # the right leg lies still
    reps = _feed(e, fps, other=other, noise=0.3)
    assert len(reps) == 3, [(r.start_t, r.end_t) for r in reps]
    assert all(r.end_t - r.start_t < 8.0 for r in reps)


def test_a_heel_tap_read_into_the_other_leg_too_is_one_tap() -> None:
    # Five taps of the left leg from tabletop (45°) while the right stays up. During the third the pose
    # model puts the right leg's points (less sure: 0.6 against 0.9) on the left one on its way down,
    # and back up at tabletop at the bottom: the right leg reads a tap of its own.
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 45.0, 1.0, 0.3, fps) + _hold(45.0, 1.0, fps)
    other = list(e)
    for k in range(5):
        down, bottom = _ramp_move(45.0, 2.0, 1.2, 0.3, fps), _hold(2.0, 0.6, fps)
        up = _ramp_move(2.0, 45.0, 1.0, 0.3, fps) + _hold(45, 1.5, fps)
        e += down + bottom + up
        other += (down if k == 2 else [45.0] * len(down)) + [45.0] * (len(bottom) + len(up))
    reps = _feed(e, fps, knee=90.0, other=other, noise=0.3)
    assert len(reps) == 5, [(r.start_t, r.end_t, r.moving) for r in reps]
    assert {(r.variant, r.moving) for r in reps} == {("heel_tap", "left")}


def test_a_leg_held_low_for_longer_than_the_segmenter_remembers_breaks_nothing() -> None:
    # Raised, lowered to 35° (above the mat: no landing), back up a little (15°, less than a rep) and
    # held there 80 s, over twice as long as the segmenter keeps samples, then raised on: the bottom it
    # remembered is long gone from its buffer. (A camera off the side view read a member's legs so.)
    fps = 10.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _ramp_move(88.0, 35.0, 3.0, 0.4, fps) + _ramp_move(35.0, 50.0, 1.0, 0.3, fps)
    e += _hold(50.0, 80.0, fps) + _ramp_move(50.0, 88.0, 1.0, 0.3, fps)
    e += _hold(88.0, 1.0, fps) + _top_rep(88.0, 15.0, fps) + _ramp_move(88.0, 0.0, 2.0, 0.3, fps)
    reps = _feed(e + _hold(0.0, 5.0, fps), fps)
    assert len(reps) == 1 and reps[0].start_t > 85.0


def test_a_partial_return_is_a_rep_and_the_next_one_starts_low() -> None:
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _ramp_move(88.0, 10.0, 4.0, 0.4, fps) + _ramp_move(10.0, 50.0, 1.2, 0.3, fps) + _hold(50.0, 0.8, fps)
    e += _ramp_move(50.0, 10.0, 3.5, 0.4, fps) + _ramp_move(10.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    reps = _feed(e, fps, noise=0.3)
    assert len(reps) == 2
    assert reps[0].top_angle_deg == pytest.approx(88.0, abs=3.0)
    assert reps[1].top_angle_deg == pytest.approx(50.0, abs=3.0)


def test_a_recording_that_begins_with_the_legs_up_counts_from_the_first_rep() -> None:
    fps = 25.0
    e = _hold(88.0, 0.5, fps)
    for _ in range(3):
        e += _top_rep(88.0, 12.0, fps, descent=3.8)
    e += _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    assert len(_feed(e, fps, noise=0.3)) == 3


def test_a_top_set_lowered_to_the_mat_with_a_pause_once_is_still_a_top_set() -> None:
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    bottoms = [0.0, 20.0, 30.0, 15.0]  # the first lowered right onto the mat and held there 1.5 s
    for b in bottoms:
        e += _ramp_move(88.0, b, 4.0, 0.4, fps) + _hold(b, 1.5 if b == 0.0 else 0.3, fps)
        e += _ramp_move(b, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    reps = _feed(e, fps, noise=0.3)
    assert len(reps) == 4 and {r.order for r in reps} == {"top"}


def test_jitter_makes_no_rep_shorter_than_a_person_can_do() -> None:
    fps = 30.0
    rng = np.random.default_rng(3)
    e = list(np.repeat(rng.uniform(0, 60, 40), 3))  # the legs jumping about every 0.1 s
    assert all(r.end_t - r.start_t >= 0.8 for r in _feed(e + _hold(0.0, 3.0, fps), fps))


def test_knees_bent_all_through_is_no_leg_lift() -> None:
    # A crunch or a bridge moves the hip→ankle line too, with the knees bent ~70° and the feet down.
    fps = 25.0
    e, _ = _floor_set(3, fps, top=40.0)
    assert _feed(e, fps, knee=70.0) == []


def _floor_reps_with_knees(knee_at: Callable[[float, float], float], fps: float = 25.0) -> list[Rep]:
    """Two floor reps with straight legs, their knee read by knee_at(t, elevation)."""
    e, _ = _floor_set(2, fps)
    seg = RepSegmenter()
    reps = []
    for i, v in enumerate(e):
        reps += seg.push(_both(i / fps, v, knee=knee_at(i / fps, v)))
    return reps + seg.flush()


def test_knees_misplaced_for_a_few_frames_at_any_height_are_no_bend() -> None:
    # The pose model reads straight knees at 110–145° in runs of up to ~0.35 s, low down and up high.
    reps = _floor_reps_with_knees(lambda t, v: 120.0 if (t % 1.0) < 0.3 else 174.0)
    assert len(reps) == 2 and all(r.min_knee_angle_deg > 165 for r in reps)


def test_knees_bent_through_the_top_of_a_floor_rep_are_bent() -> None:
    # Members who bend the knees to get the legs up keep them bent while the legs are high (~0.9 s here).
    reps = _floor_reps_with_knees(lambda t, v: 128.0 if v > 60 else 174.0)
    assert len(reps) == 2 and all(r.min_knee_angle_deg < 135 for r in reps)


def test_setting_one_leg_down_and_raising_the_other_is_no_rep() -> None:
    fps = 25.0
    left = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    for _ in range(2):
        left += _top_rep(88.0, 15.0, fps)
    switch_at = len(left)
    left += _ramp_move(88.0, 2.0, 1.5, 0.3, fps)  # set down, foot flat
    right = [2.0] * len(left)
    right += _ramp_move(2.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    for _ in range(2):
        right += _top_rep(88.0, 15.0, fps)
    right += _ramp_move(88.0, 2.0, 1.5, 0.3, fps) + _hold(2.0, 5.0, fps)
    left += [2.0] * (len(right) - len(left))
    reps = _feed(left, fps, knee=172.0, other=right, noise=0.3)
    assert len(reps) == 4
    assert [r.moving for r in reps] == ["left", "left", "right", "right"]
    assert all(r.variant == "single_leg" for r in reps)
    assert switch_at / fps < reps[2].start_t


def test_legs_held_up_half_a_minute_then_set_down_one_after_the_other_is_no_rep_and_no_crash() -> None:
    """A floor "rep" waiting for the other leg to land while its lift-off falls out of the window
    (raised, held 30 s, set down left then slowly right) once crashed the station with an IndexError."""
    fps = 25.0
    up = _hold(0.0, 1.0, fps) + _ramp_move(0.0, 60.0, 1.0, 0.3, fps) + _hold(60.0, 30.5, fps)
    left = up + _ramp_move(60.0, 0.0, 1.0, 0.3, fps) + _hold(0.0, 8.0, fps)
    right = up + _hold(60.0, 1.0, fps) + _ramp_move(60.0, 0.0, 3.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    right += [0.0] * (len(left) - len(right))
    assert _feed(left, fps, other=right) == []


def test_a_rest_read_through_pose_model_steps_still_ends_the_set() -> None:
    """Lying on the mat, the legs read a few degrees off for a few frames now and then (the pose model's
    error comes and goes in steps): still a rest, so a top set and the floor set after it are each read
    their own way."""
    fps = 25.0
    e = _set_of_reps(3, fps)[: -round(5.0 * fps)]
    for _ in range(4):
        e += _hold(0.0, 1.7, fps) + _hold(4.5, 0.2, fps)
    floor, _ = _floor_set(3, fps)
    reps = _feed(e + floor, fps, noise=0.3)
    assert [r.order for r in reps] == ["top"] * 3 + ["floor"] * 3


def test_a_pause_at_the_bottom_just_short_of_a_rest_is_no_rest_when_the_legs_rise() -> None:
    """The guide's optional pause at the bottom, held a little longer: the rise after it is a rep, and
    the seconds of the rise that the rest's grace for pose-model steps covers are not counted as rest."""
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    for pause in (0.5, 3.4, 0.5):
        e += _ramp_move(88.0, 10.0, 3.0, 0.4, fps) + _hold(10.0, pause, fps)
        e += _ramp_move(10.0, 88.0, 1.0, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _ramp_move(88.0, 0.0, 2.0, 0.3, fps)
    reps, rests = _both_legs(e, fps, wobble=0.3)
    assert not rests
    assert len(reps) == 3 and {r.order for r in reps} == {"top"}


def _min_jerk(a: float, b: float, dur: float, fps: float) -> list[float]:
    """A move from a to b as people make one: speed rising and falling smoothly (minimum jerk)."""
    tau = np.linspace(0, 1, max(2, round(dur * fps)), endpoint=False)
    return list(a + (b - a) * (10 * tau**3 - 15 * tau**4 + 6 * tau**5))


@pytest.mark.xfail(strict=True, reason="a 3 s pause on the mat with the easing into and out of it reads "
                   "4.0-4.4 s still, and legs still for `rest_s` (4 s) rest; at 5 s the rests between sets "
                   "that a fidget breaks up go unseen (tests/sim tuning seeds: 2 sets lost, 1 won)")
def test_the_guides_three_second_pause_on_the_mat_is_no_rest() -> None:
    """A top set, its later reps lowered slowly onto the mat with the guide's three-second pause there:
    easing into the pause and out of it reads as still as well (4.0-4.4 s in all), and each rep is
    still one rep."""
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _min_jerk(0.0, 85.0, 1.5, fps) + _hold(85.0, 1.0, fps)
    for bottom, pause in ((15.0, 0.5), (0.0, 3.0), (0.0, 3.0)):
        e += _min_jerk(85.0, bottom, 4.5, fps) + _hold(bottom, pause, fps)
        e += _min_jerk(bottom, 85.0, 2.0, fps) + _hold(85.0, 1.0, fps)
    e += _min_jerk(85.0, 0.0, 2.0, fps) + _hold(0.0, 6.0, fps)
    reps, rests = _both_legs(e, fps, wobble=0.3)
    assert len(reps) == 3 and {r.order for r in reps} == {"top"}, reps
    assert len(rests) == 1 and rests[0] > len(e) / fps - 2.0  # the rest after the set, only


def test_a_lowering_that_creeps_down_and_then_drops_is_one_rep_from_the_top() -> None:
    """A member lowers the legs slowly for a few seconds, nearly stops, then lets them drop the rest of the
    way and bounces back up: one rep, lowered from where the legs left the top (the drop alone, 0.6 s
    with the return, is shorter than anyone lowers and raises a leg)."""
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _min_jerk(0.0, 85.0, 1.5, fps) + _hold(85.0, 1.5, fps)
    e += _top_rep(85.0, 15.0, fps)
    start = len(e) / fps
    e += _min_jerk(85.0, 67.0, 3.2, fps) + _min_jerk(67.0, 38.0, 0.4, fps) + _min_jerk(38.0, 85.0, 0.5, fps)
    e += _hold(85.0, 1.5, fps) + _top_rep(85.0, 15.0, fps)
    e += _min_jerk(85.0, 0.0, 2.0, fps) + _hold(0.0, 5.0, fps)
    reps = _feed(e, fps, noise=0.3)
    assert len(reps) == 3 and {r.order for r in reps} == {"top"}, reps
    # From the top (a held second tells where the legs left it, so the creep's first degrees are late).
    assert reps[1].start_t == pytest.approx(start, abs=1.0) and reps[1].descent_s > 2.5


def test_a_lowering_begun_as_soon_as_the_legs_came_up_starts_at_the_top() -> None:
    """A member comes back up short of vertical and at once lowers again, slowly (7°/s, never holding
    the top), then lets the legs drop: the rep was lowered from the top, over 3.4 s, not in the last
    second's drop (that would be a `fast_descent`), whatever the pose model's bump of a few degrees on
    the way down."""
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _min_jerk(0.0, 85.0, 1.5, fps) + _hold(85.0, 1.5, fps)
    e += _min_jerk(85.0, 15.0, 3.0, fps) + _min_jerk(15.0, 60.0, 0.8, fps)
    start = len(e) / fps
    creep = list(np.linspace(60.0, 44.0, round(2.4 * fps)))
    creep[30] += 5.0  # the pose model's bump: two frames of a hip read a little off
    creep[31] += 5.0
    e += creep + _min_jerk(44.0, 15.0, 1.0, fps) + _min_jerk(15.0, 85.0, 0.8, fps) + _hold(85.0, 1.5, fps)
    e += _min_jerk(85.0, 0.0, 2.0, fps) + _hold(0.0, 5.0, fps)
    reps = _feed(e, fps, noise=0.3)
    assert len(reps) == 2 and {r.order for r in reps} == {"top"}, reps
    assert reps[1].start_t == pytest.approx(start, abs=0.5) and reps[1].descent_s > 2.5, reps[1]


def test_the_first_floor_rep_after_a_long_rest_on_the_mat_is_counted() -> None:
    """A member lies still for a long while (longer than any rep), then does a set from the floor: the
    first rep starts where the legs leave the mat, not where they came to rest."""
    fps = 20.0
    e, spans = _floor_set(3, fps)
    e = _hold(0.0, 40.0, fps) + e
    reps = _feed(e, fps, noise=0.3)
    assert len(reps) == 3 and {r.order for r in reps} == {"floor"}
    assert reps[0].start_t == pytest.approx(40.0 + spans[0][0], abs=0.3)


def test_one_wild_knee_read_at_either_end_of_the_low_part_of_a_rep_is_no_bent_knee() -> None:
    """A pose model's one-frame slip of the knee, on the first and the last frame where the legs are
    low: straight legs stay straight (the ends of a running median are no reading of their own)."""
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    first = len(e)
    e += _top_rep(88.0, 10.0, fps) + _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    low = [i for i in range(first, first + len(_top_rep(88.0, 10.0, fps))) if e[i] <= 45.0]
    knee = [175.0] * len(e)
    knee[low[0]] = knee[low[-1]] = 120.0
    seg = RepSegmenter()
    reps = []
    for i, v in enumerate(e):
        reps += seg.push(_both(i / fps, v, knee[i]))
    reps += seg.flush()
    assert len(reps) == 1
    assert reps[0].min_knee_angle_deg >= 170.0


def test_legs_swinging_past_the_top_of_a_floor_rep_are_not_back_on_the_mat() -> None:
    """Raised with a swing: up past the top to 108°, back to 84° (as far as a rep's amplitude), up to
    96°, held at 88°, then lowered onto the mat in 2 s. One rep, its lowering the one to the mat."""
    fps = 30.0
    swing = _ramp_move(0.0, 108.0, 0.8, 0.2, fps) + _ramp_move(108.0, 84.0, 0.4, 0.15, fps)
    swing += _ramp_move(84.0, 96.0, 0.35, 0.1, fps) + _ramp_move(96.0, 88.0, 0.35, 0.1, fps)
    e = _hold(0.0, 3.0, fps) + swing + _hold(88.0, 1.5, fps) + _ramp_move(88.0, 0.0, 2.0, 0.3, fps)
    e += _hold(0.0, 1.0, fps)
    e += _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps) + _ramp_move(88.0, 0.0, 2.0, 0.3, fps)
    reps = _feed(e + _hold(0.0, 5.0, fps), fps, noise=0.3)
    assert len(reps) == 2 and reps[0].order == "floor"
    assert reps[0].descent_s == pytest.approx(2.0, abs=0.4)
    assert reps[0].overshoot_deg >= 15.0


def test_a_double_leg_floor_rep_ends_when_the_second_leg_is_down() -> None:
    """The pose model reads the right leg 9° up in the set's first frames (its floor is learnt there),
    and on the way down the right leg lands 0.7 s after the left: the rep ends when both are down."""
    fps = 25.0
    left = _hold(0.0, 3.0, fps) + _ramp_move(0.0, 60.0, 1.5, 0.3, fps) + _hold(60.0, 0.5, fps)
    left += _ramp_move(60.0, 0.0, 1.5, 0.3, fps) + _hold(0.0, 0.7, fps) + _hold(0.0, 5.0, fps)
    right = [9.0] * 5 + _hold(0.0, 3.0 - 5 / fps, fps) + _ramp_move(0.0, 60.0, 1.5, 0.3, fps)
    right += _hold(60.0, 0.5, fps) + _ramp_move(60.0, 0.0, 2.2, 0.3, fps) + _hold(0.0, 5.0, fps)
    right = (right + _hold(0.0, 1.0, fps))[: len(left)]
    reps = _feed(left, fps, other=right, noise=0.3)
    assert len(reps) == 1 and reps[0].moving == "both"
    assert reps[0].end_t == pytest.approx(3.0 + 1.5 + 0.5 + 2.2, abs=0.3)



def test_a_leg_hidden_on_its_way_up_and_seen_at_the_peak_of_a_swing_has_not_settled_there() -> None:
    """A top set whose raises swing 20° past the top and back; the pose model loses the right leg on
    every raise and finds it again for a few frames at the peak of the swing. Those frames agree with
    each other, but the leg was not seen holding still: the rep goes on until the legs settle, and the
    swing is measured."""
    fps = 30.0
    left = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 85.0, 1.5, 0.3, fps) + _hold(85.0, 1.0, fps)
    right = list(left)
    for _ in range(3):
        lower = _ramp_move(85.0, 20.0, 4.0, 0.4, fps) + _hold(20.0, 0.5, fps)
        swing = _ramp_move(20.0, 105.0, 1.0, 0.3, fps)
        back = _ramp_move(105.0, 85.0, 0.5, 0.2, fps) + _hold(85.0, 1.5, fps)
        left += lower + swing + back
        # Hidden from the bottom until the last 0.1 s of the swing up, hidden again as it swings back.
        peak = round(0.1 * fps)
        right += lower + [math.nan] * (len(swing) - peak) + swing[-peak:]
        right += [math.nan] * round(0.4 * fps) + back[round(0.4 * fps):]
    tail = _ramp_move(85.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    reps = _feed(left + tail, fps, other=right + tail, noise=0.3)
    assert len(reps) == 3
    assert all(r.overshoot_deg >= 12.0 for r in reps), [r.overshoot_deg for r in reps]


def _feed_tilted(elevation: list[float], tilt: list[float], fps: float, jitter: float, seed: int = 0,
                 keep: Callable[[int], bool] = lambda i: True) -> list[Rep]:
    """Both legs at `elevation`, the whole lying body read `tilt` degrees up (legs and trunk alike),
    each keypoint-derived angle with per-frame jitter; frames where `keep` is false never arrive (nobody
    was found in them)."""
    rng = np.random.default_rng(seed)
    seg = RepSegmenter()
    reps: list[Rep] = []
    for i, (e, up) in enumerate(zip(elevation, tilt, strict=True)):
        if not keep(i):
            continue
        elev = e + up + rng.normal(0, jitter, 2)
        a = BodyAngles(t=i / fps, posture="lying", leg_elevation=elev, knee_angle=np.array([175.0, 175.0]),
                       leg_conf=np.array([0.9, 0.9]), trunk_elevation=up + float(rng.normal(0, jitter)),
                       torso_px=200.0)
        reps.extend(seg.push(a))
    return reps + seg.flush()


@pytest.mark.parametrize("rest", [0.8, 1.2])
@pytest.mark.parametrize("seed", range(6))
def test_a_floor_set_filmed_along_the_body_lands_on_the_mat_though_the_body_reads_tilted(
        seed: int, rest: float) -> None:
    """As on a real clip filmed from the feet end: while the legs lie on the mat between reps the whole
    body (legs and trunk) reads 14° up from where it lay at the start of the set, flat again just before
    the legs lift, and every angle jitters by 2° a frame. Each raise and lowering is one rep, starting
    where the legs leave the mat."""
    fps = 25.0
    e, spans = _floor_set(3, fps, top=100.0, rest_between=rest)
    starts = [round(s * fps) for s, _ in spans]
    flat_again = {i for s in starts for i in range(s - round(0.3 * fps), s)}
    tilt = [0.0 if i < starts[1] - rest * fps or i in flat_again else 14.0 for i in range(len(e))]
    reps = _feed_tilted(e, tilt, fps, jitter=2.0, seed=seed)
    assert len(reps) == 3 and {r.order for r in reps} == {"floor"}
    for rep, (start, end) in zip(reps, spans, strict=True):
        assert rep.start_t == pytest.approx(start, abs=0.3) and rep.end_t == pytest.approx(end, abs=0.3)


def test_legs_low_and_a_flat_trunk_are_no_landing_when_the_legs_hover() -> None:
    """The same jitter, the trunk flat: a top set lowered to 15° with a pause stays a top set."""
    fps = 30.0
    e = _set_of_reps(4, fps, bottom=15.0, pause=0.8)
    reps = _feed_tilted(e, [0.0] * len(e), fps, jitter=1.5)
    assert len(reps) == 4 and {r.order for r in reps} == {"top"}


def test_a_raise_and_lower_seen_on_a_few_frames_where_nobody_was_found_on_the_others_is_no_rep() -> None:
    """The detector finds the member on 1 frame in 5 while the legs go up and down: too little of the
    move was seen to call it a rep (frames where nobody was found never reach the segmenter)."""
    fps = 25.0
    e, spans = _floor_set(2, fps)
    first = range(round(spans[0][0] * fps) - 5, round(spans[0][1] * fps) + 5)
    reps = _feed_tilted(e, [0.0] * len(e), fps, jitter=0.3, keep=lambda i: i not in first or i % 5 == 0)
    assert len(reps) == 1 and reps[0].start_t == pytest.approx(spans[1][0], abs=0.3)


def test_a_rep_seen_only_where_it_turned_and_at_its_ends_is_a_rep_in_its_own_span() -> None:
    """As on a real clip filmed from the floor: the member is found only while the legs are high (feet
    leave the picture at the very top, the body lying flat is lost), on a few frames as the legs leave
    the mat and as they land: under a third of a rep's frames, but the turn is held and both ends
    are seen, so each raise and lowering is a rep, timed where the legs were seen leave and land."""
    fps = 30.0
    e, spans = _floor_set(2, fps, top=60.0, up=0.8, down=0.8, rest_between=1.5)

    def keep(i: int) -> bool:
        t = i / fps
        for start, end in spans:
            if start - 0.6 <= t <= end + 0.6:
                leaving = start - 0.05 <= t < start
                at_top = 0.45 <= (t - start) / (end - start) <= 0.62
                landed = end < t <= end + 0.05
                return t < start - 0.5 or leaving or at_top or landed
        return True

    reps = _feed_tilted(e, [0.0] * len(e), fps, jitter=0.5, keep=keep)
    assert len(reps) == 2, reps
    for rep, (start, end) in zip(reps, spans, strict=True):
        assert rep.start_t == pytest.approx(start, abs=0.3) and rep.end_t == pytest.approx(end, abs=0.3)


def test_a_floor_rep_starts_where_the_legs_lifted_though_they_lay_a_little_over_their_landing() -> None:
    """As on a real clip where the body lying flat is lost: each landing reads 8° under where the legs
    then lie, the member goes unfound for 2 s while they lie there and is seen again just before the
    next lift (the clip: the landing at 9°, the legs lying at 14-17°). Legs low and still lie on the
    mat, so each rep starts where they lift, not on the way back from the landing before."""
    fps = 30.0
    e = _hold(0.0, 3.0, fps)
    spans, lying = [], set()
    for _ in range(3):
        start = len(e) / fps
        e += _ramp_move(0.0, 60.0, 0.8, 0.2, fps) + _hold(60.0, 0.3, fps)
        e += _ramp_move(60.0, -8.0, 0.9, 0.2, fps)
        spans.append((start, len(e) / fps))
        lying |= set(range(len(e), len(e) + round(2.0 * fps)))
        e += _hold(0.0, 2.1, fps)
    e += _hold(0.0, 5.0, fps)
    reps = _feed_tilted(e, [0.0] * len(e), fps, jitter=0.3, keep=lambda i: i not in lying)
    assert len(reps) == 3, reps
    for rep, (start, end) in zip(reps, spans, strict=True):
        assert rep.start_t == pytest.approx(start, abs=0.2) and rep.end_t == pytest.approx(end, abs=0.2)


def test_a_lowering_lost_to_a_detector_dropout_is_still_one_rep() -> None:
    """A top set whose member goes unfound from the start of one 4 s lowering until the end of the
    pause at the bottom: under a third of that rep was seen, but the legs were seen at the top before
    it, at the bottom and raised again, so it is a rep, lowered over the time it went unseen."""
    fps = 12.0
    e = _set_of_reps(3, fps, descent=4.0, ascent=1.2, pause=0.6)
    lowering = round((2.0 + 1.5 + 1.0) * fps)  # after the lift to the top and a second held there
    lost = range(lowering + 1, lowering + round(4.5 * fps))
    reps = _feed_tilted(e, [0.0] * len(e), fps, jitter=0.5, keep=lambda i: i not in lost)
    assert len(reps) == 3, reps
    # Where the lowering ended went unseen: it is timed to where the legs were next seen at the bottom.
    assert 3.5 <= reps[0].descent_s <= 4.0 + 0.6 + 0.2, reps[0].descent_s
    assert all(r.descent_s == pytest.approx(4.0, abs=0.5) for r in reps[1:]), [r.descent_s for r in reps]


def test_legs_held_still_well_off_the_mat_are_no_rest() -> None:
    """A top set whose member holds the legs at 25° for 4.5 s at one bottom, the trunk flat: a long
    pause, not legs resting on the mat (those lie near where they rested or in line with the trunk), so
    the rep goes on and the set with it."""
    fps = 25.0
    e = _hold(0.0, 2.0, fps) + _ramp_move(0.0, 88.0, 1.5, 0.3, fps) + _hold(88.0, 1.0, fps)
    for pause in (0.5, 4.5, 0.5):
        e += _ramp_move(88.0, 25.0, 3.0, 0.4, fps) + _hold(25.0, pause, fps)
        e += _ramp_move(25.0, 88.0, 1.2, 0.3, fps) + _hold(88.0, 1.0, fps)
    e += _ramp_move(88.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 5.0, fps)
    reps, rested_at = _both_legs(e, fps, wobble=0.3)
    assert len(reps) == 3 and {r.order for r in reps} == {"top"}
    assert all(t > len(e) / fps - 5.0 for t in rested_at)  # the only rest: on the mat after the set


def test_a_wild_reading_at_the_top_between_unseen_frames_does_not_lose_the_rep() -> None:
    """A foot out of the picture at the top: the leg is seen on a few frames only, one of them read at the
    mat. The medians of three that find the turns leave that reading out, and so must the rep they
    measure (it was taken for the bottom, and the rep came out 0.6 s long)."""
    fps, nan = 25.0, float("nan")
    top = _ramp_move(8.0, 75.0, 0.5, 0.2, fps) + [nan] * 44 + [73.0, nan, nan, nan, 0.8] + [nan] * 7
    top += [75.0, 75.0, *_hold(75.0, 0.3, fps)]
    e = _hold(80.0, 0.5, fps) + _ramp_move(80.0, 8.0, 4.0, 0.4, fps) + _hold(8.0, 1.0, fps) + top
    e += _ramp_move(75.0, 10.0, 1.2, 0.3, fps) + _hold(10.0, 3.0, fps) + _ramp_move(10.0, 78.0, 1.5, 0.3, fps)
    e += _hold(78.0, 1.0, fps) + _ramp_move(78.0, 0.0, 2.0, 0.3, fps) + _hold(0.0, 6.0, fps)
    reps = _feed(e, fps, other=[-5.0] * len(e))
    assert [(r.order, r.moving) for r in reps] == [("top", "left")] * 2, reps
    assert reps[0].start_t == pytest.approx(0.5, abs=0.5) and reps[0].end_t == pytest.approx(5.9, abs=0.4)


def test_heel_taps_after_a_floor_set_with_no_rest_between_are_read_from_the_top() -> None:
    """A double-leg set from the floor, then knee hugs instead of a rest on the mat, then heel taps: the
    floor reading of the first set once carried over to the taps, and every tap, raised from the mat with
    the knees bent, was taken for a knee tuck (tests/sim seed 4016 with the camera off the side: a set of
    11 lost whole)."""
    fps = 25.0
    floor, _ = _floor_set(3, fps)
    legs = [(v, v, 175.0, 175.0) for v in floor[: -round(4.0 * fps)]]  # down for 1 s: no rest
    for _ in range(2):  # hug the knees to the chest and let go, lying down 2 s between
        hug = _ramp_move(0.0, 80.0, 1.0, 0.3, fps) + _hold(80.0, 2.0, fps)
        hug += _ramp_move(80.0, 0.0, 1.0, 0.3, fps)
        legs += [(v, v, 175.0 - 1.6 * v, 175.0 - 1.6 * v) for v in hug]
        legs += [(0.0, 0.0, 175.0, 175.0)] * round(2.0 * fps)
    tabletop = _ramp_move(0.0, 45.0, 1.0, 0.3, fps) + _hold(45.0, 1.0, fps)
    legs += [(v, v, 175.0 - 1.9 * v, 175.0 - 1.9 * v) for v in tabletop]
    for side in (0, 1, 0, 1):
        tap = _ramp_move(45.0, 2.0, 1.2, 0.3, fps) + _ramp_move(2.0, 45.0, 1.0, 0.3, fps)
        tap += _hold(45.0, 1.5, fps)
        legs += [(v, 45.0, 90.0, 90.0) if side == 0 else (45.0, v, 90.0, 90.0) for v in tap]
    legs += [(0.0, 0.0, 175.0, 175.0)] * round(6.0 * fps)
    seg = RepSegmenter()
    reps: list[Rep] = []
    for i, (left, right, knee_l, knee_r) in enumerate(legs):
        reps += seg.push(BodyAngles(t=i / fps, posture="lying", leg_elevation=np.array([left, right]),
                                    knee_angle=np.array([knee_l, knee_r]), leg_conf=np.array([0.9, 0.9]),
                                    trunk_elevation=0.0, torso_px=200.0))
    reps += seg.flush()
    assert [(r.variant, r.order) for r in reps] == [("double_leg", "floor")] * 3 + [("heel_tap", "top")] * 4


def test_a_tap_held_on_the_mat_then_raised_while_nobody_was_seen_is_a_rep_not_a_rest() -> None:
    """Heel taps: a heel held on the mat 2.6 s, then the member goes unseen for 1.5 s (someone walks
    past) and is seen again with that leg back at tabletop: they did not rest 4 s on the mat, and the
    tap counts. (Taken as still up to the frame they were seen again, the unseen time was rest, and the
    tap was lost.)"""
    fps, nan = 25.0, float("nan")
    e = _hold(45.0, 2.0, fps)
    for pause in (0.5, 2.6, 0.5):
        e += _ramp_move(45.0, 0.0, 1.2, 0.3, fps) + _hold(0.0, pause, fps)
        e += [nan] * round(1.5 * fps) if pause > 2 else _ramp_move(0.0, 45.0, 0.8, 0.2, fps)
        e += _hold(45.0, 1.5, fps)
    e += _hold(45.0, 3.0, fps)
    other = [nan if math.isnan(v) else 45.0 for v in e]
    reps = _feed(e, fps, knee=90.0, other=other)
    assert [r.variant for r in reps] == ["heel_tap"] * 3, reps
    assert reps[1].bottom_pause_s == pytest.approx(2.6, abs=0.5)
