"""Pose stage: one BGR frame (or a region of it) in, people as COCO-17 keypoints in image pixels out.

The model is a YOLO pose network exported to ONNX (models/README.md). Its cost grows with the input
size, and a Pi CPU cannot afford 640×640 per frame, but shrinking the whole frame loses people and
moves keypoints (MODELS.md). The cheap path is to keep the resolution and crop instead: run a small
input on a region around the mat or the tracked person, and map the results back to full-frame pixels.
`crop_around` and `expand_to_aspect` build that region; every backend takes it as `roi`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
import onnxruntime as ort

from edge.people import NUM_KEYPOINTS, Person

# x1, y1, x2, y2 in full-frame pixels, x2/y2 exclusive (numpy slice convention).
Roi = tuple[int, int, int, int]

# Ultralytics trains with grey (114) letterbox borders; padding with anything else shifts the outputs.
PAD_VALUE = 114
# Per anchor: cx, cy, w, h, person score, then 17 × (x, y, visibility), all in input pixels.
ROW_LEN = 5 + NUM_KEYPOINTS * 3
# The network downsamples by up to 32, so a dynamic input's sides must be multiples of it.
STRIDE = 32


@dataclass(frozen=True, slots=True)
class Prepared:
    """A network input ready to run, and what is needed to map its output back to the frame."""

    blob: np.ndarray
    letterbox: Letterbox
    frame_shape: tuple[int, ...]


class PoseError(RuntimeError):
    """The pose model cannot be loaded or run; the message says which file and why."""


class PoseBackend(Protocol):
    """Anything that turns a BGR frame into people.

    `input_size` is the network input as (width, height). A backend with `dynamic` set also takes any
    other `size` (multiples of STRIDE) per call, so a crop can be sized to the person in it.
    """

    name: str
    input_size: tuple[int, int]
    dynamic: bool

    def prepare(self, image_bgr: np.ndarray, roi: Roi | None = None,
                size: tuple[int, int] | None = None, turn: int = 0) -> Prepared:
        """The network input for `image_bgr` (only inside `roi` if given) at `size` (default input_size),
        turned a quarter when `turn` is ±1 (see `letterbox`)."""
        ...

    def run(self, prepared: Prepared) -> np.ndarray:
        """The network's output (less what `finish` would ignore anyway); the only step that must run
        where the model is (`edge/pixels/runner.py` ModelCalls)."""
        ...

    def finish(self, prepared: Prepared, output: np.ndarray) -> list[Person]:
        """People in full-frame pixel coordinates."""
        ...

    def infer(self, image_bgr: np.ndarray, roi: Roi | None = None,
              size: tuple[int, int] | None = None, turn: int = 0) -> list[Person]:
        """All three steps at once."""
        ...


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How a region of the frame was placed into the network input, so results can be mapped back.

    The region may have been turned a quarter first (`turn` 1: counter-clockwise, its right side up;
    -1: clockwise, its left side up; 0: not turned), so that a person lying along it stands upright
    for the model. Per axis of the turned region, input = region pixel × scale + pad; the region's
    own pixels are frame pixels less the offset. `width`, `height`: the region's size before turning,
    which the way back needs.
    """

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    offset_x: int
    offset_y: int
    turn: int = 0
    width: int = 0
    height: int = 0

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) input-pixel coordinates to full-frame pixels."""
        u = (xy[..., 0] - self.pad_x) / self.scale_x
        v = (xy[..., 1] - self.pad_y) / self.scale_y
        if self.turn == 1:
            u, v = self.width - v, u
        elif self.turn == -1:
            u, v = v, self.height - u
        out = np.empty_like(xy, dtype=np.float32)
        out[..., 0] = u + self.offset_x
        out[..., 1] = v + self.offset_y
        return out

    def to_input(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) full-frame pixels to input pixels (the inverse of `to_image`)."""
        u = xy[..., 0] - self.offset_x
        v = xy[..., 1] - self.offset_y
        if self.turn == 1:
            u, v = v, self.width - u
        elif self.turn == -1:
            u, v = self.height - v, u
        out = np.empty_like(xy, dtype=np.float32)
        out[..., 0] = u * self.scale_x + self.pad_x
        out[..., 1] = v * self.scale_y + self.pad_y
        return out


def clip_roi(roi: Roi, frame_shape: tuple[int, ...]) -> Roi:
    """Clip a region to the frame; an empty result is an error, since there is nothing to look at."""
    h, w = frame_shape[:2]
    x1, y1 = max(0, int(roi[0])), max(0, int(roi[1]))
    x2, y2 = min(w, int(roi[2])), min(h, int(roi[3]))
    if x2 - x1 < 2 or y2 - y1 < 2:
        raise ValueError(f"region {roi} has no area inside the {w}×{h} frame")
    return x1, y1, x2, y2


def letterbox(image: np.ndarray, size: tuple[int, int], roi: Roi | None = None,
              turn: int = 0) -> tuple[np.ndarray, Letterbox]:
    """Resize `image[roi]` to fit `size` (width, height) keeping its aspect ratio, centred on grey padding;
    turned a quarter first when `turn` is 1 (counter-clockwise) or -1 (clockwise)."""
    if turn not in (-1, 0, 1):
        raise ValueError(f"turn must be -1, 0 or 1, not {turn}")
    x1, y1, x2, y2 = clip_roi(roi, image.shape) if roi is not None else (0, 0, image.shape[1], image.shape[0])
    crop = image[y1:y2, x1:x2]
    in_w, in_h = size
    h, w = crop.shape[:2]
    tw, th = (h, w) if turn else (w, h)  # the region's size as the model sees it
    r = min(in_w / tw, in_h / th)
    new_w, new_h = max(1, round(tw * r)), max(1, round(th * r))
    # Bilinear, as Ultralytics' own letterbox: INTER_AREA aliases less on large downscales but costs ~8×
    # more on a crop (1.3 ms against 0.15), and measured on the clip it changes no detection (bench).
    # Resized before it is turned: the turn then moves the fewer pixels.
    resized = (new_h, new_w) if turn else (new_w, new_h)
    if resized != (w, h):
        crop = cv2.resize(crop, resized, interpolation=cv2.INTER_LINEAR)
    if turn:
        crop = cv2.rotate(crop, cv2.ROTATE_90_COUNTERCLOCKWISE if turn == 1 else cv2.ROTATE_90_CLOCKWISE)
    pad_x, pad_y = (in_w - new_w) // 2, (in_h - new_h) // 2
    out = cv2.copyMakeBorder(crop, pad_y, in_h - new_h - pad_y, pad_x, in_w - new_w - pad_x,
                             cv2.BORDER_CONSTANT, value=(PAD_VALUE, PAD_VALUE, PAD_VALUE))
    # The exact per-axis scales (not r) make the round trip exact despite the rounding of new_w/new_h.
    return out, Letterbox(new_w / tw, new_h / th, pad_x, pad_y, x1, y1, turn, w, h)


def to_blob(image_bgr: np.ndarray) -> np.ndarray:
    """HWC BGR uint8 → 1×3×H×W RGB float32 in [0, 1], C-contiguous: the layout the exported model expects."""
    # Planes split by OpenCV, then each divided straight into its place: 46 µs for a 192×288 crop. A
    # float copy of a transposed view looks the same but keeps the pixel-interleaved memory order, and
    # making that contiguous (onnxruntime does, and so does the copy into the model's process) is a
    # strided copy of 0.1–0.6 ms per call. Divide, not multiply by 1/255: the int8 calibration was made
    # with division, and its bytes must reproduce (models/export_pose.py).
    blob = np.empty((1, 3, *image_bgr.shape[:2]), np.float32)
    for plane, channel in zip(cv2.split(image_bgr), (2, 1, 0), strict=True):  # BGR → RGB
        np.divide(plane, np.float32(255), out=blob[0, channel], dtype=np.float32)
    return blob


def crop_around(bbox: np.ndarray | tuple[float, float, float, float], frame_shape: tuple[int, ...],
                margin: float = 0.2) -> Roi:
    """A region around a person box, grown by `margin` × the box's longer side on every side.

    The longer side, not each side's own length, sets the margin: a lying person's box is long and
    flat, and a leg or arm raised off the mat leaves it upwards by a lot more than its height.
    """
    x1, y1, x2, y2 = (float(v) for v in bbox)
    m = margin * max(x2 - x1, y2 - y1)
    h, w = frame_shape[:2]
    grown = (int(np.floor(x1 - m)), int(np.floor(y1 - m)), int(np.ceil(x2 + m)), int(np.ceil(y2 + m)))
    return clip_roi(grown, (h, w))


def expand_to_aspect(roi: Roi, aspect: float, frame_shape: tuple[int, ...]) -> Roi:
    """Grow `roi` about its centre to width/height = `aspect`, shifted to stay inside the frame.

    Letterboxing would fill the difference with grey; filling it with real image costs nothing extra
    and keeps limbs that stray past the crop visible. When the frame itself is too small in one
    direction the result is clipped there, and the letterbox pads the rest.
    """
    h, w = frame_shape[:2]
    x1, y1, x2, y2 = clip_roi(roi, frame_shape)
    rw, rh = x2 - x1, y2 - y1
    if rw / rh < aspect:
        rw = min(w, round(rh * aspect))
    else:
        rh = min(h, round(rw / aspect))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    nx1 = int(min(max(0, round(cx - rw / 2)), w - rw))
    ny1 = int(min(max(0, round(cy - rh / 2)), h - rh))
    return nx1, ny1, nx1 + rw, ny1 + rh


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns indices of kept boxes, highest score first."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode(output: np.ndarray, lb: Letterbox, frame_shape: tuple[int, ...], conf_threshold: float,
           iou_threshold: float, max_people: int) -> list[Person]:
    """Turn the raw (1, 56, N) network output into people in full-frame pixels."""
    if output.ndim != 3 or output.shape[0] != 1 or output.shape[1] != ROW_LEN:
        raise PoseError(f"unexpected pose output shape {output.shape}; expected (1, {ROW_LEN}, N)")
    rows = output[0].T
    rows = rows[rows[:, 4] > conf_threshold]
    if not len(rows):
        return []
    cx, cy, bw, bh = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    keep = nms(boxes, rows[:, 4], iou_threshold)[:max_people]
    h, w = frame_shape[:2]
    people = []
    for i in keep:
        corners = lb.to_image(boxes[i].reshape(2, 2))
        # A turned region maps the box's corners to the other two: the box is their extent.
        box = np.concatenate([corners.min(axis=0), corners.max(axis=0)])
        box[[0, 2]] = np.clip(box[[0, 2]], 0, w)
        box[[1, 3]] = np.clip(box[[1, 3]], 0, h)
        kps = rows[i, 5:].reshape(NUM_KEYPOINTS, 3).astype(np.float32)
        kps[:, :2] = lb.to_image(kps[:, :2])
        people.append(Person(score=float(rows[i, 4]), bbox=box.astype(np.float32), keypoints=kps))
    return people


class OnnxPoseBackend:
    """A YOLO pose model in ONNX, run by onnxruntime on the CPU."""

    def __init__(self, model_path: str | Path, conf_threshold: float = 0.25, iou_threshold: float = 0.7,
                 threads: int = 2, max_people: int = 10, default_size: tuple[int, int] = (320, 320)) -> None:
        path = Path(model_path)
        # What it takes to load this backend again elsewhere (`__reduce__`).
        self._args = (path, conf_threshold, iou_threshold, threads, max_people, default_size)
        if not path.is_file():
            raise PoseError(f"pose model not found: {path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # onnxruntime's warnings go to stderr of a kiosk nobody reads
        try:
            self._session = ort.InferenceSession(str(path), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
        # onnxruntime raises its own pybind exception types (InvalidProtobuf, Fail, ...) that share no
        # useful base class; all of them mean the file is not a loadable model.
        except Exception as exc:
            raise PoseError(f"pose model {path} cannot be loaded: {_first_line(exc)}") from None
        inp = self._session.get_inputs()[0]
        out = self._session.get_outputs()[0]
        shape = inp.shape
        if len(shape) != 4 or shape[1] != 3:
            raise PoseError(f"pose model {path} needs a 1×3×H×W input, has {shape}")
        # A dynamic model names its output sizes; `decode` checks the real shape on every call.
        if len(out.shape) != 3 or (isinstance(out.shape[1], int) and out.shape[1] != ROW_LEN):
            raise PoseError(f"pose model {path} outputs {out.shape}; expected (1, {ROW_LEN}, N) COCO-17 pose")
        self._input_name = inp.name
        # A dimension named instead of numbered is free: the model was exported with dynamic=True.
        self.dynamic = not all(isinstance(d, int) for d in shape[2:])
        self.input_size: tuple[int, int] = default_size if self.dynamic else (int(shape[3]), int(shape[2]))
        _check_size(self.input_size)
        kind = "any" if self.dynamic else f"{self.input_size[0]}x{self.input_size[1]}"
        self.name = f"onnx:{path.stem}@{kind}"
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        self.max_people = max_people
        # Seconds spent per stage over this backend's life: what `matcoach bench` reports.
        self.stage_s = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}

    def __reduce__(self) -> tuple:
        """Pickled as its model file and settings, loaded again where it is unpickled (the model's own
        process, `edge/pixels/model_process.py`): an onnxruntime session itself cannot be pickled."""
        return OnnxPoseBackend, self._args

    # One call in three steps, so a pipeline can prepare the next input and decode the last output on
    # another thread while this one is inside onnxruntime (which releases the GIL).
    def prepare(self, image_bgr: np.ndarray, roi: Roi | None = None,
                size: tuple[int, int] | None = None, turn: int = 0) -> Prepared:
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(f"expected an H×W×3 uint8 BGR image, got {image_bgr.shape} {image_bgr.dtype}")
        if size is None:
            size = self.input_size
        elif size != self.input_size:
            if not self.dynamic:
                raise ValueError(f"{self.name} takes only {self.input_size}, not {size}")
            _check_size(size)
        t0 = time.perf_counter()
        padded, lb = letterbox(image_bgr, size, roi, turn)
        prepared = Prepared(to_blob(padded), lb, image_bgr.shape)
        self.stage_s["preprocess"] += time.perf_counter() - t0
        return prepared

    def run(self, prepared: Prepared) -> np.ndarray:
        return self.run_input(prepared.blob)

    def run_input(self, blob: np.ndarray) -> np.ndarray:
        """The network's output for a prepared input with only the anchors scoring over `conf_threshold`,
        the ones `decode` looks at: a few dozen of the thousands, so little crosses from the model's
        process (which has the input only, not how it maps back to the frame)."""
        t0 = time.perf_counter()
        try:
            (output,) = self._session.run(None, {self._input_name: blob})
        # Same pybind exception zoo as at load time; a model that loads but cannot run is just as broken.
        except Exception as exc:
            raise PoseError(f"{self.name}: inference failed: {_first_line(exc)}") from None
        if output.ndim == 3 and output.shape[1] == ROW_LEN:  # any other shape is `decode`'s to report
            output = output[:, :, output[0, 4] > self.conf_threshold]
        self.stage_s["inference"] += time.perf_counter() - t0
        return output

    def finish(self, prepared: Prepared, output: np.ndarray) -> list[Person]:
        t0 = time.perf_counter()
        people = decode(output, prepared.letterbox, prepared.frame_shape, self.conf_threshold,
                        self.iou_threshold, self.max_people)
        self.stage_s["postprocess"] += time.perf_counter() - t0
        return people

    def infer(self, image_bgr: np.ndarray, roi: Roi | None = None,
              size: tuple[int, int] | None = None, turn: int = 0) -> list[Person]:
        prepared = self.prepare(image_bgr, roi, size, turn)
        return self.finish(prepared, self.run(prepared))


def _check_size(size: tuple[int, int]) -> None:
    if any(d < STRIDE or d % STRIDE for d in size):
        raise ValueError(f"input size {size} must be positive multiples of {STRIDE}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


BACKENDS: dict[str, Callable[..., PoseBackend]] = {"onnx": OnnxPoseBackend}


def load_backend(name: str, **kwargs: object) -> PoseBackend:
    """Build a registered backend by name; kwargs go to its constructor (e.g. model_path for "onnx")."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise PoseError(f"unknown pose backend {name!r}; known: {', '.join(sorted(BACKENDS))}") from None
    return factory(**kwargs)
