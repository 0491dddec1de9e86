"""Video → keypoints: the pose model over every frame of a file, as a stream of PoseFrames.

This is how `matcoach analyze VIDEO` reads a clip and how `matcoach trace` records a session as a
keypoint trace instead of video. It is the station's own pose stage (`edge/pixels/runner.py`: the int8 model
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


def warn_on_stderr(message: str) -> None:
    """One line for whoever runs the command: the input was used, though not all it claimed to hold."""
    print(f"matcoach: warning: {message}", file=sys.stderr)


def pose_frames_from_video(path: Path, model: str | Path | None = None,
                           warn: Callable[[str], None] = warn_on_stderr
                           ) -> tuple[TraceHeader, Iterator[tuple[PoseFrame, np.ndarray]]]:
    """Open the video now (so a bad file fails before any work) and return its trace header and its
    frames, each with the image it came from (for the lower back's profile; never written out).

    `model` replaces the station's crop model. A file a few frames shorter than its header says (phones
    write such headers) gives the frames that decode, and `warn` is told how many those were once they
    have run out."""
    # The models first: if one cannot load, no video handle is left open behind the error.
    crop = load_backend("onnx", model_path=model or CROP_MODEL)
    runner = CropRunner(crop, load_backend("onnx", model_path=BASELINE_MODEL))
    source = OpenCVSource(path)
    width, height = source.size
    header = make_header(fps=source.fps, width=width, height=height, source=path.name,
                         pose_model=crop.name)

    def frames() -> Iterator[tuple[PoseFrame, np.ndarray]]:
        with source:
            for t, image in source:
                yield PoseFrame(t=t, people=tuple(runner.infer(t, image))), image
        if source.shortfall is not None:
            decoded, declared = source.shortfall
            warn(f"{path}: header says {declared} frames, {decoded} decodable; analysed those")

    return header, frames()


def record_trace(video: Path, output: Path, model: str | Path | None = None,
                 warn: Callable[[str], None] = warn_on_stderr) -> tuple[int, int]:
    """Write the video's keypoints as trace v1; returns (frames, people detections).

    The trace is written beside its destination and moved into place when complete, so a failed run
    never leaves a half trace that looks like a short session. A video a few frames short of its header
    is recorded as far as it decodes, and `warn` is told.
    """
    header, frames = pose_frames_from_video(video, model, warn)
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
