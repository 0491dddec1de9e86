"""The One-Euro keypoint smoother: quiet when still, close behind when moving, deaf to unsure keypoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from edge.analysis.smoothing import OneEuroFilter, SmoothingConfig

ANKLE = 15
HIP = np.array([600.0, 500.0])
LEG_PX = 350.0  # hip to ankle, a leg on a 720p side view


def _still_pose(rng: np.random.Generator, noise: float) -> np.ndarray:
    kps = np.column_stack([np.linspace(300, 900, 17), np.full(17, 400.0), np.full(17, 0.9)])
    kps[:, :2] += rng.normal(0, noise, (17, 2))
    return kps


def _swinging_leg(t: float, rng: np.random.Generator, noise: float, speed_dps: float = 60.0) -> np.ndarray:
    """All keypoints at the hip except the ankle, which circles it at speed_dps."""
    kps = np.tile([*HIP, 0.9], (17, 1))
    a = math.radians(speed_dps * t)
    kps[ANKLE, :2] = HIP + LEG_PX * np.array([math.cos(a), -math.sin(a)]) + rng.normal(0, noise, 2)
    return kps


def _ankle_angle(kps: np.ndarray) -> float:
    v = kps[ANKLE, :2] - HIP
    return math.degrees(math.atan2(-v[1], v[0]))


@pytest.mark.parametrize(("fps", "noise", "factor"), [(30.0, 2.0, 10.0), (30.0, 4.0, 8.0), (15.0, 3.0, 5.0)])
def test_still_pose_jitter_is_mostly_removed(fps: float, noise: float, factor: float) -> None:
    rng = np.random.default_rng(0)
    f = OneEuroFilter()
    raw, out = [], []
    for i in range(round(8 * fps)):
        kps = _still_pose(rng, noise)
        raw.append(kps[:, :2])
        out.append(f.update(i / fps, kps)[:, :2])
    skip = round(fps)  # the first second settles from the first observation
    assert np.var(raw[skip:], axis=0).mean() > factor * np.var(out[skip:], axis=0).mean()


@pytest.mark.parametrize("fps", [15.0, 30.0])
def test_leg_moving_at_60_degrees_per_second_lags_little(fps: float) -> None:
    rng = np.random.default_rng(1)
    f = OneEuroFilter()
    lag = []
    for i in range(round(6 * fps)):
        t = i / fps
        est = _ankle_angle(f.update(t, _swinging_leg(t, rng, noise=2.0)))
        if t > 0.5:
            lag.append((60.0 * t - est + 180) % 360 - 180)
    assert 0 < np.mean(lag) < 2.5  # degrees behind: well under a rep's measurement tolerance
    assert np.percentile(np.abs(lag), 95) < 4.0


def test_dropped_frames_are_bridged_by_the_real_time_step() -> None:
    rng = np.random.default_rng(2)
    f = OneEuroFilter()
    # 30 fps with a third of the frames lost at random: the lag must stay as small as with all frames.
    times = [i / 30 for i in range(180) if i < 5 or rng.random() > 0.33]
    lag = []
    for t in times:
        est = _ankle_angle(f.update(t, _swinging_leg(t, rng, noise=0.0)))
        if t > 0.5:
            lag.append((60.0 * t - est + 180) % 360 - 180)
    assert 0 < np.mean(lag) < 2.5 and max(lag) < 4.0


def test_unsure_keypoint_is_held_and_flagged() -> None:
    f = OneEuroFilter(min_conf=0.3)
    kps = np.tile([100.0, 200.0, 0.9], (17, 1))
    for i in range(10):
        f.update(i / 30, kps)
    guess = kps.copy()
    guess[ANKLE] = (400.0, 50.0, 0.1)
    out = f.update(10 / 30, guess)
    assert out[ANKLE, :2] == pytest.approx([100.0, 200.0])
    assert out[ANKLE, 2] == pytest.approx(0.1)
    assert out[0, 2] == pytest.approx(0.9)


def test_keypoint_back_after_a_long_absence_restarts_but_a_short_one_glides() -> None:
    cfg = SmoothingConfig(reinit_after_s=0.5)
    moved = np.tile([300.0, 200.0, 0.9], (17, 1))
    results = {}
    for gap_s in (0.2, 1.0):
        f = OneEuroFilter(cfg)
        kps = np.tile([100.0, 200.0, 0.9], (17, 1))
        for i in range(10):
            f.update(i / 30, kps)
        hidden = kps.copy()
        hidden[:, 2] = 0.05
        f.update(9 / 30 + gap_s / 2, hidden)
        results[gap_s] = f.update(9 / 30 + gap_s, moved)[ANKLE, 0]
    assert results[1.0] == pytest.approx(300.0)  # stale: starts again where it is now seen
    assert 100.0 < results[0.2] < 300.0  # recent: a 200 px leap is filtered, not trusted outright


def test_reset_forgets_the_previous_person() -> None:
    f = OneEuroFilter()
    for i in range(10):
        f.update(i / 30, np.tile([100.0, 200.0, 0.9], (17, 1)))
    f.reset()
    out = f.update(10 / 30, np.tile([700.0, 300.0, 0.8], (17, 1)))
    assert out[:, :2] == pytest.approx(np.tile([700.0, 300.0], (17, 1)))


def test_repeated_timestamp_changes_nothing() -> None:
    f = OneEuroFilter()
    first = f.update(1.0, np.tile([100.0, 200.0, 0.9], (17, 1)))
    again = f.update(1.0, np.tile([150.0, 250.0, 0.9], (17, 1)))
    assert again[:, :2] == pytest.approx(first[:, :2])


def test_config_validates() -> None:
    with pytest.raises(ValidationError):
        SmoothingConfig(min_cutoff=0.0)
    with pytest.raises(ValidationError):
        SmoothingConfig(beta_px=0.1)  # type: ignore[call-arg]


LEFT_LEG, RIGHT_LEG = [11, 13, 15], [12, 14, 16]  # hip, knee, ankle


def _legs(left_deg: float, right_deg: float) -> np.ndarray:
    """A body lying along the floor with each leg raised by its angle, both from the same hip."""
    kps = np.column_stack([np.linspace(300, 600, 17), np.full(17, 500.0), np.full(17, 0.9)])
    for leg, deg in ((LEFT_LEG, left_deg), (RIGHT_LEG, right_deg)):
        direction = np.array([math.cos(math.radians(deg)), -math.sin(math.radians(deg))])
        for share, k in zip((0.0, 0.5, 1.0), leg, strict=True):
            kps[k, :2] = HIP + share * LEG_PX * direction
    return kps


def _exchanged(kps: np.ndarray) -> np.ndarray:
    out = kps.copy()
    out[LEFT_LEG], out[RIGHT_LEG] = kps[RIGHT_LEG], kps[LEFT_LEG]
    return out


def test_a_frame_with_left_and_right_exchanged_is_put_back() -> None:
    # One leg up, one down: taken as it comes, the exchange would drop the raised leg to the floor for a
    # frame and lift it again, a phantom rep.
    f = OneEuroFilter()
    pose = _legs(70.0, 0.0)
    for i in range(10):
        f.update(i / 30, pose)
    out = f.update(10 / 30, _exchanged(pose))
    assert np.allclose(out[LEFT_LEG, :2], pose[LEFT_LEG, :2], atol=0.5)
    assert np.allclose(out[RIGHT_LEG, :2], pose[RIGHT_LEG, :2], atol=0.5)


def test_legs_passing_each_other_keep_their_own_tracks() -> None:
    # Scissors: the legs cross at 60°/s each way; near the crossing either labelling fits, and the
    # labels the model gives are kept.
    f = OneEuroFilter()
    for i in range(31):
        t = i / 30
        out = f.update(t, _legs(20.0 + 60.0 * t, 80.0 - 60.0 * t))
    final = _legs(80.0, 20.0)
    assert np.linalg.norm(out[15, :2] - final[15, :2]) < 0.1 * LEG_PX
    assert np.linalg.norm(out[16, :2] - final[16, :2]) < 0.1 * LEG_PX


def test_legs_come_back_the_right_way_round_after_the_person_went_unseen() -> None:
    # Unseen for 1.2 s while the raised leg came down from 80° to 35°, then seen again exchanged, and of
    # the legs only the hips and the raised foot sure (a foot that moved too far in the gap to tell by
    # itself): taken as it came, the legs would stay exchanged for the rest of the set (the following
    # frames, right again, would each look exchanged against the track).
    f = OneEuroFilter()
    for i in range(10):
        f.update(i / 30, _legs(80.0, 0.0))
    back = _exchanged(_legs(35.0, 0.0))
    back[LEFT_LEG[1:] + RIGHT_LEG[1:2], 2] = 0.1
    f.update(1.5, back)
    out = f.update(1.5 + 1 / 30, _legs(34.0, 0.0))
    assert _ankle_angle(out) == pytest.approx(34.0, abs=3.0)
    assert np.linalg.norm(out[16, :2] - _legs(34.0, 0.0)[16, :2]) < 0.05 * LEG_PX


def test_after_the_person_went_unseen_the_far_leg_is_the_one_the_model_is_less_sure_of() -> None:
    # A heel tap seen from the side: in a 1.2 s gap the far leg (left, placed at 0.45) came down and the
    # near one (0.9) went up. Where each leg now lies fits the other's track, and would exchange them;
    # which one the model is less sure of says they are the right way round.
    f = OneEuroFilter()
    before = _legs(45.0, 0.0)
    before[LEFT_LEG, 2] = 0.45
    for i in range(20):
        f.update(i / 30, before)
    after = _legs(0.0, 45.0)
    after[LEFT_LEG, 2] = 0.45
    out = f.update(2.0, after)
    assert np.allclose(out[LEFT_LEG, :2], after[LEFT_LEG, :2], atol=0.5)
    assert np.allclose(out[RIGHT_LEG, :2], after[RIGHT_LEG, :2], atol=0.5)


def _leg_angle(kps: np.ndarray, leg: list[int]) -> float:
    v = kps[leg[2], :2] - HIP
    return math.degrees(math.atan2(-v[1], v[0]))


def test_a_far_leg_put_on_the_near_one_is_not_taken_for_a_rep() -> None:
    # Heel taps seen from the side: the near (right) leg taps from tabletop (45°) in 1.5 s while the far
    # one stays up; for 0.8 s of it the model puts the far leg on the near one. Taken as it came, the far
    # leg would follow the near one down to 10° and jump back: a tap of its own.
    f = OneEuroFilter()
    seen_left = []
    for i in range(75):
        t = i / 30
        right = 45.0 - 45.0 * math.sin(math.pi * min(max(t - 0.5, 0.0), 1.5) / 1.5) if t < 2.0 else 45.0
        pose = _legs(45.0, right)
        pose[LEFT_LEG, 2] = 0.5
        if 1.0 <= t < 1.8:
            pose[LEFT_LEG] = pose[RIGHT_LEG]
            pose[LEFT_LEG, 2] = 0.45
        out = f.update(t, pose)
        if out[LEFT_LEG[2], 2] >= f.min_conf:
            seen_left.append(_leg_angle(out, LEFT_LEG))
    assert min(seen_left) > 40.0
    assert len(seen_left) > 50  # only the frames of the far leg on the near one are lost


def test_legs_lowered_together_are_both_kept() -> None:
    # A double-leg lift in profile: the model puts both legs on the same line all the way down.
    f = OneEuroFilter()
    for i in range(60):
        t = i / 30
        out = f.update(t, _legs(80.0 - 40.0 * t, 80.0 - 40.0 * t))
        assert (out[LEFT_LEG + RIGHT_LEG, 2] >= f.min_conf).all()
    assert _leg_angle(out, LEFT_LEG) == pytest.approx(_leg_angle(out, RIGHT_LEG), abs=1.0)


def test_an_exchange_the_model_is_unsure_of_on_one_side_is_put_back() -> None:
    # Single-leg raises seen from the side: the near (left) leg kicks up from 20° at 300°/s while the far
    # one rests; for 3 frames the model exchanges them and is unsure of the bent leg it now calls left
    # (its knee and ankle under the confidence the smoother trusts). Only the hips, where the legs meet,
    # are then sure both ways round; taken as it came, the raised leg's sure points would carry the right
    # leg's track off, and the legs would stay exchanged for good.
    f = OneEuroFilter()
    for i in range(30):
        t = i / 30
        rise = 20.0 + 300.0 * max(t - 0.5, 0.0)
        pose = _legs(min(rise, 90.0), 0.0)
        pose[RIGHT_LEG, 2] = 0.5
        if 0.6 <= t < 0.7:
            pose = _exchanged(pose)
            pose[LEFT_LEG, 2] = (0.35, 0.2, 0.1)
        out = f.update(t, pose)
    assert _leg_angle(out, LEFT_LEG) == pytest.approx(90.0, abs=3.0)
    assert _leg_angle(out, RIGHT_LEG) == pytest.approx(0.0, abs=3.0)
