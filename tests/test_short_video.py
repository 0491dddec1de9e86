"""A video whose header promises a few frames more than it holds (phones write such files: 136 declared,
132 decodable) is analysed and traced as far as it decodes, with one line of warning naming the file and
both counts; a file missing much more than that, or with nothing decodable, is still a one-line error
(exit 2).

The files are made here: an MP4 written by OpenCV whose last frames' data is zeroed in place, so the
container's sample table still counts them and the decoder cannot read them."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.pixels.camera import CameraError, OpenCVSource
from edge.pixels.model_files import MODELS_DIR
from edge.trace import read_trace

# The smallest pose model: what is in the frames does not matter here, only how many there are.
FAST_MODEL = MODELS_DIR / "yolo11n-pose-320-int8.onnx"


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """(type, body start, end) of the MP4 boxes laid end to end in data[start:end]."""
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        body = i + 8
        if size == 1:
            size, body = struct.unpack(">Q", data[i + 8:i + 16])[0], i + 16
        elif size == 0:
            size = end - i
        yield kind.decode("latin-1"), body, i + size
        i += size


def _box(data: bytes, path: list[str]) -> tuple[int, int]:
    start, end = 0, len(data)
    for name in path:
        start, end = next((b, e) for kind, b, e in _boxes(data, start, end) if kind == name)
    return start, end


def phone_video(path: Path, frames: int = 136, unreadable: int = 4, fps: float = 25.0) -> Path:
    """An MP4 of `frames` frames (a ball rolling past) whose last `unreadable` ones cannot be decoded."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (160, 120))
    for i in range(frames):
        img = np.full((120, 160, 3), 60, np.uint8)
        cv2.circle(img, (10 + i % 140, 60), 12, (0, 200, 255), -1)
        writer.write(img)
    writer.release()
    data = bytearray(path.read_bytes())
    # OpenCV writes the samples in order into one chunk of `mdat`, with the index (`moov`) after it:
    # the last samples are the last bytes of mdat, and their sizes are in the sample-size table.
    body, _ = _box(data, ["moov", "trak", "mdia", "minf", "stbl", "stsz"])
    uniform, count = struct.unpack(">II", data[body + 4:body + 12])
    assert count == frames
    table = data[body + 12:body + 12 + 4 * count]
    sizes = [uniform] * count if uniform else struct.unpack(f">{count}I", table)
    _, mdat_end = _box(data, ["mdat"])
    cut = sum(sizes[count - unreadable:])
    data[mdat_end - cut:mdat_end] = bytes(cut)
    path.write_bytes(bytes(data))
    return path


def _decodable(path: Path) -> tuple[int, int]:
    cap = cv2.VideoCapture(str(path))
    declared, decoded = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0
    while cap.read()[0]:
        decoded += 1
    cap.release()
    return declared, decoded


def _matcoach(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "matcoach", *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    path = phone_video(tmp_path / "clip.mp4")
    assert _decodable(path) == (136, 132)  # what the file is: a header promising 4 frames it lacks
    return path


def test_the_source_gives_every_frame_that_decodes_and_tells_how_many_fewer_there_were(clip: Path) -> None:
    with OpenCVSource(clip) as source:
        times = [t for t, _ in source]
    assert len(times) == 132 and times[-1] == pytest.approx(131 / 25)
    assert source.shortfall == (132, 136)


def test_analyze_uses_what_decodes_with_one_line_of_warning(clip: Path) -> None:
    res = _matcoach("analyze", str(clip), "--json", "--model", str(FAST_MODEL))
    assert res.returncode == 0, res.stderr
    assert set(json.loads(res.stdout)) == {"reps", "sets", "holds"}
    assert res.stderr == f"matcoach: warning: {clip}: header says 136 frames, 132 decodable; analysed those\n"


def test_trace_records_what_decodes_with_one_line_of_warning(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.jsonl"
    res = _matcoach("trace", str(clip), "-o", str(out), "--model", str(FAST_MODEL))
    assert res.returncode == 0, res.stderr
    warning, wrote = res.stderr.splitlines()
    assert warning == f"matcoach: warning: {clip}: header says 136 frames, 132 decodable; analysed those"
    assert wrote.startswith(f"wrote {out}: 132 frames")
    _, frames = read_trace(out)
    assert len(frames) == 132


@pytest.mark.parametrize(("unreadable", "message"), [
    (40, "video ends after 96 of 136 frames (truncated or corrupt)"),
    (136, "no frame could be decoded (corrupt or unsupported video)"),
])
def test_a_file_missing_more_than_a_few_frames_is_still_a_one_line_error(tmp_path: Path, unreadable: int,
                                                                         message: str) -> None:
    broken = phone_video(tmp_path / "broken.mp4", unreadable=unreadable)
    with pytest.raises(CameraError, match=re.escape(message)), OpenCVSource(broken) as source:
        for _ in source:
            pass
    for args in (("analyze", str(broken), "--json"), ("trace", str(broken), "-o", str(tmp_path / "x.jsonl"))):
        res = _matcoach(*args, "--model", str(FAST_MODEL))
        assert res.returncode == 2 and res.stdout == ""
        assert res.stderr == f"matcoach: error: {broken}: {message}\n"
    assert not (tmp_path / "x.jsonl").exists()
