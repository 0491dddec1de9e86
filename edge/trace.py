"""Keypoint trace, version 1 (SPEC.md "Data contracts"): reading with strict validation, and writing.

A trace is JSON Lines: a header line, then one line per frame. It is what a station records instead of
video, and what `matcoach analyze` and replay read. Every defect is reported as a TraceError naming the
line, so a bad file gives one clear message rather than a traceback.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.people import NUM_KEYPOINTS, Person, PoseFrame

FORMAT = "matcoach-trace"
VERSION = 1


class TraceError(ValueError):
    """The trace cannot be read; the message says where and why."""


class TraceHeader(BaseModel):
    # Extra header fields (station, notes, ...) are allowed by the spec, so they are kept, not rejected.
    model_config = ConfigDict(extra="allow")

    format: Literal["matcoach-trace"]
    version: Literal[1]
    fps: float = Field(gt=0, le=1000)
    width: int = Field(gt=0, le=20000)
    height: int = Field(gt=0, le=20000)
    keypoints: Literal["coco17"]
    # Optional calibration: the floor line as two image points, and the mat region as x1, y1, x2, y2.
    floor_line: tuple[tuple[float, float], tuple[float, float]] | None = None
    mat_region: tuple[float, float, float, float] | None = None


def _finite(values: Iterable[float]) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def _parse_person(raw: object, where: str) -> Person:
    if not isinstance(raw, dict):
        raise TraceError(f"{where}: a person must be an object")
    score, bbox, kps = raw.get("score"), raw.get("bbox"), raw.get("keypoints")
    if score is None or not _finite([score]):
        raise TraceError(f"{where}: person score must be a finite number")
    if not isinstance(bbox, list) or len(bbox) != 4 or not _finite(bbox):
        raise TraceError(f"{where}: bbox must be 4 finite numbers")
    if not isinstance(kps, list) or len(kps) != NUM_KEYPOINTS:
        n = len(kps) if isinstance(kps, list) else "no"
        raise TraceError(f"{where}: expected {NUM_KEYPOINTS} keypoints (coco17), got {n}")
    for j, kp in enumerate(kps):
        if not isinstance(kp, list) or len(kp) != 3 or not _finite(kp):
            raise TraceError(f"{where}: keypoint {j} must be [x, y, conf] with finite numbers")
    return Person(
        score=float(score),  # type: ignore[arg-type]
        bbox=np.asarray(bbox, dtype=np.float32),
        keypoints=np.asarray(kps, dtype=np.float32),
    )


def _parse_frame(line: str, lineno: int) -> PoseFrame:
    where = f"line {lineno}"
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise TraceError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise TraceError(f"{where}: a frame must be a JSON object")
    t = raw.get("t")
    if t is None or not _finite([t]):
        raise TraceError(f"{where}: frame time 't' must be a finite number")
    people = raw.get("people")
    if not isinstance(people, list):
        raise TraceError(f"{where}: 'people' must be a list")
    return PoseFrame(t=float(t), people=tuple(_parse_person(p, where) for p in people))  # type: ignore[arg-type]


def _parse_header(line: str) -> TraceHeader:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError:
        raise TraceError("line 1: the header is not valid JSON; is this a matcoach trace?") from None
    try:
        return TraceHeader.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "header"
        raise TraceError(f"line 1: bad trace header field '{field}': {first['msg']}") from None


def iter_trace(stream: IO[str]) -> tuple[TraceHeader, Iterator[PoseFrame]]:
    """Read the header now and return it with a lazy iterator over the frames.

    Frames must have non-decreasing times; any defect raises TraceError when that line is reached.
    """
    first = stream.readline()
    if not first.strip():
        raise TraceError("the trace is empty (no header line)")
    header = _parse_header(first)

    def frames() -> Iterator[PoseFrame]:
        last_t = -math.inf
        for lineno, line in enumerate(stream, start=2):
            if not line.strip():
                continue
            frame = _parse_frame(line, lineno)
            if frame.t < last_t:
                raise TraceError(f"line {lineno}: time goes backwards ({frame.t} after {last_t})")
            last_t = frame.t
            yield frame

    return header, frames()


def read_trace(path: str | Path) -> tuple[TraceHeader, list[PoseFrame]]:
    """Read and validate a whole trace file."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as fh:
            header, frames = iter_trace(fh)
            return header, list(frames)
    except UnicodeDecodeError:
        raise TraceError(f"{p}: not a text file") from None
    except FileNotFoundError:
        raise TraceError(f"{p}: no such file") from None


def person_to_json(person: Person, ndigits: int = 2) -> dict:
    return {
        "score": round(float(person.score), 4),
        "bbox": [round(float(v), ndigits) for v in person.bbox],
        "keypoints": [[round(float(x), ndigits), round(float(y), ndigits), round(float(c), 4)]
                      for x, y, c in person.keypoints],
    }


class TraceWriter:
    """Writes trace v1 line by line, flushing each frame so a killed recorder keeps what it wrote."""

    def __init__(self, stream: IO[str], header: TraceHeader) -> None:
        self._stream = stream
        stream.write(json.dumps(header.model_dump(exclude_none=True)) + "\n")

    def write(self, frame: PoseFrame) -> None:
        line = {"t": round(frame.t, 4), "people": [person_to_json(p) for p in frame.people]}
        self._stream.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._stream.flush()


def make_header(fps: float, width: int, height: int, **extra: object) -> TraceHeader:
    return TraceHeader(format=FORMAT, version=VERSION, fps=fps, width=width, height=height,
                       keypoints="coco17", **extra)
