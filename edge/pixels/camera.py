"""Frame sources: where the pose stage gets its BGR frames, each with a time on the source's clock.

A station reads the Pi camera (Picamera2) or a USB camera (OpenCV); development and CI read video files.
Every failure to open or decode becomes a CameraError with a one-line message, because a kiosk must
report "camera unplugged" or "not a video" rather than die on a cv2 traceback.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

# FFmpeg inside OpenCV prints its own complaints ("moov atom not found") straight to stderr; a bad
# file is reported once, as a CameraError, so its chatter is silenced before cv2 loads it.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")

import cv2
import numpy as np

Frame = tuple[float, np.ndarray]

# Container frame counts are estimates: a file a frame or two short of its header's count is whole.
TRUNCATION_SLACK = 2
# Phones write headers that promise a few frames more than the file holds (136 declared, 132 decodable):
# up to this share of the declared frames missing, the frames that decode are the video, and the
# shortfall is told (`OpenCVSource.shortfall`), not refused. More missing is a file cut short or damaged.
SHORT_SHARE = 0.1


class CameraError(RuntimeError):
    """The frame source cannot be opened or stopped delivering frames; the message says which and why."""


class FrameSource(Protocol):
    """Iterating yields (t_seconds, frame_bgr) until the source ends; `size` is (width, height)."""

    fps: float
    size: tuple[int, int]

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...


class _Source(ABC):
    """Context-manager plumbing shared by the sources: leaving the block releases the device or file."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class OpenCVSource(_Source):
    """A camera by device index (int or digit string) or a video file, read with OpenCV.

    Files are timed by frame index / fps, so analysis of a file is reproducible; cameras by the
    monotonic clock at capture. One pass only: iterating again continues where the last pass stopped.
    """

    def __init__(self, spec: int | str | Path) -> None:
        is_device = isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit())
        self._device = int(spec) if is_device else None
        self._label = f"camera {self._device}" if is_device else str(spec)
        if not is_device:
            path = Path(spec)
            if not path.exists():
                raise CameraError(f"{path}: no such file")
            if not path.is_file():
                raise CameraError(f"{path}: not a file")
        try:
            if is_device:
                self._cap = cv2.VideoCapture(self._device)
            else:
                # One decoding thread: FFmpeg's default of one per core costs a quarter more CPU here and
                # takes it from the pose model, which the station runs on the other cores.
                self._cap = cv2.VideoCapture(str(spec), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, 1])
        except cv2.error as exc:
            raise CameraError(f"{self._label}: cannot be opened ({_first_line(exc)})") from None
        if not self._cap.isOpened():
            what = "cannot be opened (unplugged or in use?)" if is_device else "not a readable video"
            raise CameraError(f"{self._label}: {what}")
        # Reading one frame now is the only way to know a file decodes: a damaged one can open fine.
        first = self._read()
        if first is None:
            self._cap.release()
            raise CameraError(f"{self._label}: no frame could be decoded (corrupt or unsupported video)")
        self._first: np.ndarray | None = first
        self.size: tuple[int, int] = (first.shape[1], first.shape[0])
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        valid_fps = math.isfinite(fps) and 0 < fps <= 1000
        if not valid_fps and not is_device:
            self._cap.release()
            raise CameraError(f"{self._label}: the video has no usable frame rate ({fps})")
        # Many USB cameras report 0; the monotonic clock times their frames anyway, so fps is informative.
        self.fps: float = float(fps) if valid_fps else 30.0
        count = self._cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self._expected = int(count) if not is_device and math.isfinite(count) and count > 0 else None
        self._index = 0
        # (frames decoded, frames the header declared) of a file that ended a few frames early.
        self.shortfall: tuple[int, int] | None = None

    @property
    def frame_count(self) -> int | None:
        """The frames a file's header declares (an estimate: see `shortfall`); None for a camera, or a
        file whose header does not say."""
        return self._expected

    def _read(self) -> np.ndarray | None:
        try:
            ok, frame = self._cap.read()
        except cv2.error:
            return None
        return frame if ok and frame is not None and frame.size else None

    def __iter__(self) -> Iterator[Frame]:
        while True:
            if self._first is not None:
                frame, self._first = self._first, None
            else:
                frame = self._read()
            t = time.monotonic() if self._device is not None else self._index / self.fps
            if frame is None:
                self._end()
                return
            self._index += 1
            yield t, frame

    def _end(self) -> None:
        if self._device is not None:
            raise CameraError(f"{self._label}: stopped delivering frames")
        if self._expected is None or self._index >= self._expected - TRUNCATION_SLACK:
            return
        if self._index < (1 - SHORT_SHARE) * self._expected:
            raise CameraError(f"{self._label}: video ends after {self._index} of {self._expected} frames "
                              "(truncated or corrupt)")
        self.shortfall = (self._index, self._expected)

    def close(self) -> None:
        self._cap.release()


class Picamera2Source(_Source):
    """The Raspberry Pi camera through Picamera2, which exists only on a Pi (from apt, not PyPI)."""

    def __init__(self, size: tuple[int, int] = (1280, 720), fps: float = 30.0) -> None:
        # Imported here, not at module level, so everything else in this module works off the Pi.
        try:
            from picamera2 import Picamera2  # type: ignore[import-not-found]
        except ImportError:
            raise CameraError("Picamera2 is not available: it ships with Raspberry Pi OS "
                              "(apt install python3-picamera2); elsewhere use a device index or a video file"
                              ) from None
        self._cam: Any = None
        try:
            self._cam = Picamera2()
            # "RGB888" is libcamera's name for B, G, R byte order: the layout OpenCV and the pose stage use.
            config = self._cam.create_video_configuration(main={"size": size, "format": "RGB888"},
                                                          controls={"FrameRate": fps})
            self._cam.configure(config)
            self._cam.start()
        # Picamera2 reports a missing or busy camera with assorted exception types (RuntimeError,
        # IndexError, OSError); for the station they all mean the same thing.
        except Exception as exc:
            # A camera acquired but not started stays claimed until closed, and the next try would
            # find it busy.
            self.close()
            raise CameraError(f"Pi camera cannot be started: {_first_line(exc)}") from None
        self.size = size
        self.fps = fps

    def __iter__(self) -> Iterator[Frame]:
        while True:
            try:
                frame = self._cam.capture_array("main")
            except Exception as exc:
                raise CameraError(f"Pi camera stopped delivering frames: {_first_line(exc)}") from None
            yield time.monotonic(), frame

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        # A camera that vanished can fail to stop and to close. Neither may take the capture thread
        # down, and close must still be tried: a camera left claimed is "busy" to the next open.
        with contextlib.suppress(Exception):
            cam.stop()
        with contextlib.suppress(Exception):
            cam.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_source(spec: str) -> FrameSource:
    """"picamera2" for the Pi camera, a digit string for a camera index, anything else a video file path."""
    if spec.lower() == "picamera2":
        return Picamera2Source()
    return OpenCVSource(spec)
