"""Rep segmentation and measurement on leg-elevation curves built here, independent of the simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.kinematics import BodyAngles
from edge.reps import Rep, RepSegmenter


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


def _feed(elevation: list[float], fps: float, knee: float = 175.0, other: list[float] | None = None,
          noise: float = 0.0, seed: int = 0) -> list[Rep]:
    rng = np.random.default_rng(seed)
    seg = RepSegmenter()
    reps: list[Rep] = []
    for i, e in enumerate(elevation):
        o = other[i] if other is not None else e
        elev = np.array([e, o]) + rng.normal(0, noise, 2)
        a = BodyAngles(t=i / fps, lying=True, leg_elevation=elev, knee_angle=np.array([knee, knee]),
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
        a = BodyAngles(t=i / fps, lying=True, leg_elevation=np.array([v, v]),
                       knee_angle=np.array([175.0] * 2), leg_conf=np.array([0.9, 0.9]),
                       trunk_elevation=0.0, torso_px=200.0)
        if seg.push(a):
            reported_at = i / fps
            break
    assert reported_at is not None
    # The rep's return ends at 2 + 1.5 + 1 + 4 + 1.5 = 10 s; it must be on screen within a second.
    assert reported_at - 10.0 < 1.0
