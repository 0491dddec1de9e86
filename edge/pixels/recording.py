"""Video → keypoints: the pose model over every frame of a file, as a stream of PoseFrames.

This is how `matcoach analyze VIDEO` reads a clip and how `matcoach trace` records a session as a
keypoint trace instead of video. It is the station's own pose stage (`edge/pixels/runner.py`: the pose model
on crops around the people followed, turned upright for a lying member, and the 640 model on the whole
frame to find them), one frame at a time, so a clip is analysed as a station would see it. Measured on
the real clips (docs/keypoints.md), it also places a lying member's legs better than the 640 model on
the whole frame.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from edge.people import PoseFrame
from edge.pixels.camera import OpenCVSource
from edge.pixels.model_files import BASELINE_MODEL, CROP_MODEL
from edge.pixels.pose import load_backend
from edge.pixels.runner import CropRunner
from edge.trace import TraceHeader, TraceWriter, make_header

# Told (frames done, frames the header declares or None) as a video is worked through: once with 0 before
# the first frame, then after each frame has been used by whoever iterates. The display is the caller's
# (`matcoach/progress.py`): the pixels side draws nothing.
Progress = Callable[[int, int | None], None]


def warn_on_stderr(message: str) -> None:
    """One line for whoever runs the command: the input was used, though not all it claimed to hold."""
    print(f"matcoach: warning: {message}", file=sys.stderr)


def pose_frames_from_video(path: Path, model: str | Path | None = None,
                           warn: Callable[[str], None] = warn_on_stderr, progress: Progress | None = None
                           ) -> tuple[TraceHeader, Iterator[tuple[PoseFrame, np.ndarray]]]:
    """Open the video now (so a bad file fails before any work) and return its trace header and its
    frames, each with the image it came from (for the lower back's profile; never written out).

    `model` replaces the station's crop model. A file a few frames shorter than its header says (phones
    write such headers) gives the frames that decode, and `warn` is told how many those were once they
    have run out. `progress`, if given, is told how far the frames have got (see `Progress`)."""
    # The models first: if one cannot load, no video handle is left open behind the error.
    crop = load_backend("onnx", model_path=model or CROP_MODEL)
    runner = CropRunner(crop, load_backend("onnx", model_path=BASELINE_MODEL))
    source = OpenCVSource(path)
    width, height = source.size
    header = make_header(fps=source.fps, width=width, height=height, source=path.name,
                         pose_model=crop.name)

    def frames() -> Iterator[tuple[PoseFrame, np.ndarray]]:
        total = source.frame_count
        with source:
            if progress is not None:
                progress(0, total)
            for done, (t, image) in enumerate(source, start=1):
                yield PoseFrame(t=t, people=tuple(runner.infer(t, image))), image
                if progress is not None:
                    progress(done, total)
        if source.shortfall is not None:
            decoded, declared = source.shortfall
            warn(f"{path}: header says {declared} frames, {decoded} decodable; analysed those")

    return header, frames()


def record_trace(video: Path, output: Path, model: str | Path | None = None,
                 warn: Callable[[str], None] = warn_on_stderr, progress: Progress | None = None
                 ) -> tuple[int, int]:
    """Write the video's keypoints as trace v1; returns (frames, people detections).

    The trace is written beside its destination and moved into place when complete, so a failed run
    never leaves a half trace that looks like a short session. A video a few frames short of its header
    is recorded as far as it decodes, and `warn` is told. `progress` as for `pose_frames_from_video`.
    """
    header, frames = pose_frames_from_video(video, model, warn, progress)
    output.parent.mkdir(parents=True, exist_ok=True)
    n_frames = n_people = 0
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            writer = TraceWriter(fh, header)
            for frame, _ in frames:
                writer.write(frame)
                n_frames += 1
                n_people += len(frame.people)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return n_frames, n_people
