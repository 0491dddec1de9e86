"""Video → keypoints: the pose model over every frame of a file, as a stream of PoseFrames.

This is how `matcoach analyze VIDEO` reads a clip and how `matcoach trace` records a session as a
keypoint trace instead of video. Offline there is time for the full-frame baseline model, which needs
no knowledge of where the mat is; the live station's faster crops are the station's business.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.camera import OpenCVSource
from edge.model_files import BASELINE_MODEL
from edge.people import PoseFrame
from edge.pose import load_backend
from edge.trace import TraceHeader, TraceWriter, make_header


def pose_frames_from_video(path: Path, model: str | Path | None = None
                           ) -> tuple[TraceHeader, Iterator[tuple[PoseFrame, np.ndarray]]]:
    """Open the video now (so a bad file fails before any work) and return its trace header and its
    frames, each with the image it came from (for the lower back's profile; never written out)."""
    # The model first: if it cannot load, no video handle is left open behind the error.
    backend = load_backend("onnx", model_path=model or BASELINE_MODEL)
    source = OpenCVSource(path)
    width, height = source.size
    header = make_header(fps=source.fps, width=width, height=height, source=path.name,
                         pose_model=backend.name)

    def frames() -> Iterator[tuple[PoseFrame, np.ndarray]]:
        with source:
            for t, image in source:
                yield PoseFrame(t=t, people=tuple(backend.infer(image))), image

    return header, frames()


def record_trace(video: Path, output: Path, model: str | Path | None = None) -> tuple[int, int]:
    """Write the video's keypoints as trace v1; returns (frames, people detections).

    The trace is written beside its destination and moved into place when complete, so a failed run
    never leaves a half trace that looks like a short session.
    """
    header, frames = pose_frames_from_video(video, model)
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
