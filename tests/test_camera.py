"""Frame sources: the real clip reads with file-clock times; every broken input is one clear CameraError."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from edge.camera import CameraError, OpenCVSource, Picamera2Source, open_source

ROOT = Path(__file__).resolve().parent.parent
FOOTAGE = ROOT / "models" / "footage" / "demo.mp4"


@pytest.fixture(scope="module")
def clip() -> Path:
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} is missing: run `bash models/fetch_footage.sh` first")
    return FOOTAGE


def _one_line_error(spec: str | Path) -> str:
    with pytest.raises(CameraError) as info, OpenCVSource(spec) as source:
        for _ in source:
            pass
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.footage
def test_real_clip_reads_every_frame_on_the_file_clock(clip: Path) -> None:
    with open_source(str(clip)) as source:
        assert isinstance(source, OpenCVSource)
        assert source.fps == 30
        assert source.size == (1768, 994)
        times, shapes = [], set()
        for t, frame in source:
            times.append(t)
            shapes.add((frame.shape, frame.dtype))
    assert len(times) == 230
    assert times[:3] == [0.0, 1 / 30, 2 / 30]
    assert times[-1] == pytest.approx(229 / 30)
    assert shapes == {((994, 1768, 3), np.dtype(np.uint8))}
    assert frame.std() > 10  # a real picture, not a blank buffer


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in _one_line_error(tmp_path / "nope.mp4")


def test_directory_is_not_a_video(tmp_path: Path) -> None:
    assert "not a file" in _one_line_error(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert str(empty) in _one_line_error(empty)


def test_random_bytes_named_mp4(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(1).bytes(200_000))
    assert "not a readable video" in _one_line_error(junk)


@pytest.mark.footage
def test_truncated_mp4_is_reported_when_the_frames_run_out(clip: Path, tmp_path: Path) -> None:
    # The clip's index (moov) is at the front, so a cut file opens and decodes until the data stops.
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:1_000_000])
    message = _one_line_error(cut)
    assert "truncated" in message and "of 230 frames" in message


@pytest.mark.footage
def test_mp4_cut_inside_its_index_does_not_open(clip: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:2_000])
    assert "not a readable video" in _one_line_error(cut)


def test_absent_camera_index() -> None:
    assert "camera 97: cannot be opened" in _one_line_error("97")


def test_picamera2_off_the_pi_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Picamera2 only runs on a Pi (apt, libcamera), so it cannot be exercised here. Setting its module
    # entry to None makes `import picamera2` fail even where some stray copy is installed, which is the
    # one path this machine can check: the lazy import failing cleanly.
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraError, match="Picamera2 is not available"):
        Picamera2Source()
    with pytest.raises(CameraError, match="Picamera2 is not available"):
        open_source("picamera2")
