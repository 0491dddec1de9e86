"""Frame sources: the real clip reads with file-clock times; every broken input is one clear CameraError."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.pixels.camera import CameraError, OpenCVSource, Picamera2Source, open_source

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
    # Setting its module entry to None makes `import picamera2` fail even where some copy is installed:
    # the lazy import failing cleanly, as on any machine that is not a Pi.
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(CameraError, match="Picamera2 is not available"):
        Picamera2Source()
    with pytest.raises(CameraError, match="Picamera2 is not available"):
        open_source("picamera2")


FAKE_PI = ROOT / "tests" / "fake_pi"


@pytest.fixture
def pi_camera(monkeypatch: pytest.MonkeyPatch, clip: Path, tmp_path: Path) -> Iterator[Path]:
    """The Pi camera, mocked (tests/fake_pi: libcamera and the camera exist only on a Pi), filming the
    clip; the returned path is the "cable out" flag: the camera is unplugged while it exists."""
    unplugged = tmp_path / "unplugged"
    monkeypatch.setenv("FAKE_PICAMERA2_VIDEO", str(clip))
    monkeypatch.setenv("FAKE_PICAMERA2_UNPLUGGED", str(unplugged))
    monkeypatch.syspath_prepend(str(FAKE_PI))
    monkeypatch.delitem(sys.modules, "picamera2", raising=False)
    yield unplugged
    sys.modules.pop("picamera2", None)


def test_the_pi_camera_delivers_bgr_frames_at_its_configured_size(pi_camera: Path, clip: Path) -> None:
    with Picamera2Source(size=(640, 360), fps=30.0) as camera:
        frames = [frame for _, frame in zip(range(4), camera, strict=False)]
    assert all(f.shape == (360, 640, 3) and f.dtype == np.uint8 for _, f in frames)
    assert [t for t, _ in frames] == sorted(t for t, _ in frames)
    # In the byte order the pose stage takes (B, G, R), not swapped: what the lens saw, unchanged.
    ok, first = cv2.VideoCapture(str(clip)).read()
    assert ok and np.array_equal(frames[0][1], cv2.resize(first, (640, 360), interpolation=cv2.INTER_AREA))


def test_a_pi_camera_unplugged_is_one_clear_error_and_opens_again_once_back(pi_camera: Path) -> None:
    camera = Picamera2Source()
    next(iter(camera))
    pi_camera.touch()
    with pytest.raises(CameraError, match="Pi camera stopped delivering frames: Camera frontend has timed"):
        next(iter(camera))
    camera.close()
    with pytest.raises(CameraError, match="Pi camera cannot be started"):
        Picamera2Source()
    pi_camera.unlink()
    with Picamera2Source() as again:  # not "busy": every failed or lost camera was released
        assert next(iter(again))[1].shape == (720, 1280, 3)


def test_a_pi_camera_that_fails_to_start_is_released_for_the_next_try(
        pi_camera: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import picamera2

    def failing_start(self: picamera2.Picamera2) -> None:
        raise RuntimeError("Failed to start camera: Input/output error")

    real_start = picamera2.Picamera2.start
    monkeypatch.setattr(picamera2.Picamera2, "start", failing_start)
    with pytest.raises(CameraError, match="Pi camera cannot be started: Failed to start camera"):
        Picamera2Source()
    monkeypatch.setattr(picamera2.Picamera2, "start", real_start)
    with Picamera2Source() as camera:
        assert next(iter(camera))[1].shape == (720, 1280, 3)
