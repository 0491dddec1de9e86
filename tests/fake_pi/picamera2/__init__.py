"""A stand-in for Raspberry Pi OS's `picamera2`, which needs libcamera and a Pi camera: neither exists
off a Pi, so this is the one place the station's camera is mocked. It takes the calls
`edge/pixels/camera.py` makes and refuses them where the real library would (an unknown format, a second
open of a camera in use, capturing before `start`), and films a video file.

Driven by the environment: FAKE_PICAMERA2_VIDEO is the file it films (looped);
FAKE_PICAMERA2_UNPLUGGED names a file whose existence means the ribbon cable is out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# libcamera's names; "RGB888" is stored B, G, R, "BGR888" R, G, B.
_FORMATS = {"RGB888": 3, "BGR888": 3, "XRGB8888": 4, "XBGR8888": 4}
_in_use = False  # one process holds the camera at a time, as libcamera enforces


def _unplugged() -> bool:
    flag = os.environ.get("FAKE_PICAMERA2_UNPLUGGED")
    return bool(flag) and Path(flag).exists()


class Picamera2:
    def __init__(self, camera_num: int = 0) -> None:
        global _in_use
        if _unplugged():
            raise IndexError("list index out of range")  # what Picamera2() says with no camera attached
        if _in_use:
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        _in_use = True
        self._open = True
        self._config: dict[str, Any] | None = None
        self._video: cv2.VideoCapture | None = None
        self._next_at = 0.0

    def create_video_configuration(self, main: dict | None = None, controls: dict | None = None,
                                   **_: Any) -> dict[str, Any]:
        main = {"format": "XBGR8888", "size": (1280, 720), **(main or {})}
        if main["format"] not in _FORMATS:
            raise RuntimeError(f"Format {main['format']} not supported")
        w, h = main["size"]
        if w <= 0 or h <= 0 or w % 2 or h % 2:
            raise RuntimeError(f"Invalid size {main['size']}")
        return {"use_case": "video", "main": main, "controls": dict(controls or {})}

    def configure(self, config: dict[str, Any]) -> None:
        if self._video is not None:
            raise RuntimeError("Camera must be stopped before configuring")
        self._config = config

    def start(self) -> None:
        if self._config is None:
            raise RuntimeError("Camera has not been configured")
        self._video = cv2.VideoCapture(os.environ["FAKE_PICAMERA2_VIDEO"])

    def capture_array(self, name: str = "main") -> np.ndarray:
        if self._video is None or self._config is None:
            raise RuntimeError("Camera is not running")
        if _unplugged():
            raise RuntimeError("Camera frontend has timed out!")  # libcamera, once the cable is out
        # Frames come at the configured rate, however fast they are asked for.
        period = 1.0 / float(self._config["controls"].get("FrameRate", 30.0))
        time.sleep(max(0.0, self._next_at - time.monotonic()))
        self._next_at = max(self._next_at, time.monotonic()) + period
        ok, frame = self._video.read()
        if not ok:
            self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._video.read()
        main = self._config[name]
        frame = cv2.resize(frame, tuple(main["size"]), interpolation=cv2.INTER_AREA)
        if main["format"] == "BGR888":
            frame = frame[..., ::-1]
        if _FORMATS[main["format"]] == 4:
            frame = cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA)
        return np.ascontiguousarray(frame)

    def stop(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def close(self) -> None:
        global _in_use
        self.stop()
        if self._open:
            self._open, _in_use = False, False
