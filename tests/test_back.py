"""The lower back's lift from the camera (edge/analysis/back.py), on drawn scenes whose geometry is known: a
trunk lying on a mat in front of a wall, its lumbar underside and belly raised by a known number of
pixels. The rendered sessions of tests/sim/render.py are the measured bench (tests/back_bench.py)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.analysis.back import COLUMNS, BackMeter, BackProfile, flat_profile, rep_evidence, rise_cm
from edge.analysis.config import BackConfig
from edge.people import KP, Person

W, H = 1280, 720
FLOOR = 520  # the mat's top surface, image row
HIP_X, SHOULDER_X = 700, 400  # the trunk lies head to the left
TRUNK_PX = HIP_X - SHOULDER_X  # 300 px for ~49 cm: ~6.1 px per cm at full size


def scene(light: float = 1.0) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    img[:FLOOR] = (150, 160, 170)  # wall
    img[FLOOR:] = (60, 90, 120)  # mat and floor
    img[::40] = (120, 130, 140)  # some texture, so the scene is not flat colour
    return np.clip(img * light, 0, 255).astype(np.uint8)


def lying(img: np.ndarray, lift_px: int = 0) -> np.ndarray:
    """Draw a trunk (hip to shoulder) lying on the mat; over the lumbar span its underside and top rise
    by lift_px (a broad bump, highest a third of the way from the hip, as the lumbar spine curves)."""
    out = img.copy()
    for x in range(SHOULDER_X - 60, HIP_X + 120):
        f = (HIP_X - x) / TRUNK_PX  # 0 at the hip, 1 at the shoulder
        bump = max(0.0, 1 - ((f - 0.35) / 0.35) ** 2)
        rise = round(lift_px * bump)
        out[FLOOR - 120 - rise:FLOOR - rise, x] = (40, 40, 200)
    return out


def member() -> Person:
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    for name, x in (("left_hip", HIP_X), ("right_hip", HIP_X), ("left_shoulder", SHOULDER_X),
                    ("right_shoulder", SHOULDER_X)):
        kp[KP[name]] = (x, FLOOR - 60, 0.9)
    return Person(0.9, np.array([SHOULDER_X - 60, FLOOR - 130, HIP_X + 120, FLOOR], float), kp)


def meter_with_empty_mat(frames: int = 20, **config: float) -> BackMeter:
    m = BackMeter(BackConfig(model_every=1, **config))
    for i in range(frames):
        m.measure(i / 30, scene(), None, [])
    return m


def profile(m: BackMeter, t: float, img: np.ndarray, others: list[Person] | None = None):
    return m.measure(t, img, member(), others or [])


def test_a_raised_lower_back_reads_as_its_lift_in_centimetres_and_a_flat_one_as_none():
    m = meter_with_empty_mat()
    base = flat_profile([profile(m, 1 + i / 30, lying(scene())) for i in range(10)])
    assert base is not None
    px_per_cm = TRUNK_PX / (0.288 * 170)
    for cm in (2.0, 3.5):
        lifted = profile(m, 2.0, lying(scene(), round(cm * px_per_cm)))
        assert rise_cm(lifted, base) == pytest.approx(cm, abs=0.35)
    assert abs(rise_cm(profile(m, 2.1, lying(scene())), base)) < 0.3


def test_the_lights_dimming_is_not_a_lift():
    m = meter_with_empty_mat()
    base = flat_profile([profile(m, 1 + i / 30, lying(scene())) for i in range(10)])
    for i in range(10):
        dim = profile(m, 2 + i / 30, lying(scene(light=0.75)))
    assert dim is not None and abs(rise_cm(dim, base)) < 0.3


def test_someone_walking_behind_the_lower_back_makes_it_unreadable_not_arched():
    m = meter_with_empty_mat()
    walker = Person(0.9, np.array([480, 150, 600, FLOOR - 90], float), np.zeros((17, 3)))
    img = lying(scene())
    img[150:FLOOR - 90, 480:600] = (20, 20, 20)
    assert profile(m, 1.0, img, [walker]) is None


def test_a_member_the_pose_model_misses_for_a_moment_does_not_become_background():
    m = meter_with_empty_mat(model_rate=0.5)  # a scene that learns fast, so a ghost would show at once
    for i in range(10):
        profile(m, 1 + i / 30, lying(scene()))
    for i in range(5):  # the pose model misses the member: nobody detected, the body still there
        m.measure(2 + i / 30, lying(scene()), None, [])
    base = flat_profile([profile(m, 3 + i / 30, lying(scene())) for i in range(5)])
    assert base is not None and np.isfinite(base.top).all()


def test_nothing_is_measured_of_a_person_standing_or_before_the_mat_was_seen_empty():
    m = BackMeter()
    assert m.measure(0.0, lying(scene()), member(), []) is None  # no empty scene yet
    m = meter_with_empty_mat()
    standing = member()
    standing.keypoints[[KP["left_shoulder"], KP["right_shoulder"]], :2] = (HIP_X, FLOOR - 360)
    assert m.measure(1.0, lying(scene()), standing, []) is None


def test_an_edge_that_wanders_while_the_member_holds_still_is_not_read_as_a_lift():
    """Clothing close to what is behind it is caught only in places, so its edge jumps from frame to frame
    by centimetres; such an edge is left out, and the steady one decides."""
    rng = np.random.default_rng(7)
    px_per_cm = 2.0

    def frame(t: float, top_cm: float, wander_cm: float) -> BackProfile:
        top = 100 + px_per_cm * (top_cm + rng.normal(0, wander_cm, COLUMNS))
        return BackProfile(t, top, np.full(COLUMNS, 45.0), px_per_cm)

    jumpy = flat_profile([frame(i / 15, 0.0, 3.0) for i in range(8)])
    assert np.isnan(jumpy.top).sum() > COLUMNS // 2 and np.isfinite(jumpy.under).all()
    assert rise_cm(frame(3.0, 0.0, 3.0), jumpy) == pytest.approx(0.0, abs=0.05)

    steady = flat_profile([frame(i / 15, 0.0, 0.1) for i in range(8)])
    assert np.isfinite(steady.top).all()
    assert rise_cm(frame(3.0, 3.0, 0.1), steady) == pytest.approx(3.0, abs=0.3)


def test_the_onset_is_read_from_the_underside_which_does_not_move_with_the_breath():
    """The belly (the top edge) rises and falls with the breath; on the way down a breath in reads as a
    lift beginning early. The underside only moves when the back lifts, so where it saw the lift it
    places the onset."""
    px_per_cm, onset_deg, lift_cm = 2.0, 40.0, 3.0
    times = np.arange(0, 6, 1 / 15)
    # Legs up and still for a second (the rep's reference), down to 5° by 4 s, back up by 6 s.
    degs = np.interp(times, [0, 1, 4, 6], [90, 90, 5, 90])
    pull = np.cos(np.radians(degs)) - np.cos(np.radians(onset_deg))
    lift = lift_cm * np.maximum(0, pull) / (np.cos(np.radians(5)) - np.cos(np.radians(onset_deg)))
    breath = 0.8 * np.clip((times - 1) / 2, 0, 1)  # a slow breath in over the way down

    def frame(t: float, under_cm: float, top_cm: float) -> BackProfile:
        return BackProfile(t, np.full(COLUMNS, 100 + px_per_cm * top_cm),
                           np.full(COLUMNS, 40 + px_per_cm * under_cm), px_per_cm)

    profiles = [frame(t, u, u + b) for t, u, b in zip(times, lift, breath, strict=True)]
    found_lift, found_onset = rep_evidence(profiles, list(zip(times, degs, strict=True)), 0.0, 6.0)
    assert found_lift == pytest.approx(lift_cm + 0.8, abs=0.2)  # the lift is still the larger edge's
    assert found_onset == pytest.approx(onset_deg, abs=3)
