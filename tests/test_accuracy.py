"""The analysis bars of the first issue, measured on simulated sessions held out from all tuning.

Seeds from HELD_OUT_FIRST on were never looked at while developing (tuning used seeds below it, see
tests/accuracy.py). The sessions vary frame rate (10–30 fps), resolution, facing, camera tilt and
calibration, and carry bystanders, fidgeting, keypoint jitter, dropped frames and unsure far-side limbs.
"""

from __future__ import annotations

import pytest

from tests.accuracy import HELD_OUT_FIRST, JUDGED_FAULTS, Tally, evaluate
from tests.sim import random_session_spec

SESSIONS = 60
SEEDS = range(HELD_OUT_FIRST, HELD_OUT_FIRST + SESSIONS)


@pytest.fixture(scope="module")
def tally() -> Tally:
    return evaluate(SEEDS)


def test_held_out_sessions_cover_the_conditions() -> None:
    specs = [random_session_spec(s) for s in SEEDS]
    assert {s.camera.facing for s in specs} == {"left", "right"}
    fps = [s.camera.fps for s in specs]
    assert min(fps) <= 12 and max(fps) >= 25
    assert len({(s.camera.width, s.camera.height) for s in specs}) >= 3
    assert {s.calibrated for s in specs} == {True, False}
    assert sum(1 for s in specs if s.bystanders) >= SESSIONS // 3


def test_rep_count_exact_on_98_percent_of_sets(tally: Tally) -> None:
    s = tally.summary()
    assert s["sets"] >= 100
    assert s["rep_count_exact_share"] >= 0.98, tally.misses


def test_descent_time_error(tally: Tally) -> None:
    assert tally.summary()["descent_mae_s"] <= 0.3


def test_bottom_elevation_error(tally: Tally) -> None:
    assert tally.summary()["bottom_mae_deg"] <= 5.0


@pytest.mark.parametrize("fault", JUDGED_FAULTS)
def test_fault_f1(tally: Tally, fault: str) -> None:
    counts = tally.fault[fault]
    assert counts["tp"] >= 30, f"too few {fault} reps to judge: {dict(counts)}"
    assert tally.f1(fault) >= 0.9, dict(counts)


def test_variant_right_on_95_percent_of_sets(tally: Tally) -> None:
    assert tally.summary()["variant_right_share"] >= 0.95


def test_hollow_hold_duration_within_a_second(tally: Tally) -> None:
    assert tally.holds_true >= 10
    assert tally.holds_found == tally.holds_true
    assert max(tally.hold_err) <= 1.0


def test_left_right_exchanges_by_the_pose_model_cost_at_most_2_percent_of_exact_counts(tally: Tally) -> None:
    # Real pose models put the left leg's points on the right leg for a frame or a few, most often in
    # the side view. Here an exchange of 1–3 frames starts on 2% of frames; before the smoother put them
    # back (edge/smoothing.py), 30 tuning sessions were counted exactly in 32% of sets, not 97%.
    exchanged = evaluate(SEEDS, exchange_rate=0.02).summary()
    clean = tally.summary()
    assert exchanged["rep_count_exact_share"] >= clean["rep_count_exact_share"] - 0.02
    assert abs(exchanged["found_reps"] - clean["found_reps"]) <= 0.01 * clean["true_reps"]
    assert exchanged["variant_right_share"] >= 0.95
