"""Capture in its own thread, handing inference only the newest frame.

A camera delivers frames whether or not inference keeps up. Queueing them would make the screen fall
further and further behind the member; instead the reader keeps one slot, overwrites it, and counts
what it dropped. A camera that disappears (USB unplugged, file removed) is reopened with backoff, in
this thread, without restarting the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.pixels import cores
from edge.pixels.camera import CameraError, FrameSource
from matcoach.wire import CameraState


@dataclass(frozen=True, slots=True)
class Captured:
    seq: int  # counts every frame read, so a gap in seq is the frames dropped before this one
    t: float  # seconds on a clock that only runs forward across reopens
    image: np.ndarray


class LatestFrame:
    """Runs `open_source()` in a thread; `get()` returns the newest frame not yet handed out.

    `paced` plays a file at its own frame rate, as a camera would deliver it (replays, demos, tests);
    `loop` reopens a file that ended. A live camera that ends is reopened in any case.
    """

    def __init__(self, open_source: Callable[[], FrameSource], *, is_file: bool, loop: bool = False,
                 paced: bool = True, backoff_s: tuple[float, float] = (0.5, 10.0)) -> None:
        self._open = open_source
        self.is_file = is_file
        self.loop = loop
        self.paced = paced
        self.backoff_s = backoff_s
        self.state: CameraState = "reopening"
        self.last_error: str | None = None
        self.read = 0
        self.dropped = 0
        self._slot: Captured | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)

    def start(self) -> LatestFrame:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def get(self, timeout: float) -> Captured | None:
        """The newest frame, waiting up to `timeout`; None if none came (or the source ended)."""
        with self._cond:
            if self._slot is None:
                self._cond.wait_for(lambda: self._slot is not None or self._stop.is_set()
                                    or self.state == "stopped", timeout)
            frame, self._slot = self._slot, None
            return frame

    def _put(self, t: float, image: np.ndarray) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self.read += 1
            self._slot = Captured(self.read, t, image)
            self._cond.notify_all()

    def _run(self) -> None:
        # Decoding shares the pipeline loop's core and leaves the model's cores alone (edge/pixels/cores.py).
        with cores.pinned(cores.side_cores()):
            self._read()

    def _read(self) -> None:
        failures = 0
        offset = 0.0  # a reopened file starts its clock at 0 again; keep time running forward
        last_t = -1.0
        while not self._stop.is_set():
            try:
                source = self._open()
            except CameraError as exc:
                failures += 1
                self.state, self.last_error = ("missing" if failures > 1 else "reopening"), str(exc)
                self._stop.wait(min(self.backoff_s[1], self.backoff_s[0] * 2 ** (failures - 1)))
                continue
            failures = 0
            self.state = "ok"
            started = time.monotonic()
            first_t: float | None = None
            try:
                with source:
                    for t, image in source:
                        if self._stop.is_set():
                            return
                        if self.is_file:
                            first_t = t if first_t is None else first_t
                            if self.paced:
                                self._stop.wait(max(0.0, started + (t - first_t) - time.monotonic()))
                            t = offset + t
                        last_t = t
                        self._put(t, image)
            except CameraError as exc:
                self.state, self.last_error = "reopening", str(exc)
                failures = 1
                self._stop.wait(self.backoff_s[0])
            if self.is_file:
                offset = last_t + 1.0 / max(1.0, source.fps)
                if not self.loop and self.state == "ok":
                    self.state = "stopped"
                    with self._cond:
                        self._cond.notify_all()
                    return
