"""`matcoach demo`, the README's main job: it stops by itself and reports what reached the server."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_demo_stores_reps_from_its_stations_and_says_so_last():
    out = subprocess.run([sys.executable, "-m", "matcoach", "demo", "--duration", "15", "--no-browser",
                          "--stations", "2", "--speed", "6", "--port", "0"],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert re.search(r"wall screen\s+Mat 1: http://127\.0\.0\.1:\d+/wall/", out.stdout)
    assert re.search(r"status page\s+http://127\.0\.0\.1:\d+/staff", out.stdout)
    # Two replaying stations, and the real clip through the pose model on a third.
    assert "camera: demo.mp4" in out.stdout
    last = re.fullmatch(r"demo: (\d+) reps stored, 3 stations", lines[-1])
    assert last and int(last.group(1)) >= 4, lines[-1]
