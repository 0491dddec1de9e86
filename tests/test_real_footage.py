"""The real sports2d clip (MODELS.md) end to end through the command line: two people jumping and
walking, nobody on a mat, so no leg-lift rep may be counted; and a station can record it as a trace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.trace import read_trace

FOOTAGE = Path(__file__).resolve().parent.parent / "models" / "footage" / "demo.mp4"

pytestmark = pytest.mark.footage


def _matcoach(*args: str) -> subprocess.CompletedProcess[str]:
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} is missing: run `bash models/fetch_footage.sh` first")
    return subprocess.run([sys.executable, "-m", "matcoach", *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trace") / "demo.jsonl"
    res = _matcoach("trace", str(FOOTAGE), "-o", str(out))
    assert res.returncode == 0, res.stderr
    return out


def test_analyze_the_video_counts_no_reps() -> None:
    res = _matcoach("analyze", str(FOOTAGE), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"reps": [], "sets": [], "holds": []}


def test_trace_records_every_frame_with_both_people(recorded: Path) -> None:
    header, frames = read_trace(recorded)
    assert (header.width, header.height, header.fps) == (1768, 994, 30)
    assert len(frames) == 230
    both = sum(1 for f in frames if sum(p.score > 0.5 for p in f.people) >= 2)
    assert both >= 60, f"only {both} frames with both people"
    # Keypoints the model is sure of are in image pixels, inside the frame, give or take the few pixels a
    # crop's grey border lets the model place a foot past its edge (one ankle at x = -4 on this clip).
    margin = 0.01 * 1768
    assert all(-margin <= kp[0] <= 1768 + margin and -margin <= kp[1] <= 994 + margin
               for f in frames for p in f.people for kp in p.keypoints if kp[2] > 0.5)


def test_the_recorded_trace_also_counts_no_reps(recorded: Path) -> None:
    res = _matcoach("analyze", str(recorded), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["reps"] == []
