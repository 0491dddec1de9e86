"""Where the pose model looks on each live frame.

The measured operating point (models/README.md): the pose model (fp32) on a crop around each person seen
on the previous frame, the crop's input sized so the person's longer side is PERSON_PX model pixels. Shrinking
the whole frame instead misses people, and a fixed 320×320 crop spends most of its pixels on the space
around a standing or lying person. People close together share one crop when that costs less than
one each. A crop can only follow people already found, so the frame is looked at more widely when:
- a followed person was not found in their crop (lost, or hidden by glare): the whole frame, next frame;
- something moves outside the crops (a tiny frame difference, ~0.1 ms): someone may be walking on, so a
  crop around what moved, or the whole frame when much of it moved (lights switched);
- `scan_every_s` has passed (the whole frame), a backstop for whoever arrives without moving much.
An empty, still scene therefore costs one whole-frame call per `scan_every_s`.
"""

from __future__ import annotations

import contextlib
import math
import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from edge.people import HIPS, SHOULDERS, Person, iou
from edge.pixels import cores
from edge.pixels.pose import STRIDE, PoseBackend, Prepared, Roi, clip_roi, crop_around, expand_to_aspect

# A person's longer side in model input pixels. Measured on the sports2d clip (models/README.md): at
# this size the keypoints agree with the 640 full-frame model as closely as larger crops do.
PERSON_PX = 192
# The fixed cost of one model call, in input pixels of work (onnxruntime's per-call overhead, measured:
# 160×224 takes 3.3 ms, 320×320 8.0 ms). Two crops merge into one when that is cheaper.
CALL_PX = 30_000
# Motion is looked for on a frame this wide (keeps it cheap and ignores sensor noise and small sway).
MOTION_WIDTH = 96
# A pixel of that small frame "moved" when its grey level changes by this much between frames...
MOTION_LEVEL = 25
# ...and something moved when this share of the pixels outside the crops did.
MOTION_SHARE = 0.001
# Motion over more than this share of the frame is a lighting change or the camera: look everywhere.
MOTION_WIDE = 0.25
# A crop reaches this much of its person's longer side past their box (heading included) on every side:
# room for the box's own jitter and a limb flung out.
CROP_MARGIN = 0.15
# What moved may be only a limb: its crop reaches this much of its own size further on every side.
MOTION_MARGIN = 0.5
# A crop is planned from people seen this many frames earlier (`stream` overlaps frames), so it also
# covers where a moving person's box is heading at their last speed.
LOOKAHEAD_FRAMES = 2


class Crop:
    """A region, the model input size it is shown at and how it is turned (`edge.pixels.pose.letterbox`);
    `people` are the followed people inside."""

    def __init__(self, roi: Roi, size: tuple[int, int], people: list[Person], turn: int = 0) -> None:
        self.roi, self.size, self.people, self.turn = roi, size, people, turn

    @property
    def cost(self) -> int:
        return self.size[0] * self.size[1] + CALL_PX


def sized_crop(roi: Roi, person_long: float, frame_shape: tuple[int, ...], people: list[Person],
               max_side: int = 640, turn: int = 0) -> Crop:
    """`roi` grown to the aspect of an input where a person `person_long` pixels long is PERSON_PX,
    turned a quarter when `turn` is ±1 (the input is then as tall as the region is wide).

    Never upscaled: a small person keeps their pixels. Growing (rather than letterboxing) fills the
    input with real image, so limbs that stray past the box stay visible.
    """
    x1, y1, x2, y2 = roi
    scale = min(1.0, PERSON_PX / max(person_long, 1.0))
    w = min(max_side, STRIDE * max(1, math.ceil((x2 - x1) * scale / STRIDE)))
    h = min(max_side, STRIDE * max(1, math.ceil((y2 - y1) * scale / STRIDE)))
    region = expand_to_aspect(roi, w / h, frame_shape)
    return Crop(region, (h, w) if turn else (w, h), people, turn)


def upright_turn(person: Person, min_conf: float = 0.3) -> int:
    """The quarter turn that stands `person` upright, head up, when they lie along the image (their
    torso within 45° of horizontal): 1 when their head is to the right, -1 to the left, else 0.

    YOLO pose models learnt people upright. On a body lying on its back with the legs raised they
    misplace knees, merge the legs and take a raised leg for an arm (the real clips of
    `../shared/footage/`); turned upright, the same body is a person sitting with the legs forward,
    which they know (docs/keypoints.md has the measurements).
    """
    k = person.keypoints
    shoulders, hips = k[list(SHOULDERS)], k[list(HIPS)]
    if shoulders[:, 2].max() < min_conf or hips[:, 2].max() < min_conf:
        return 0
    head = shoulders[shoulders[:, 2].argmax(), :2]
    seat = hips[hips[:, 2].argmax(), :2]
    dx, dy = head - seat
    if abs(dx) <= abs(dy):
        return 0
    return 1 if dx > 0 else -1


def _long_side(bbox: np.ndarray) -> float:
    return float(max(bbox[2] - bbox[0], bbox[3] - bbox[1]))


def plan_crops(people: list[Person], frame_shape: tuple[int, ...],
               regions: list[np.ndarray] | None = None, upright: bool = True) -> list[Crop]:
    """One crop per person (around their box, or around `regions` when given: where they are heading),
    turned to stand them upright unless `upright` is off, then merged pairwise while a merged crop costs
    less than its two parts."""
    boxes = regions if regions is not None else [p.bbox for p in people]
    crops = [sized_crop(crop_around(box, frame_shape, CROP_MARGIN), _long_side(p.bbox), frame_shape, [p],
                        turn=upright_turn(p) if upright else 0)
             for p, box in zip(people, boxes, strict=True)]
    merged = True
    while merged and len(crops) > 1:
        merged = False
        for i in range(len(crops)):
            for j in range(i + 1, len(crops)):
                a, b = crops[i], crops[j]
                if a.turn != b.turn:  # one input cannot stand both upright
                    continue
                union = (min(a.roi[0], b.roi[0]), min(a.roi[1], b.roi[1]),
                         max(a.roi[2], b.roi[2]), max(a.roi[3], b.roi[3]))
                together = a.people + b.people
                # At the scale the smallest of them needs, so nobody is shown below PERSON_PX.
                both = sized_crop(union, min(_long_side(p.bbox) for p in together), frame_shape, together,
                                  turn=a.turn)
                if both.cost < a.cost + b.cost:
                    crops[i] = both
                    del crops[j]
                    merged = True
                    break
            if merged:
                break
    return crops


def _heading(person: Person, before: list[Person]) -> np.ndarray:
    """`person`'s box grown to cover where it will be LOOKAHEAD_FRAMES on, at the speed it moved since
    the last frame (matched by overlap; someone new is taken as still)."""
    previous = max(before, key=lambda q: iou(q.bbox, person.bbox), default=None)
    if previous is None or iou(previous.bbox, person.bbox) == 0:
        return person.bbox
    ahead = person.bbox + (person.bbox - previous.bbox) * LOOKAHEAD_FRAMES
    return np.concatenate([np.minimum(person.bbox[:2], ahead[:2]), np.maximum(person.bbox[2:], ahead[2:])])


def fit_size(frame_shape: tuple[int, ...], long_side: int) -> tuple[int, int]:
    """The input (width, height) showing the whole frame with its longer side at `long_side`."""
    h, w = frame_shape[:2]
    scale = long_side / max(w, h)
    return (STRIDE * math.ceil(w * scale / STRIDE), STRIDE * math.ceil(h * scale / STRIDE))


@dataclass(slots=True)
class Call:
    """One model call planned for a frame: on which backend, where, at what input size, and why."""

    backend: PoseBackend
    roi: Roi | None
    size: tuple[int, int]
    kind: str  # "crop" (followed people), "motion" (around what moved) or "scan" (the whole frame)
    seeds: list[Person]
    turn: int = 0  # the region turned a quarter so a lying person stands upright (`upright_turn`)


class ModelCalls(Protocol):
    """Where `CropRunner.stream` has a frame's model calls run while it goes on with other frames:
    `ModelThread` (any backend) or `edge.pixels.model_process.ModelProcess` (onnxruntime models, the
    station)."""

    def put(self, job: Sequence[tuple[int, Prepared]]) -> None:
        """Queue a frame's calls: (which backend: 0 crop, 1 scan, its prepared input) each."""
        ...

    def get(self) -> list[np.ndarray]:
        """The outputs of the oldest frame queued and not yet taken back; raises what a call raised."""
        ...


class ModelThread:
    """A frame's model calls on a thread of this process, pinned to the model's cores. It shares the
    interpreter lock with the pipeline, which costs each call's return a wait
    (`edge/pixels/model_process.py`)."""

    def __init__(self, backends: Sequence[PoseBackend]) -> None:
        self.backends = list(backends)
        self._todo: queue.SimpleQueue = queue.SimpleQueue()
        self._done: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._serve, name="pose-model", daemon=True).start()
        # The model thread needs the GIL back after each call; with Python's default 5 ms switch interval
        # it would wait that long whenever the pipeline's thread is busy, and the model would sit idle.
        self._switch = sys.getswitchinterval()
        sys.setswitchinterval(min(self._switch, 0.0002))

    def _serve(self) -> None:
        with cores.pinned(cores.model_cores()):
            while (job := self._todo.get()) is not None:
                try:
                    self._done.put([self.backends[which].run(prepared) for which, prepared in job])
                except Exception as exc:  # handed to the caller, raised there with its own message
                    self._done.put(exc)

    def put(self, job: Sequence[tuple[int, Prepared]]) -> None:
        self._todo.put(job)

    def get(self) -> list[np.ndarray]:
        outputs = self._done.get()
        if isinstance(outputs, Exception):
            raise outputs
        return outputs

    def close(self) -> None:
        self._todo.put(None)
        sys.setswitchinterval(self._switch)


class CropRunner:
    """Plans each frame's model calls from the people followed, and follows whoever they find.

    `infer` does one frame at a time. `stream` overlaps frames: frame N+1 is planned from the people of
    frame N-1 and queued behind frame N, which the model runs on a thread or in a process of its own
    (`ModelCalls`), and only then is frame N-1 handed on to be analysed. The model always has a frame
    waiting, so on two cores the pipeline costs little more than its model calls.
    """

    def __init__(self, crop: PoseBackend, scan: PoseBackend, scan_every_s: float = 2.0,
                 max_followed: int = 3, scan_side: int = 640, upright: bool = True) -> None:
        self.crop = crop
        self.scan = scan
        self.scan_every_s = scan_every_s
        self.max_followed = max_followed
        # Crops around a person lying along the image are turned to stand them upright (`upright_turn`).
        self.upright = upright
        # A scan shows the whole frame this large (a fixed-size scan model decides for itself).
        self.scan_side = scan_side
        self._seen: list[Person] = []
        # Per followed person: their box, grown to where it is heading (what crops are planned around).
        self._ahead: list[np.ndarray] = []
        self._last_scan: float | None = None
        self._rescan = False
        self._small: np.ndarray | None = None
        # Calls by kind, for `matcoach bench`: crops around people, crops around motion, whole frames.
        self.calls = {"crop": 0, "motion": 0, "scan": 0}
        self.plan_s = 0.0  # seconds spent planning (the motion check included), for `matcoach bench`

    def _crops(self, shape: tuple[int, ...]) -> list[Crop]:
        if self.crop.dynamic:
            return plan_crops(self._seen, shape, self._ahead, self.upright)
        # A fixed-size model: one crop per person at its input's aspect, as the model card measured.
        return [self._fixed_crop(crop_around(box, shape), shape, [p], upright_turn(p) if self.upright else 0)
                for p, box in zip(self._seen, self._ahead, strict=True)]

    def _fixed_crop(self, roi: Roi, shape: tuple[int, ...], people: list[Person], turn: int = 0) -> Crop:
        """`roi` grown to a fixed-size model's input aspect, turned or not (letterboxing would fill it
        with grey)."""
        w, h = self.crop.input_size
        return Crop(expand_to_aspect(roi, h / w if turn else w / h, shape), (w, h), people, turn)

    def _moved(self, image: np.ndarray, rois: list[Roi]) -> tuple[float, Roi | None]:
        """Share of the pixels outside `rois` that changed since the last frame, and their full-frame box."""
        h, w = image.shape[:2]
        scale = MOTION_WIDTH / w
        # Every n-th pixel first: averaging the whole 1280×720 frame down would cost 2 ms, this 0.1 ms.
        step = max(1, w // (2 * MOTION_WIDTH))
        small = cv2.cvtColor(cv2.resize(image[::step, ::step], (MOTION_WIDTH, max(1, round(h * scale))),
                                        interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        previous, self._small = self._small, small
        if previous is None:
            return 0.0, None
        moved = cv2.absdiff(small, previous) > MOTION_LEVEL
        for x1, y1, x2, y2 in rois:
            moved[int(y1 * scale):int(np.ceil(y2 * scale)), int(x1 * scale):int(np.ceil(x2 * scale))] = False
        share = float(moved.mean())
        if share <= MOTION_SHARE:
            return share, None
        ys, xs = np.nonzero(moved)
        box = (int(xs.min() / scale), int(ys.min() / scale), int(np.ceil((xs.max() + 1) / scale)),
               int(np.ceil((ys.max() + 1) / scale)))
        return share, clip_roi(box, image.shape)

    def _motion_call(self, image: np.ndarray, box: Roi) -> Call:
        x1, y1, x2, y2 = box
        roi = crop_around(box, image.shape, margin=MOTION_MARGIN)
        if self.crop.dynamic:
            # What moved stands for a person of its size, but a wide stretch of motion is shown no
            # coarser than the whole-frame scan would show it, or a person inside it could be missed.
            finest = self.scan_side / max(image.shape[:2])
            crop = sized_crop(roi, min(max(x2 - x1, y2 - y1), PERSON_PX / finest), image.shape, [])
        else:
            crop = self._fixed_crop(roi, image.shape, [])
        return Call(self.crop, crop.roi, crop.size, "motion", [])

    def plan(self, t: float, image: np.ndarray) -> list[Call]:
        """The model calls for this frame, from the people followed so far."""
        t0 = time.perf_counter()
        crops = self._crops(image.shape)
        share, moved = self._moved(image, [c.roi for c in crops])
        due = self._last_scan is None or t - self._last_scan >= self.scan_every_s or t < self._last_scan
        if due or self._rescan or share > MOTION_WIDE:
            self._last_scan = t
            self._rescan = False
            size = fit_size(image.shape, self.scan_side) if self.scan.dynamic else self.scan.input_size
            calls = [Call(self.scan, None, size, "scan", [])]
        else:
            calls = [Call(self.crop, c.roi, c.size, "crop", c.people, c.turn) for c in crops]
            if moved is not None:
                calls.append(self._motion_call(image, moved))
        for call in calls:
            self.calls[call.kind] += 1
        self.plan_s += time.perf_counter() - t0
        return calls

    def settle(self, calls: list[Call], found: list[list[Person]]) -> list[Person]:
        """The people of a frame from what its calls found; they are followed from now on."""
        people: list[Person] = []
        for call, got in zip(calls, found, strict=True):
            if call.kind == "scan":
                people += got
            elif call.kind == "motion":
                people += [p for p in got if all(iou(p.bbox, q.bbox) < 0.5 for q in people)]
            for seed in call.seeds:
                # A crop shows its people in full; anyone else in it is cut off and followed elsewhere.
                best = max(got, key=lambda p: iou(p.bbox, seed.bbox), default=None)
                if best is None or iou(best.bbox, seed.bbox) == 0:
                    self._rescan = True  # lost: look everywhere next time
                elif all(iou(best.bbox, q.bbox) < 0.7 for q in people):  # two seeds, one person
                    people.append(best)
        # Largest first: the member lying on the mat is the biggest box; bystanders far behind are small.
        people.sort(key=lambda p: -(p.bbox[2] - p.bbox[0]) * (p.bbox[3] - p.bbox[1]))
        if calls:  # a frame nobody looked at says nothing about who is where
            followed = people[: self.max_followed]
            self._ahead = [_heading(p, self._seen) for p in followed]
            self._seen = followed
        return people

    def infer(self, t: float, image: np.ndarray) -> list[Person]:
        job = [(c, c.backend.prepare(image, c.roi, c.size, c.turn)) for c in self.plan(t, image)]
        return self._finish(job, [c.backend.run(p) for c, p in job])

    def _finish(self, job: list[tuple[Call, Prepared]], outputs: list[np.ndarray]) -> list[Person]:
        found = [c.backend.finish(p, o) for (c, p), o in zip(job, outputs, strict=True)]
        return self.settle([c for c, _ in job], found)

    def stream(self, frames: Iterable[tuple[float, np.ndarray]], model: ModelCalls | None = None
               ) -> Iterator[tuple[float, np.ndarray, list[Person]]]:
        """(t, image, people) for each (t, image), in order, with the model calls run by `model` (its
        backends in the order crop, scan), or on a thread started for this stream."""
        own: ModelThread | None = None
        if model is None:
            model = own = ModelThread([self.crop, self.scan])
        calls = model

        def finish(t: float, image: np.ndarray, job: list[tuple[Call, Prepared]]
                   ) -> tuple[float, np.ndarray, list[Person]]:
            return t, image, self._finish(job, calls.get())

        # Frames handed to the model and not yet settled: two while anyone is followed, so the model
        # always has the next frame queued while this thread plans one and the caller analyses another.
        in_flight: deque[tuple[float, np.ndarray, list[tuple[Call, Prepared]]]] = deque()
        try:
            # This thread (planning, then the caller's analysis) and capture share a core of their own.
            with cores.pinned(cores.side_cores()):
                for t, image in frames:
                    # The oldest frame is settled before this one is planned, as its people are where this
                    # frame's crops go (LOOKAHEAD_FRAMES back). Nobody followed yet: a frame in the model
                    # may find someone, so every frame in it is waited for.
                    settled: list[tuple[float, np.ndarray, list[Person]]] = []
                    while in_flight and (len(in_flight) >= LOOKAHEAD_FRAMES or not self._seen):
                        settled.append(finish(*in_flight.popleft()))
                    job = [(c, c.backend.prepare(image, c.roi, c.size, c.turn)) for c in self.plan(t, image)]
                    calls.put([(1 if c.kind == "scan" else 0, p) for c, p in job])
                    in_flight.append((t, image, job))
                    # Handed on only now: the caller's analysis runs while the model has work queued.
                    yield from settled
                while in_flight:
                    yield finish(*in_flight.popleft())
        finally:
            if own is not None:
                own.close()
            else:
                # A model handed in may serve another stream: frames this one left in it (the caller
                # stopped early, or a call failed) are taken back, or they would answer the next stream.
                for _ in in_flight:
                    with contextlib.suppress(Exception):
                        calls.get()
