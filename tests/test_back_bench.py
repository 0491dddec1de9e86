"""`back_arched` end to end on the rendering bench: rendered frames of simulated sessions through the
whole analysis (tracking, reps, the back measurement, scoring). The first sessions of the bench, not
chosen ones, plus a session with strong light steps and session 2 with the light changed during its flat
reps; `python -m tests.back_bench --seeds 1-24` is the full measurement and its report."""

from __future__ import annotations

import dataclasses

import pytest

from tests import back_bench
from tests.sim.render import render_session
from tests.sim.spec import STRAIGHT_LEG


@pytest.fixture(scope="module")
def bench():
    results, holds, spent, frames = [], [], 0.0, 0
    for seed in (1, 2, 3, 4):
        r, h, s, n = back_bench.run_session(seed, fps=15)
        results += r
        holds += h
        spent += s
        frames += n
    return results, back_bench.summary(results, holds, spent, frames)


def test_flat_backs_are_not_called_arched(bench):
    _, out = bench
    assert out["flat"] >= 10
    assert out["false_alarm_rate"] <= 0.05


def test_most_arches_of_two_centimetres_or_more_are_caught_with_their_lift(bench):
    results, out = bench
    assert out["arched"] >= 10
    # The bar is 0.9 over the whole bench (`python -m tests.back_bench`); on these four sessions, one
    # of them a dark top in front of a dark wall, most are caught.
    assert out["recall"] >= 0.8
    caught = [r for r in results if r.flagged and r.truth.lift_cm >= back_bench.ARCHED_CM]
    # Never read higher than it is; read low where only part of an edge stands out from the room, or
    # where an arm hides the underside and only the belly (0.7–1.0 × the lumbar lift) is read.
    assert all(r.found.rep.back_lift_cm <= r.truth.lift_cm + 1.0 for r in caught)
    ratios = sorted(r.found.rep.back_lift_cm / r.truth.lift_cm for r in caught)
    assert ratios[len(ratios) // 2] >= 0.7


def test_where_the_back_began_to_lift_is_found_near_the_true_onset(bench):
    _, out = bench
    assert out["onsets_estimated"] >= 10
    # The bar is "within 5°": on average, and for most single reps (the whole bench: 92-94% of them;
    # the rest are read from the breathing belly alone, where the underside did not show the lift).
    assert out["onset_error_mean_deg"] <= 5.0
    assert out["onset_within_5deg"] >= 0.85


def test_an_arched_rep_sets_the_personal_end_range_at_its_onset_not_its_bottom(bench):
    results, _ = bench
    arched = [r.found for r in results if r.flagged and r.found.rep.back_onset_deg is not None]
    assert arched
    for scored in arched:
        assert "back_arched" in scored.faults and scored.cue.startswith("Press your lower back")
        assert scored.rep.back_onset_deg > scored.rep.bottom_angle_deg


@pytest.mark.parametrize("seed", [4, 11])  # a walker behind the mat; two light steps, each to ×0.74
def test_a_walker_behind_the_mat_or_a_light_step_causes_no_false_alarm(bench, seed):
    results, _ = bench
    disturbed = [r for r in results if r.seed == seed] or back_bench.run_session(seed, fps=15)[0]
    assert disturbed[0].disturbed
    assert sum(r.truth.lift_cm < back_bench.FLAT_CM for r in disturbed) >= 3
    clean = back_bench.run_session(seed, fps=15, undisturbed=True)[0]
    assert back_bench.caused_by_disturbance(disturbed, clean) == []


def test_the_light_changing_in_the_middle_of_flat_reps_is_not_read_as_a_lift(bench):
    """Session 2 again with the light stepping, darker and brighter, at the bottom of its flat reps,
    where the lift is read: the empty scene's gain must follow at once."""
    results, _ = bench
    seed = 2
    rs = render_session(seed, fps=15)
    flat = [r for r in rs.reps if r.variant in STRAIGHT_LEG and r.lift_cm < back_bench.FLAT_CM][:4]
    assert len(flat) == 4
    end = rs.sim.choreography.end_t
    steps = tuple((r.bottom_t / end, f) for r, f in zip(flat, (0.75, 1.3, 0.8, 1.25), strict=True))
    stepped = back_bench.run_session(seed, fps=15, look=dataclasses.replace(rs.look, light_steps=steps))[0]
    assert all(r.disturbed for r in stepped)
    before = [r for r in results if r.seed == seed]
    assert back_bench.caused_by_disturbance(stepped, before) == []
