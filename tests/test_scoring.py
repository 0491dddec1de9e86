"""Faults, score and cue of a rep, from its measurements (SPEC.md fault table)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from edge.analysis.config import FaultRules, ScoringConfig
from edge.analysis.reps import Rep
from edge.analysis.scoring import PRAISE, score_rep

GOOD = Rep(start_t=0.0, end_t=6.0, moving="both", variant="double_leg", descent_s=4.2, ascent_s=1.5,
           bottom_pause_s=0.5, top_angle_deg=88.0, bottom_angle_deg=20.0, min_knee_angle_deg=172.0,
           peak_return_speed_dps=80.0, bottom_in_speed_dps=5.0, bottom_out_speed_dps=10.0, overshoot_deg=1.0)


def _judge(rep: Rep, variant: str = "double_leg"):
    return score_rep(rep, variant, FaultRules(), ScoringConfig())


def test_a_good_rep_scores_100_with_praise() -> None:
    s = _judge(GOOD)
    assert s.faults == () and s.score == 100 and s.cue == PRAISE


@pytest.mark.parametrize(("change", "fault"), [
    ({"descent_s": 2.0}, "fast_descent"),
    ({"peak_return_speed_dps": 190.0}, "momentum"),
    ({"bottom_pause_s": 0.0, "bottom_in_speed_dps": 70.0, "bottom_out_speed_dps": 90.0}, "momentum"),
    ({"overshoot_deg": 15.0}, "momentum"),
    ({"min_knee_angle_deg": 130.0}, "knees_bent"),
    ({"top_angle_deg": 55.0}, "short_top"),
])
def test_each_rule_of_the_spec_makes_its_fault(change: dict, fault: str) -> None:
    s = _judge(replace(GOOD, **change))
    assert s.faults == (fault,)
    assert s.score < 90
    assert s.cue != PRAISE


def test_heel_taps_are_not_judged_for_tempo_knees_or_top() -> None:
    tap = replace(GOOD, descent_s=1.0, min_knee_angle_deg=90.0, top_angle_deg=45.0)
    assert _judge(tap, "heel_tap").faults == ()
    assert _judge(tap, "double_leg").faults == ("fast_descent", "knees_bent", "short_top")


def test_the_cue_is_for_the_costliest_fault_and_score_stays_in_range() -> None:
    worst = replace(GOOD, descent_s=1.0, peak_return_speed_dps=300.0, min_knee_angle_deg=100.0,
                    top_angle_deg=40.0)
    s = _judge(worst)
    assert s.cue.startswith("Slower")
    assert s.score == 100 - 30 - 20 - 15 - 15


def test_a_slightly_quick_descent_costs_a_little() -> None:
    assert 90 <= _judge(replace(GOOD, descent_s=3.5)).score < 100


def test_depth_never_costs_points() -> None:
    assert _judge(replace(GOOD, bottom_angle_deg=50.0)).score == 100
