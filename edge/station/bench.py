"""`matcoach bench`: the live pipeline on a video, measured against the plain 640×640 fp32 model on
the whole frame, in the same run on the same frames.

Pipeline = a decoder thread handing frames over (as the capture thread does) → pose at the station's
operating point (`edge/pixels/runner.py`: the pose model on crops sized to the people followed, around what
moves, and on the whole frame at 640 now and then, with the model in its own process) → the analysis.
Every frame is processed (none dropped), so frames per second is throughput. The bare model call is the
same calls made again one after another with nothing else running: the time the model alone needs.
The pipeline is measured on the video decoding as it goes (the measure of the bars) and again on its
frames decoded beforehand, as a Pi camera delivers them without the CPU decoding anything. The bare
calls are timed once more beside the pipeline's other work run in a second process: the floor this
machine sets however the pipeline is arranged (`_floor`); and beside the video's decoding alone: what
frames read from a video cost the model here, whatever the pipeline does with them.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pickle
import queue
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from edge.analysis.analyzer import Analyzer
from edge.analysis.classifier import RepClassifier
from edge.analysis.movement import Moment, Movement, features
from edge.people import Person, PoseFrame
from edge.pixels import cores, pose_check
from edge.pixels.camera import OpenCVSource
from edge.pixels.model_files import BASELINE_MODEL, CROP_MODEL, FOOTAGE
from edge.pixels.model_process import ModelProcess
from edge.pixels.pose import OnnxPoseBackend, Prepared, Roi
from edge.pixels.runner import CropRunner, ModelCalls


def _frames(video: Path, limit: int | None) -> Iterator[tuple[float, np.ndarray, float, float]]:
    """(t, image, decode seconds, the decoding thread's CPU seconds in them) for each frame."""
    with OpenCVSource(video) as source:
        it = iter(source)
        n = 0
        while limit is None or n < limit:
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                t, image = next(it)
            except StopIteration:
                return
            yield t, image, time.perf_counter() - t0, time.thread_time() - c0
            n += 1


def _warm(backend: OnnxPoseBackend, image: np.ndarray) -> None:
    for _ in range(3):
        backend.infer(image)
    backend.stage_s = dict.fromkeys(backend.stage_s, 0.0)


def _reference_pass(base: OnnxPoseBackend, video: Path, limit: int | None
                    ) -> tuple[list[list[Person]], float]:
    """The 640 fp32 model on every whole frame: its sure people per frame, and the seconds its calls took."""
    people: list[list[Person]] = []
    total = 0.0
    for _, image, _, _ in _frames(video, limit):
        t0 = time.perf_counter()
        found = base.infer(image)
        total += time.perf_counter() - t0
        people.append([p for p in found if p.score >= pose_check.PERSON_SCORE])
    return people, total


class _Standin:
    """A pose backend standing in for the model, in front of it: inputs are the model's own; `run` and
    `finish` are the stand-in's."""

    def __init__(self, backend: OnnxPoseBackend) -> None:
        self.backend = backend
        self.name, self.input_size, self.dynamic = backend.name, backend.input_size, backend.dynamic

    def prepare(self, image: np.ndarray, roi: Roi | None = None,
                size: tuple[int, int] | None = None, turn: int = 0) -> Prepared:
        return self.backend.prepare(image, roi, size, turn)

    def run(self, prepared: Prepared) -> np.ndarray:
        raise NotImplementedError

    def finish(self, prepared: Prepared, output: np.ndarray) -> list[Person]:
        raise NotImplementedError

    def infer(self, image: np.ndarray, roi: Roi | None = None,
              size: tuple[int, int] | None = None, turn: int = 0) -> list[Person]:
        prepared = self.prepare(image, roi, size, turn)
        return self.finish(prepared, self.run(prepared))


class _Noted(_Standin):
    """The model, noting every call prepared for it and what each found, so the same calls can be timed
    bare later (and replayed by `_Replayed`)."""

    def __init__(self, backend: OnnxPoseBackend) -> None:
        super().__init__(backend)
        self.shapes: list[tuple[int, ...]] = []  # the input shape of every call, in order
        self.blobs: dict[tuple[int, ...], Prepared] = {}  # one real input per shape is enough to time
        self.found: list[list[Person]] = []  # who every call found, in order
        self.call_s: list[float] = []  # every call's seconds, bare, in the last `bare_seconds`

    def prepare(self, image: np.ndarray, roi: Roi | None = None,
                size: tuple[int, int] | None = None, turn: int = 0) -> Prepared:
        prepared = self.backend.prepare(image, roi, size, turn)
        self.shapes.append(prepared.blob.shape)
        self.blobs.setdefault(prepared.blob.shape, prepared)
        return prepared

    def run(self, prepared: Prepared) -> np.ndarray:
        return self.backend.run(prepared)

    def finish(self, prepared: Prepared, output: np.ndarray) -> list[Person]:
        people = self.backend.finish(prepared, output)
        self.found.append(people)
        return people

    def bare_seconds(self) -> float:
        """The noted calls again, one after another with nothing else running: the bare model time."""
        self.call_s = []
        for shape in self.shapes:
            t0 = time.perf_counter()
            self.backend.run(self.blobs[shape])
            self.call_s.append(time.perf_counter() - t0)
        return sum(self.call_s)


class _Replayed(_Standin):
    """The model of a noted pass, replayed: each call prepares its real input, then waits as long as
    the real call took bare and finds whom it found. The pipeline around it does all its real work."""

    def __init__(self, backend: OnnxPoseBackend, call_s: list[float], found: list[list[Person]]) -> None:
        super().__init__(backend)
        self.call_s, self.found = call_s, found
        self._ran = self._finished = 0  # run on the model's thread, finish on the caller's: each in order

    def run(self, prepared: Prepared) -> np.ndarray:
        time.sleep(self.call_s[self._ran])
        self._ran += 1
        return np.empty(0, np.float32)

    def finish(self, prepared: Prepared, output: np.ndarray) -> list[Person]:
        self._finished += 1
        return self.found[self._finished - 1]


def _decoding(video: Path, limit: int | None, spent: list[tuple[float, float]]
              ) -> Iterator[tuple[float, np.ndarray]]:
    """The video's frames, decoded on a thread of their own as the capture thread does; each frame's
    decoding seconds and CPU seconds are appended to `spent`. Returns once the first frame is decoded:
    a station's camera is open before its pipeline runs, so opening the file (~60 ms) is not a cost of
    the frames."""
    handoff: queue.Queue = queue.Queue(maxsize=4)

    def decode() -> None:
        with cores.pinned(cores.side_cores()):
            for t, image, seconds, cpu_s in _frames(video, limit):
                spent.append((seconds, cpu_s))
                handoff.put((t, image))
        handoff.put(None)

    threading.Thread(target=decode, daemon=True).start()
    first = handoff.get()

    def frames() -> Iterator[tuple[float, np.ndarray]]:
        item = first
        while item is not None:
            yield item
            item = handoff.get()

    return frames()


def _analysed(runner: CropRunner, frames: Iterable[tuple[float, np.ndarray]], model: ModelCalls | None = None
              ) -> tuple[list[list[Person]], float]:
    """The pipeline over `frames`: the people of each, and the seconds the analysis took."""
    analyzer = Analyzer()
    found: list[list[Person]] = []
    analysis_s = 0.0
    for t, image, people in runner.stream(frames, model):
        t0 = time.perf_counter()
        analyzer.push(PoseFrame(t, tuple(people)), image)
        analysis_s += time.perf_counter() - t0
        found.append(people)
    return found, analysis_s


def _pipeline(model: OnnxPoseBackend, process: ModelProcess, frames: Iterable[tuple[float, np.ndarray]],
              decoded: list[tuple[float, float]], scan_every_s: float) -> dict:
    """One pass of the live pipeline over `frames` (`decoded`: each one's decoding seconds and CPU
    seconds, as `_decoding` notes them; empty if they came decoded), its model calls made by `process`
    (running `model`), then those calls again, bare."""
    model.stage_s = dict.fromkeys(model.stage_s, 0.0)
    noted = _Noted(model)
    runner = CropRunner(noted, noted, scan_every_s)
    # Per frame as the loop takes it: the calls noted before it, and the loop thread's CPU time then.
    # The loop plans a frame's calls as soon as it takes it, so they are the ones noted until the next.
    taken: list[tuple[int, float]] = []

    def counted() -> Iterator[tuple[float, np.ndarray]]:
        for frame in frames:
            taken.append((len(noted.shapes), time.thread_time()))
            yield frame

    start = time.perf_counter()
    found, analysis_s = _analysed(runner, counted(), process)
    wall = time.perf_counter() - start
    taken.append((len(noted.shapes), time.thread_time()))
    n = len(found)
    stage_ms = {"capture_decode": 1000 * sum(s for s, _ in decoded[:n]) / n, "plan": 1000 * runner.plan_s / n,
                **{k: 1000 * v / n for k, v in model.stage_s.items()}, "analysis": 1000 * analysis_s / n}
    model_s = noted.bare_seconds()  # only now: its calls add to the model's stage times
    # The core capture shares with the loop, frame by frame: its CPU against the same frame's bare calls.
    # Through a run of frames where it needs more, the model waits for it however the pipeline is
    # arranged: the frames decoded ahead and those queued in the model carry only a few.
    bare = [sum(noted.call_s[a:b]) for (a, _), (b, _) in itertools.pairwise(taken)]
    loop = [b - a for (_, a), (_, b) in itertools.pairwise(taken)]
    decode = [cpu_s for _, cpu_s in decoded[:n]] or [0.0] * n
    return {"frames": n, "wall_s": wall, "found": found, "calls": dict(runner.calls), "noted": noted,
            "stage_ms": stage_ms,
            "side_cpu_ms": {"decode": 1000 * sum(decode) / n, "loop": 1000 * sum(loop) / n},
            "side_bound_frames": sum(d + lp > c for d, lp, c in zip(decode, loop, bare, strict=True)),
            "model_s": model_s}


def _floor(noted: _Noted, setup: dict, rounds: int) -> float:
    """What work run beside the model costs its calls on this machine, however well the pipeline is
    arranged: the noted calls made bare, alone and while another process (`_beside`) does that work. A
    machine whose cores share caches or memory bandwidth slows the calls; independent cores do not."""
    with tempfile.NamedTemporaryFile(suffix=".pickle") as f:
        pickle.dump({**setup, "call_s": noted.call_s, "found": noted.found}, f)
        f.flush()
        # Its standard input stays open, unwritten, for as long as this process lives (`_beside`).
        side = subprocess.Popen([sys.executable, "-m", "matcoach", "bench", "--beside", f.name],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert side.stdout is not None
            if side.stdout.readline().strip() != b"ready":
                side.kill()
                raise RuntimeError(f"the work beside the model did not start: {side.communicate()[1]!r}")
            alone = beside = float("inf")
            for _ in range(rounds):  # taking turns, as the other measures do
                side.send_signal(signal.SIGSTOP)
                alone = min(alone, noted.bare_seconds())
                side.send_signal(signal.SIGCONT)
                beside = min(beside, noted.bare_seconds())
            if side.poll() is not None:  # it stopped early: some calls were not beside anything
                raise RuntimeError(f"the work beside the model stopped: {side.communicate()[1]!r}")
        finally:
            side.kill()
            side.wait()
    return beside / alone - 1


def _beside(recorded: Path) -> int:
    """`_floor`'s other process, over and over until killed, on the core capture has in the station:
    the pipeline with a replayed model ("pipeline"), or only the video's decoding at the pipeline's pace
    ("decoding")."""
    setup = pickle.loads(recorded.read_bytes())

    def orphaned() -> None:
        sys.stdin.buffer.read()  # returns when the bench's end of the pipe closes: the bench ended
        os._exit(0)

    # The bench kills this process when done; if the bench itself is killed, this one ends by itself.
    threading.Thread(target=orphaned, daemon=True).start()
    if setup["what"] == "decoding":
        with cores.pinned(cores.side_cores()):
            print("ready", flush=True)
            while True:
                start = time.perf_counter()
                for i, _ in enumerate(_frames(setup["video"], setup["limit"])):
                    # Paced: a decoder flat out would load the machine more than the pipeline's does.
                    time.sleep(max(0.0, start + (i + 1) / setup["fps"] - time.perf_counter()))
    backend = OnnxPoseBackend(CROP_MODEL, threads=1)
    print("ready", flush=True)
    while True:
        replayed = _Replayed(backend, setup["call_s"], setup["found"])
        _analysed(CropRunner(replayed, replayed, setup["scan_every_s"]),
                  _decoding(setup["video"], setup["limit"], []))


def _classifier_cost(found: list[list[Person]], fps: float, calls: int = 300) -> dict[str, float]:
    """Milliseconds the rep classifier takes per candidate movement: cutting out and normalising its
    frames, and the model call (median of `calls`). Its cost does not depend on what moves, so the
    movements are 3 s windows of the people the pipeline found in the clip."""
    model = RepClassifier.load()
    moments = [Moment(i / fps, people[0].keypoints if people else None, None)
               for i, people in enumerate(found)]
    span = min(len(moments), round(3 * fps))
    prep, call = [], []
    for k in range(calls):
        a = k % max(1, len(moments) - span + 1)
        movement = Movement(moments[a].t, moments[a + span - 1].t, tuple(moments[a:a + span]), 0.0, 1.0)
        t0 = time.perf_counter()
        x, duration = features(movement)
        t1 = time.perf_counter()
        model.predict(x[None], duration[None])
        call.append(time.perf_counter() - t1)
        prep.append(t1 - t0)
    return {"features_ms": round(1000 * float(np.median(prep)), 3),
            "model_ms": round(1000 * float(np.median(call)), 3)}


def _fastest(passes: list[dict]) -> tuple[dict, float]:
    """The least disturbed pass, and the fastest its model calls were made bare."""
    return min(passes, key=lambda p: p["wall_s"]), min(p["model_s"] for p in passes)


def run(video: Path, limit: int | None = None, threads: int | None = None, scan_every_s: float = 2.0,
        rounds: int = 3) -> dict:
    """threads: onnxruntime threads of the pipeline (default: one core left for capture and analysis,
    as the station runs); the baseline always gets every core. Each measure is the fastest of `rounds`."""
    threads = threads or cores.model_threads()
    first = next(_frames(video, 1))[1]
    # The baseline with every core: its fastest.
    base = OnnxPoseBackend(BASELINE_MODEL, threads=len(cores.all_cores()))
    _warm(base, first)
    # One model for both the crops and the whole-frame scans, as the station runs it: its calls in a
    # process of their own, and here for the bare calls.
    model = OnnxPoseBackend(CROP_MODEL, threads=threads)
    _warm(model, first)
    with ModelProcess([model, model], cores.model_cores()) as process:
        return {**_measure(model, process, base, video, limit, scan_every_s, rounds), "threads": threads}


def _measure(model: OnnxPoseBackend, process: ModelProcess, base: OnnxPoseBackend, video: Path,
             limit: int | None, scan_every_s: float, rounds: int) -> dict:
    """`run`'s measures, the pipeline's model calls made by `process`."""
    reference: list[list[Person]] = []
    base_s = float("inf")
    passes = []
    # The two measures take turns: this shared machine has slow spells lasting seconds, and a spell
    # should not fall on one measure only. The fastest pass of each is the least disturbed.
    for _ in range(rounds):
        people, seconds = _reference_pass(base, video, limit)
        reference = reference or people
        base_s = min(base_s, seconds)
        decoded: list[tuple[float, float]] = []
        passes.append(_pipeline(model, process, _decoding(video, limit, decoded), decoded, scan_every_s))
        # Only the fastest pass's calls are made again beside the pipeline (`_floor`).
        fastest = min(passes, key=lambda p: p["wall_s"])
        for p in passes:
            if p is not fastest:
                p.pop("noted", None)
    # Both processes: this one (the bare calls' and the baseline's models, the pipeline loop) and the model's.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 + (process.peak_rss_mb() or 0.0)
    pipe, bare_s = _fastest(passes)
    floor = _floor(pipe["noted"], {"what": "pipeline", "video": video, "limit": limit,
                                   "scan_every_s": scan_every_s}, rounds)
    # What decoding the video alone costs the calls: a cost of frames read from a video, whatever the
    # pipeline does with them.
    decode_floor = _floor(pipe["noted"], {"what": "decoding", "video": video, "limit": limit,
                                          "fps": pipe["frames"] / pipe["wall_s"]}, rounds)
    # The same pipeline on frames decoded beforehand: what it costs when frames arrive decoded, as the
    # Pi camera hands them over (its image processor converts them, not the CPU). Measured last, as it
    # holds every frame in memory.
    frames = [(t, image) for t, image, _, _ in _frames(video, limit)]
    decoded_pipe, decoded_bare_s = _fastest([_pipeline(model, process, frames, [], scan_every_s)
                                             for _ in range(rounds)])
    del frames
    missed, errors, ref_people = 0, [], 0
    for ref, got in zip(reference, pipe["found"], strict=True):
        m, e = pose_check.compare(ref, got)
        missed += m
        errors += e
        ref_people += len(ref)
    n = pipe["frames"]
    pipeline_fps, model_fps, baseline_fps = n / pipe["wall_s"], n / bare_s, len(reference) / base_s
    with OpenCVSource(video) as source:
        clip_fps = source.fps
    classifier = _classifier_cost(pipe["found"], clip_fps)
    return {
        "video": str(video),
        "frames": n,
        "pipeline_fps": round(pipeline_fps, 2),
        "model_fps": round(model_fps, 2),
        "baseline_640_fps": round(baseline_fps, 2),
        "pipeline_overhead": round(model_fps / pipeline_fps - 1, 3),
        "speedup_vs_640": round(pipeline_fps / baseline_fps, 2),
        "decoded_pipeline_fps": round(n / decoded_pipe["wall_s"], 2),
        "decoded_pipeline_overhead": round(decoded_pipe["wall_s"] / decoded_bare_s - 1, 3),
        "floor_overhead": round(floor, 3),
        "decoding_floor_overhead": round(decode_floor, 3),
        "side_cpu_ms": {k: round(v, 2) for k, v in pipe["side_cpu_ms"].items()},
        "side_bound_frames": pipe["side_bound_frames"],
        "keypoint_error_torso": round(float(np.mean(errors)), 4) if errors else None,
        "reference_people": ref_people,
        "missed_people": missed,
        "model_calls": pipe["calls"],
        "stage_ms": {k: round(v, 2) for k, v in pipe["stage_ms"].items()},
        "peak_rss_mb": round(peak_rss_mb, 1),
        "classifier_ms": classifier,
        "baseline_threads": len(cores.all_cores()),
        # Where the pipeline ran (edge/pixels/cores.py): the model's process, and capture with the loop.
        "model_cores": sorted(cores.model_cores()),
        "side_cores": sorted(cores.side_cores()),
        "rounds": rounds,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="matcoach bench", description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path, default=FOOTAGE, help="video file (default: the sports2d clip)")
    p.add_argument("--frames", type=int, help="only the first N frames")
    p.add_argument("--threads", type=int, help="the pipeline's onnxruntime threads (default: cores - 1)")
    p.add_argument("--scan-every", type=float, default=2.0, help="seconds between whole-frame scans")
    p.add_argument("--rounds", type=int, default=3, help="passes of each measure; the fastest counts (3)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--beside", type=Path, help=argparse.SUPPRESS)  # the floor's second process
    args = p.parse_args(argv)
    if args.beside:
        return _beside(args.beside)
    if not args.video.is_file():
        print(f"matcoach: error: {args.video}: no such video (run `bash models/fetch_footage.sh`)",
              file=sys.stderr)
        return 2
    if args.rounds < 1:
        print("matcoach: error: --rounds must be at least 1", file=sys.stderr)
        return 2
    r = run(args.video, args.frames, args.threads, args.scan_every, args.rounds)
    if args.json:
        print(json.dumps(r))
        return 0
    print(f"matcoach bench: {r['frames']} frames of {args.video.name}; onnxruntime threads: pipeline "
          f"{r['threads']}, 640 baseline {r['baseline_threads']}; model calls {r['model_calls']}")
    print(f"pipeline's model process on cores {r['model_cores']}, capture and the pipeline loop on "
          f"{r['side_cores']}")
    print(f"{'stage':<16} {'ms/frame':>9}")
    for stage, ms in r["stage_ms"].items():
        note = "   (own thread, overlaps the rest)" if stage == "capture_decode" else ""
        print(f"{stage:<16} {ms:>9.2f}{note}")
    print(f"{'fps':<16} {'pipeline':>9} {'bare model':>11} {'640 full':>9}")
    print(f"{'':<16} {r['pipeline_fps']:>9.1f} {r['model_fps']:>11.1f} {r['baseline_640_fps']:>9.1f}")
    print(f"pipeline costs {100 * r['pipeline_overhead']:+.1f}% per frame over its bare model calls "
          "(bar ≤ +10%)")
    print(f"pipeline runs {r['speedup_vs_640']:.2f}× the 640 full-frame model (bar ≥ 3×)")
    print(f"on frames decoded beforehand, as the Pi camera hands them over: {r['decoded_pipeline_fps']:.1f} "
          f"fps, {100 * r['decoded_pipeline_overhead']:+.1f}% over its bare model calls")
    print(f"this machine's floor: the bare calls run {100 * r['floor_overhead']:+.1f}% slower beside the "
          "pipeline's other work in another process")
    print(f"  and beside decoding the video alone, at the pipeline's pace: "
          f"{100 * r['decoding_floor_overhead']:+.1f}%")
    side = r["side_cpu_ms"]
    print(f"the side core's CPU per frame: decoding {side['decode']:.2f} + the loop {side['loop']:.2f} ms, "
          f"against {1000 / r['model_fps']:.2f} ms of bare model calls; more than the frame's calls in "
          f"{r['side_bound_frames']} of {r['frames']} frames")
    err = r["keypoint_error_torso"]
    print(f"missed {r['missed_people']} of {r['reference_people']} people the 640 model finds (bar 0); "
          f"keypoint error {'-' if err is None else f'{100 * err:.1f}%'} of torso length (bar < 15%)")
    print(f"peak RSS {r['peak_rss_mb']} MB (this process with both models, and the model's process)")
    c = r["classifier_ms"]
    total = c["features_ms"] + c["model_ms"]
    print(f"rep classifier: {total:.2f} ms per candidate movement (its frames cut out and normalised "
          f"{c['features_ms']:.2f} + the model {c['model_ms']:.2f}; bar < 2 ms), "
          f"{total * r['model_fps'] / 1000:.2f}× one frame's bare pose model calls")
    return 0
