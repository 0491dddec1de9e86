"""The analysis bars, measured on held-out sessions of both generators (tests/accuracy.py).

- sim (tests/sim): seeds from HELD_OUT_FIRST (90 000) on were never looked at while tuning the analysis
  (tuning used seeds below it) or training the rep classifier (10 000–11 099); the range graded here,
  96 000 on (FIRST_RUN), was never run before the day it became the test's. The sessions vary frame
  rate (10–30 fps), resolution, facing, camera tilt and calibration, and carry bystanders, fidgeting,
  keypoint jitter, dropped frames and unsure far-side limbs; half their straight-leg sets are done from
  the floor, and between sets members do things on the mat that are no reps (a hamstring stretch,
  hugging the knees, sitting up, crunches).
- scenarios (tests/scenarios): an independent generator on another motion model; seeds from
  SCENARIO_HELD_OUT_FIRST (70 000) on were never run while it was developed (on seeds below 1 000);
  the range graded here is 76 000 on.
  Its sessions add what members really do: floor-start sets, rests of 4–90 s, variant changes between
  sets, single-leg switches, sessions opened mid-set, partial returns, pauses at the bottom, and a pose
  model whose errors are structured (misplaced knees near vertical, feet out of the frame, leg swaps).

Every bar applies to both generators, with the rep classifier deciding on the rules' candidates as on a
station. Sessions run in up to two processes (tests/accuracy.py).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.accuracy import (
    GENERATORS,
    HELD_OUT_FIRST,
    JUDGED_FAULTS,
    SCENARIO_HELD_OUT_FIRST,
    Tally,
    default_workers,
    evaluate,
    miss_patterns,
)
from tests.scenarios import random_plan
from tests.scenarios.plan import FIDGETS, STRAIGHT
from tests.sim import random_session_spec
from tests.sim.spec import NON_REPS

SESSIONS = 60
# How the held-out sim sessions are drawn (tests/sim/spec.py).
SIM_KW = {"non_reps": True, "floor_sets": True}
# The ranges graded here were first run on 7 December 2026, by the code that made them the test's. A
# range whose misses have been looked at is worn: it no longer tells what a new member's session gives
# (sim 90000-90059 and 95000-95059, scenarios 70000-70059 and 75000-75059 are; docs/accuracy.md). When
# these are worn too, the test moves on to ranges never run.
FIRST_RUN = {"sim": HELD_OUT_FIRST + 6_000, "scenarios": SCENARIO_HELD_OUT_FIRST + 6_000}
SEEDS: dict[str, range] = {g: range(first, first + SESSIONS) for g, first in FIRST_RUN.items()}
_tallies: dict[str, Tally] = {}


def tally_of(generator: str) -> Tally:
    """Each generator's held-out sessions are scored once per test run, whichever test asks first."""
    if generator not in _tallies:
        kw = SIM_KW if generator == "sim" else {}
        _tallies[generator] = evaluate(SEEDS[generator], generator=generator, workers=default_workers(), **kw)
    return _tallies[generator]


# Bars not met yet, with what the held-out sessions give (issue 17). Strict: the day a bar is met, its
# mark fails and comes off.
NOT_YET: dict[tuple[str, str], str] = {
    ("sim", "count"): "96.2% of 133 sets exact on their first run: two single-leg sets and a double-leg set "
                      "a rep short, two heel-tap sets a tap over and a tap short",
    ("scenarios", "count"): "97.0% of 132 sets exact on their first run: two double-leg sets from the top "
                            "lowered onto the mat with pauses read as done from the floor (a rep over), two "
                            "single-leg sets a rep short (one switching legs)",
}


@pytest.fixture(scope="module", params=GENERATORS)
def generator(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tally(generator: str) -> Tally:
    return tally_of(generator)


def _not_yet(request: pytest.FixtureRequest, generator: str, bar: str) -> None:
    if (generator, bar) in NOT_YET:
        request.applymarker(pytest.mark.xfail(strict=True, reason=NOT_YET[generator, bar]))


def _explain(t: Tally) -> str:
    patterns = "; ".join(f"{n}× {p}" for p, n in miss_patterns(t)[:8])
    return f"miss patterns: {patterns}\nfirst misses: {t.misses[:15]}"


def test_held_out_sessions_cover_the_conditions() -> None:
    specs = [random_session_spec(s, **SIM_KW) for s in SEEDS["sim"]]
    sets = [b for s in specs for b in s.blocks if b.variant in ("double_leg", "single_leg")]
    assert sum(1 for b in sets if b.start == "floor") >= 20 and sum(1 for b in sets if b.start == "top") >= 20
    assert all(s.non_reps_per_rest for s in specs)
    assert {s.camera.facing for s in specs} == {"left", "right"}
    fps = [s.camera.fps for s in specs]
    assert min(fps) <= 12 and max(fps) >= 25
    assert len({(s.camera.width, s.camera.height) for s in specs}) >= 3
    assert {s.calibrated for s in specs} == {True, False}
    assert sum(1 for s in specs if s.bystanders) >= SESSIONS // 3


def test_held_out_scenario_sessions_cover_the_behaviours() -> None:
    plans = [random_plan(s) for s in SEEDS["scenarios"]]
    cams = [p.camera for p in plans]
    assert {c.facing for c in cams} == {"left", "right"}
    assert min(c.fps for c in cams) <= 15 and max(c.fps for c in cams) >= 30
    assert len({(c.width, c.height) for c in cams}) >= 3
    assert {p.calibrated for p in plans} == {True, False}
    assert sum(1 for c in cams if c.crop_feet_deg is not None) >= 5, "feet leaving the top of the frame"
    assert sum(1 for p in plans if p.bystanders) >= SESSIONS // 3

    sets = [s for p in plans for s in p.sets]
    starts = Counter(s.start for s in sets if s.variant in STRAIGHT)
    assert starts["top"] >= 15 and starts["floor"] >= 15, starts
    assert {s.variant for s in sets} == {"double_leg", "single_leg", "heel_tap"}
    assert sum(len(p.blocks) - len(p.sets) for p in plans) >= 10, "hollow holds"
    switched_variant = sum(1 for p in plans for a, b in zip(p.sets, p.sets[1:], strict=False)
                           if a.variant != b.variant)
    assert switched_variant >= 10, "members changing variant between sets"
    assert sum(1 for s in sets if s.switch_after) >= 3, "single-leg members switching legs mid-set"
    openings = Counter(p.opening for p in plans)
    assert openings["mid_set_top"] >= 2 and openings["mid_set_floor"] >= 2, openings

    top_reps = [r for s in sets if s.variant in STRAIGHT and s.start == "top" for r in s.reps]
    assert sum(1 for r in top_reps if r.bottom_pause_s >= 1.0) >= 15, "pauses at the bottom"
    assert sum(1 for r in top_reps if r.partial_return) >= 5, "partial returns"
    assert min(r.bottom_deg for r in top_reps) < 5 and max(r.bottom_deg for r in top_reps) > 35, "end ranges"
    reps = [r for s in sets for r in s.reps]
    assert {r.momentum_kind for r in reps} >= {"rebound", "fast_return", "overshoot"}
    for fault in JUDGED_FAULTS:
        assert sum(1 for r in reps if fault in r.faults) >= 40, fault

    rests = [r for p in plans for r in p.rests]
    assert sum(1 for r in rests if r.duration_s < 10) >= 10, "short rests (4–9 s)"
    assert max(r.duration_s for r in rests) >= 30
    assert sum(1 for r in rests if r.knees_up) >= 3
    fidgets = {f.kind for p in plans for r in [p.setup, *p.rests, p.cooldown] for f in r.fidgets}
    assert fidgets == set(FIDGETS)


def test_rep_count_exact_on_98_percent_of_sets(request: pytest.FixtureRequest, generator: str,
                                                tally: Tally) -> None:
    _not_yet(request, generator, "count")
    s = tally.summary()
    assert s["sets"] >= 100
    assert s["rep_count_exact_share"] >= 0.98, _explain(tally)


def test_descent_time_error(tally: Tally) -> None:
    assert tally.summary()["descent_mae_s"] <= 0.3


def test_bottom_elevation_error(tally: Tally) -> None:
    assert tally.summary()["bottom_mae_deg"] <= 5.0


@pytest.mark.parametrize("fault", JUDGED_FAULTS)
def test_fault_f1(request: pytest.FixtureRequest, generator: str, tally: Tally, fault: str) -> None:
    _not_yet(request, generator, fault)
    counts = tally.fault[fault]
    assert counts["tp"] >= 30, f"too few {fault} reps to judge: {dict(counts)}"
    assert tally.f1(fault) >= 0.9, dict(counts)


def test_variant_right_on_97_percent_of_sets(tally: Tally) -> None:
    assert tally.summary()["variant_right_share"] >= 0.97, tally.variant_errors[:15]


def test_variant_right_on_97_percent_of_reps(request: pytest.FixtureRequest, generator: str,
                                             tally: Tally) -> None:
    _not_yet(request, generator, "variant_reps")
    for variant, c in tally.by_variant.items():
        assert c["reps_variant_right"] >= 0.97 * c["reps"], (variant, dict(c))


def test_movements_that_are_no_reps_are_counted_at_most_2_percent() -> None:
    t = tally_of("sim")
    assert set(t.non_reps) == set(NON_REPS) and sum(t.non_reps.values()) >= 80
    counted = sum(t.non_reps_counted.values())
    assert counted <= 0.02 * sum(t.non_reps.values()), dict(t.non_reps_counted)


def test_hollow_hold_duration_within_a_second(tally: Tally) -> None:
    assert tally.holds_true >= 10
    assert tally.holds_found == tally.holds_true
    assert max(tally.hold_err) <= 1.0


def test_left_right_exchanges_by_the_pose_model_cost_at_most_2_percent_of_exact_counts() -> None:
    # Real pose models put the left leg's points on the right leg for a frame or a few, most often in
    # the side view. Here an exchange of 1–3 frames starts on 2% of frames; before the smoother put them
    # back (edge/analysis/smoothing.py), 30 tuning sessions were counted exactly in 32% of sets, not 97%.
    # (The scenario generator's pose model exchanges legs by itself, so this is a sim-only test.)
    clean = tally_of("sim").summary()
    exchanged = evaluate(SEEDS["sim"], exchange_rate=0.02, workers=default_workers(), **SIM_KW).summary()
    assert exchanged["rep_count_exact_share"] >= clean["rep_count_exact_share"] - 0.02
    assert abs(exchanged["found_reps"] - clean["found_reps"]) <= 0.01 * clean["true_reps"]
    assert exchanged["variant_right_share"] >= 0.95


# Hanging raises at the bar beside the mat (sim sessions with `hanging=True`: some also do sets on the
# mat first). Held out like the rest, and first run on the same day.
HANGING_SEEDS = range(FIRST_RUN["sim"] + 500, FIRST_RUN["sim"] + 500 + 40)
_hanging: list[Tally] = []


def hanging_tally() -> Tally:
    if not _hanging:
        _hanging.append(evaluate(HANGING_SEEDS, workers=default_workers(), hanging=True, **SIM_KW))
    return _hanging[0]


def test_held_out_hanging_sessions_cover_the_conditions() -> None:
    specs = [random_session_spec(s, hanging=True, **SIM_KW) for s in HANGING_SEEDS]
    sets = [b for s in specs for b in s.blocks if b.variant == "hanging"]
    assert len(sets) >= 60
    assert sum(1 for b in sets if b.knee_raise) >= 15, "knee raises, the regression"
    assert sum(1 for s in specs if any(b.variant != "hanging" for b in s.blocks)) >= 10, "mat first, then bar"
    reps = [r for b in sets for r in b.reps]
    assert {r.momentum_kind for r in reps} >= {"swing", "fast_return"}
    for fault in ("momentum", "short_top"):
        assert sum(1 for r in reps if fault in r.faults) >= 60, fault


def test_hanging_sets_are_counted_exactly_on_95_percent() -> None:
    t = hanging_tally()
    assert t.by_variant["hanging"]["sets"] >= 60
    assert t.count_exact_share("hanging") >= 0.95, _explain(t)


def test_hanging_reps_are_called_hanging_and_the_mat_sets_keep_their_variant() -> None:
    t = hanging_tally()
    for variant, c in t.by_variant.items():
        assert c["reps_variant_right"] >= 0.97 * c["reps"], (variant, dict(c))


@pytest.mark.parametrize(("fault", "bar"), [("momentum", 0.85), ("short_top", 0.9)])
def test_hanging_fault_f1(fault: str, bar: float) -> None:
    t = hanging_tally()
    assert t.variant_fault["hanging"][fault]["tp"] >= 50
    assert t.variant_f1("hanging", fault) >= bar, dict(t.variant_fault["hanging"][fault])
