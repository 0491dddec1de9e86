"""`matcoach analyze` on a recorded session: the analysis object of SPEC.md, the readable table, and
thresholds overridden from a config file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.analysis.scoring import FAULTS
from tests.sim import random_session_spec, simulate

REP_KEYS = {"index", "start_t", "end_t", "variant", "descent_s", "ascent_s", "bottom_pause_s",
            "top_angle_deg", "bottom_angle_deg", "min_knee_angle_deg", "back_lift_cm", "back_onset_deg",
            "faults", "score"}


def _matcoach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcoach", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    sim = simulate(random_session_spec(7, variants=["double_leg"], n_sets=2, reps_per_set=6,
                                       hollow_hold=True, force_faults=("fast_descent",)))
    path = tmp_path_factory.mktemp("cli") / "session.jsonl"
    sim.write(path)
    return path, sim.truth


def test_json_is_the_analysis_object_of_the_spec(session) -> None:
    path, truth = session
    res = _matcoach("analyze", str(path), "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"reps", "sets", "holds"}
    assert len(out["reps"]) == 12 and len(out["sets"]) == 2 and len(out["holds"]) == 1
    for i, rep in enumerate(out["reps"], start=1):
        assert set(rep) == REP_KEYS
        assert rep["back_lift_cm"] is None  # a keypoint trace has no frames to see the back in
        assert rep["index"] == i and rep["variant"] == "double_leg"
        assert set(rep["faults"]) <= set(FAULTS) and "fast_descent" in rep["faults"]
        assert 0 <= rep["score"] <= 100
    # Times are on the trace's clock: every rep lies inside its true set.
    for found, true in zip(out["sets"], truth.sets, strict=True):
        assert true.start_t <= found["start_t"] < found["end_t"] <= true.end_t
        assert found["rep_count"] == 6


def test_table_shows_every_rep_and_the_set_summary(session) -> None:
    path, _ = session
    res = _matcoach("analyze", str(path))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert sum("double_leg" in line and "fast_descent" in line for line in lines) == 12
    assert any(line.startswith("set 2: 6 × double_leg") for line in lines)
    assert any(line.startswith("hold 1: hollow_hold") for line in lines)


def test_thresholds_come_from_the_config_file(session, tmp_path: Path) -> None:
    path, _ = session
    cfg = tmp_path / "station.toml"
    cfg.write_text("[analysis.faults]\nfast_descent_s = 0.2\n")
    res = _matcoach("analyze", str(path), "--json", "--config", str(cfg))
    assert res.returncode == 0, res.stderr
    assert all("fast_descent" not in r["faults"] for r in json.loads(res.stdout)["reps"])


def test_an_unknown_config_key_is_a_one_line_error(session, tmp_path: Path) -> None:
    path, _ = session
    cfg = tmp_path / "station.toml"
    cfg.write_text("[analysis.faults]\nfast_decsent_s = 2.0\n")
    res = _matcoach("analyze", str(path), "--config", str(cfg))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "fast_decsent_s" in res.stderr and "Traceback" not in res.stderr
