"""The capture thread: only the newest frame reaches inference, and a camera (here a video file) that
disappears and comes back is picked up again without restarting anything."""

from __future__ import annotations

import itertools
import os
import shutil
import time

import cv2
import numpy as np
import pytest

from edge.pixels import cores
from edge.pixels.camera import OpenCVSource
from edge.pixels.capture import LatestFrame
from tests.servers import wait_for


def make_video(path, frames: int = 30, fps: float = 30.0):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), i * 8 % 256, np.uint8))
    writer.release()
    return path



def test_a_slow_consumer_gets_the_newest_frame_and_the_rest_are_dropped_not_queued(tmp_path):
    video = make_video(tmp_path / "clip.avi", frames=60)
    capture = LatestFrame(lambda: OpenCVSource(video), is_file=True).start()
    got, newest_read = [], []
    try:
        while (frame := capture.get(timeout=2.0)) is not None:
            got.append(frame)
            newest_read.append(capture.read)
            time.sleep(0.15)  # inference slower than the camera
    finally:
        capture.stop()
    assert capture.state == "stopped" and capture.read == 60
    assert len(got) < 30 and capture.dropped == 60 - len(got)
    # Each frame handed over was the newest read (or one behind, if a frame landed during the hand-over).
    assert all(read - f.seq <= 1 for f, read in zip(got, newest_read, strict=True))
    assert all(b.t > a.t for a, b in itertools.pairwise(got))


def test_a_camera_that_disappears_is_reopened_by_itself(tmp_path):
    video = make_video(tmp_path / "clip.avi", frames=15)
    spare = shutil.copy(video, tmp_path / "spare.avi")
    capture = LatestFrame(lambda: OpenCVSource(video), is_file=True, loop=True,
                          backoff_s=(0.1, 0.4)).start()
    try:
        assert capture.get(timeout=3.0) is not None
        video.unlink()
        assert wait_for(lambda: capture.state in ("reopening", "missing"))
        assert "no such file" in capture.last_error
        while capture.get(timeout=0.1) is not None:  # drain what was read before it went
            pass
        before = capture.read
        shutil.copy(spare, video)
        assert wait_for(lambda: capture.state == "ok" and capture.read > before)
        frame = capture.get(timeout=3.0)
        assert frame is not None and frame.seq > before
    finally:
        capture.stop()


@pytest.mark.parametrize("loop", [False, True])
def test_time_keeps_running_forward_when_a_file_loops(tmp_path, loop):
    video = make_video(tmp_path / "clip.avi", frames=10)
    capture = LatestFrame(lambda: OpenCVSource(video), is_file=True, loop=loop, paced=False).start()
    times = []
    try:
        while len(times) < 25 and (frame := capture.get(timeout=1.0)) is not None:
            times.append(frame.t)
    finally:
        capture.stop()
    assert all(b > a for a, b in itertools.pairwise(times))
    assert (max(times) > 0.5) == loop  # ten frames at 30 fps last a third of a second


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: nothing to keep apart")
def test_decoding_keeps_off_the_cores_the_model_runs_on(tmp_path):
    # Decoding on a model core would stall the model's calls (edge/pixels/cores.py).
    video = make_video(tmp_path / "clip.avi")
    decoded_on: list[set[int]] = []

    class Watched(OpenCVSource):
        def __iter__(self):
            for item in super().__iter__():
                decoded_on.append(os.sched_getaffinity(0))
                yield item

    before = os.sched_getaffinity(0)
    capture = LatestFrame(lambda: Watched(video), is_file=True, paced=False).start()
    try:
        assert wait_for(lambda: len(decoded_on) >= 10)
    finally:
        capture.stop()
    assert all(mask == cores.side_cores() for mask in decoded_on)
    assert not cores.side_cores() & cores.model_cores()
    assert os.sched_getaffinity(0) == before  # only the capture thread was kept to the side core
