"""Sets split by rest, the set's variant by majority, and the personal end range."""

from __future__ import annotations

from dataclasses import replace

from edge.analysis.reps import Rep
from edge.analysis.session import Session

REP = Rep(start_t=0.0, end_t=6.0, moving="both", variant="double_leg", descent_s=4.2, ascent_s=1.5,
          bottom_pause_s=0.5, top_angle_deg=88.0, bottom_angle_deg=20.0, min_knee_angle_deg=172.0,
          peak_return_speed_dps=80.0, bottom_in_speed_dps=5.0, bottom_out_speed_dps=10.0, overshoot_deg=1.0)


def _at(start: float, **kw: object) -> Rep:
    return replace(REP, start_t=start, end_t=start + 6.0, **kw)


def test_a_rest_longer_than_the_split_starts_a_new_set() -> None:
    s = Session()
    for start in (0, 7, 14, 60, 67):
        s.add_rep(_at(start))
    sets = s.result().sets
    assert [x["rep_count"] for x in sets] == [3, 2]
    assert sets[1]["rep_indices"] == [4, 5]


def test_getting_up_ends_the_set_however_short_the_break() -> None:
    s = Session()
    s.add_rep(_at(0))
    s.end_set()
    s.add_rep(_at(8))
    assert len(s.result().sets) == 2


def test_one_odd_rep_does_not_change_the_set_variant() -> None:
    s = Session()
    for i, v in enumerate(["single_leg", "single_leg", "double_leg", "single_leg"]):
        s.add_rep(_at(7 * i, variant=v, moving="left" if v == "single_leg" else "both"))
    result = s.result()
    assert result.sets[0]["variant"] == "single_leg"
    assert {r.variant for r in result.reps} == {"single_leg"}


def test_a_member_switching_exercise_after_a_short_rest_starts_a_new_set() -> None:
    """Three double-leg reps, 8 s (too short a rest on the mat to end the set), three single-leg ones:
    two sets, each with its own variant, where a tie once called all six double_leg."""
    s = Session()
    for start, v in ((0, "double_leg"), (7, "double_leg"), (14, "double_leg"),
                     (28, "single_leg"), (35, "single_leg"), (42, "single_leg")):
        s.add_rep(_at(start, variant=v, moving="left" if v == "single_leg" else "both"))
    result = s.result()
    assert [(x["variant"], x["rep_count"]) for x in result.sets] == [("double_leg", 3), ("single_leg", 3)]
    assert [r.variant for r in result.reps] == ["double_leg"] * 3 + ["single_leg"] * 3


def test_an_odd_rep_after_the_pauses_a_set_leaves_between_reps_does_not_split_it() -> None:
    s = Session()
    for start, v in ((0, "single_leg"), (7, "single_leg"), (19, "double_leg"), (26, "single_leg")):
        s.add_rep(_at(start, variant=v, moving="left" if v == "single_leg" else "both"))
    assert [(x["variant"], x["rep_count"]) for x in s.result().sets] == [("single_leg", 4)]


def test_personal_end_range_is_the_lowest_depth_so_far_and_carries_over() -> None:
    s = Session()
    for start, bottom in ((0, 35.0), (7, 28.0), (14, 31.0), (60, 33.0)):
        s.add_rep(_at(start, bottom_angle_deg=bottom))
    sets = s.result().sets
    assert [x["end_range_deg"] for x in sets] == [28.0, 28.0]
