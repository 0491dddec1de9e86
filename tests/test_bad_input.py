"""Bad input to `matcoach analyze`: one clear line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = {"format": "matcoach-trace", "version": 1, "fps": 30, "width": 1280, "height": 720,
          "keypoints": "coco17"}
GOOD_PERSON = {"score": 0.9, "bbox": [100, 300, 900, 500], "keypoints": [[500.0, 400.0, 0.9]] * 17}
NAN_PERSON = {**GOOD_PERSON, "keypoints": [[float("nan"), 1.0, 0.9]] * 17}
SHORT_PERSON = {**GOOD_PERSON, "keypoints": [[1.0, 1.0, 0.9]] * 13}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcoach", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text)
    return p


def _trace(*frames: object) -> str:
    return "\n".join(json.dumps(x) for x in (HEADER, *frames)) + "\n"


CASES = {
    "empty.jsonl": ("", "empty"),
    "not_json.jsonl": ("this is not json\n", "header"),
    "bad_header.jsonl": (json.dumps({**HEADER, "version": 7}) + "\n", "version"),
    "truncated.jsonl": (_trace({"t": 0.0, "people": [GOOD_PERSON]})
                        + '{"t": 0.033, "people": [{"score": 0.9, "bbox": [1, 2', "line 3"),
    "nan.jsonl": (_trace({"t": 0.0, "people": [NAN_PERSON]}), "finite"),
    "wrong_count.jsonl": (_trace({"t": 0.0, "people": [SHORT_PERSON]}), "17 keypoints"),
    "backwards.jsonl": (_trace({"t": 1.0, "people": []}, {"t": 0.5, "people": []}), "backwards"),
    "no_people.jsonl": (_trace({"t": 0.0}), "people"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_malformed_trace_is_one_line_error(tmp_path: Path, name: str) -> None:
    text, expected = CASES[name]
    res = _run("analyze", str(_write(tmp_path, name, text)), "--json")
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert expected in lines[0]
    assert res.stdout == ""


def test_missing_file(tmp_path: Path) -> None:
    res = _run("analyze", str(tmp_path / "nope.mp4"))
    assert res.returncode != 0 and "no such file" in res.stderr and "Traceback" not in res.stderr


def test_corrupt_video(tmp_path: Path) -> None:
    bad = _write(tmp_path, "clip.mp4", bytes(range(256)) * 64)
    res = _run("analyze", str(bad), "--json")
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_empty_but_valid_trace_has_no_reps(tmp_path: Path) -> None:
    res = _run("analyze", str(_write(tmp_path, "ok.jsonl", _trace({"t": 0.0, "people": []}))), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"reps": [], "sets": [], "holds": []}
