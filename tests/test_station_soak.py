"""The soak tool (`python -m tests.station_soak`, 30 minutes for the station issue's memory bar) in a
short run: both stations run, exit cleanly on SIGTERM, the replay's reps reach the server, and every
station's memory is reported."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.footage


def test_a_short_soak_reports_each_stations_memory_and_the_reps_stored():
    out = subprocess.run([sys.executable, "-m", "tests.station_soak", "--minutes", "0.6", "--every", "3",
                          "--speed", "8", "--json"], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["exit_codes"] == {"camera": 0, "replay": 0}
    assert r["reps_stored"] > 0
    assert set(r["stations"]) == {"camera", "replay"}
    # The camera station's memory counts its pose model's process too.
    assert r["stations"]["camera"]["processes"] == 2 and r["stations"]["replay"]["processes"] == 1
    for s in r["stations"].values():
        assert 20 < s["rss_warm_mb"] <= s["rss_peak_mb"] and 20 < s["rss_end_mb"] <= s["rss_peak_mb"]
