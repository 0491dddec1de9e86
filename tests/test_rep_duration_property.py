"""A property of the analysis on sessions of both generators: no reported rep is shorter than a human
can do one.

Lowering straight legs under control and raising them again takes a person at least ~0.8 s even when
fast (a heel tap too); anything shorter that the analysis reports as a rep is a fidget, a keypoint
glitch or a left/right exchange split into a "rep". The seeds (50 000+) are distinct from the held-out
ones of tests/test_accuracy.py and from those either generator was developed on.
"""

from __future__ import annotations

import pytest

from tests.accuracy import GENERATORS, default_workers, load_session, reported_rep_spans

MIN_REP_S = 0.8
SEEDS = range(50_000, 50_025)


@pytest.mark.parametrize("generator", GENERATORS)
def test_no_true_rep_is_shorter_than_a_human_can_do_one(generator: str) -> None:
    # The property is only fair if the generators never make such a rep themselves.
    for seed in SEEDS:
        for rep in load_session(seed, generator).truth.reps:
            assert rep.end_t - rep.start_t >= MIN_REP_S, (seed, rep)


@pytest.mark.parametrize("generator", GENERATORS)
def test_no_reported_rep_is_shorter_than_a_human_can_do_one(generator: str) -> None:
    spans = reported_rep_spans(SEEDS, generator, workers=default_workers())
    short = [(seed, round(a, 2), round(b - a, 2)) for seed, reps in spans.items() for a, b in reps
             if b - a < MIN_REP_S]
    assert sum(len(reps) for reps in spans.values()) >= 100, "too few reps to judge"
    assert not short, f"reps shorter than {MIN_REP_S} s (seed, start_t, duration): {short}"
