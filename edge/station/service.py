"""The live station: pose frames → analysis → wire events → durable outbox → server, with heartbeats.

Three threads with one job each: the pipeline (frames in, events queued), the uplink (outbox drained
to the server), and the heartbeat. The pipeline never waits on the network: an event is on disk the
moment it is made, and the uplink delivers it whenever the server is there.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge.analysis.analyzer import Analyzer, load_classifier
from edge.analysis.classifier import ClassifierError
from edge.analysis.config import AnalysisConfig
from edge.people import PoseFrame
from edge.pixels.model_files import CROP_MODEL
from edge.station.events import EventMaker, replay_ids
from edge.station.health import Health, sd_notify, serve_health
from edge.station.outbox import Outbox
from edge.station.uplink import LinkDown, Uplink
from edge.trace import TraceHeader, read_trace
from matcoach import __version__
from matcoach.wire import CameraState, Heartbeat, Registration


class StationConfigError(ValueError):
    pass


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceSettings(_Strict):
    # Replay of a keypoint trace (no pose model): demos, tests, and re-running a recorded session.
    kind: Literal["trace"] = "trace"
    path: Path
    loop: bool = False
    speed: float = Field(1.0, gt=0, le=100)


# libcamera takes even widths and heights.
CameraPixels = Annotated[int, Field(ge=64, le=4096, multiple_of=2)]


class CameraSettings(_Strict):
    """Frames through the pose model: the Pi camera, a camera by index, or a video file played as a
    camera would deliver it."""

    kind: Literal["picamera2", "device", "video"]
    path: Path | None = None  # the video file
    device: int = Field(0, ge=0)
    # The Pi camera's mode (width, height in even pixels; frames per second); a USB camera and a file
    # deliver what they have.
    size: tuple[CameraPixels, CameraPixels] = (1280, 720)
    fps: float = Field(30.0, gt=0, le=120)
    loop: bool = True  # a video file starts again at its end (a camera never ends)
    crop_model: Path = CROP_MODEL
    scan_model: Path = CROP_MODEL  # whole-frame scans at 640 (edge/pixels/runner.py)
    scan_every_s: float = Field(2.0, gt=0)
    threads: int | None = Field(None, ge=1, le=8)  # onnxruntime's; default: every core but one


class StationSettings(_Strict):
    server_url: str = Field(pattern=r"^https?://")
    token: str = Field(min_length=8)
    outbox: Path = Path("station-outbox.db")
    heartbeat_s: float = Field(5.0, gt=0)
    # Local health endpoint for deploy checks (0 = off), and how long the pipeline may stand still.
    health_port: int = Field(8421, ge=0, le=65535)
    stall_after_s: float = Field(10.0, gt=0)
    # When a replay ends, how long to keep trying to deliver what is still queued before exiting.
    drain_s: float = Field(60.0, ge=0)
    source: Annotated[SourceSettings | CameraSettings, Field(discriminator="kind")]
    analysis: AnalysisConfig = AnalysisConfig()


def load_station_settings(path: str | Path) -> StationSettings:
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StationConfigError(f"cannot read station config {path}: {exc}") from exc
    station = dict(data.get("station", {}))
    if "analysis" in data:
        station["analysis"] = data["analysis"]
    try:
        return StationSettings(**station)
    except ValidationError as exc:
        raise StationConfigError(f"station config {path}: {_one_line(exc)}") from exc


def _one_line(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())


def replay(path: Path, stop: threading.Event, speed: float = 1.0, loop: bool = False,
           ) -> tuple[TraceHeader, Iterator[PoseFrame]]:
    """A trace's frames, paced at `speed` × real time. Looping keeps the clock running forward, so
    the analysis sees one long session rather than time jumping back."""
    header, frames = read_trace(path)
    if not frames:
        raise StationConfigError(f"{path}: the trace has no frames")

    def paced() -> Iterator[PoseFrame]:
        offset = 0.0
        span = frames[-1].t - frames[0].t + 1.0 / header.fps
        start = time.monotonic()
        while not stop.is_set():
            for frame in frames:
                t = frame.t - frames[0].t + offset
                if stop.wait(max(0.0, start + t / speed - time.monotonic())):
                    return
                yield PoseFrame(t=t, people=frame.people)
            if not loop:
                return
            offset += span

    return header, paced()


def _model_versions(src: CameraSettings) -> dict[str, str]:
    """Which model files run, by name and content hash, so staff can tell two stations' models apart."""
    def describe(path: Path) -> str:
        return f"{path.name} sha256:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"

    versions = {"pose": describe(src.crop_model)}
    if src.scan_model != src.crop_model:
        versions["scan"] = describe(src.scan_model)
    return versions


def _cpu_temp_c() -> float | None:
    try:
        temp = int(Path("/sys/class/thermal/thermal_zone0/temp").read_text()) / 1000
    except (OSError, ValueError):
        return None
    return temp if -50 <= temp <= 150 else None  # a sensor reading past the wire's range is no reading


def frame_rate(times: list[float]) -> float:
    """Frames per second over the monotonic times of the recent frames. Never over less than a second:
    two frames handed over back to back (after a stall, or dark frames the model is not run on) are no
    rate of thousands a second, and the wire refuses a heartbeat over 1000."""
    if len(times) < 2:
        return 0.0
    return min((len(times) - 1) / max(times[-1] - times[0], 1.0), 1000.0)


class Station:
    def __init__(self, settings: StationSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        # Models first: a station that can't load them fails before it opens anything else.
        src = settings.source
        try:
            classifier = load_classifier(settings.analysis.classifier)
        except ClassifierError as exc:
            raise StationConfigError(str(exc)) from None
        self._runner = self._load_models(src) if isinstance(src, CameraSettings) else None
        self.model_versions = _model_versions(src) if isinstance(src, CameraSettings) else {}
        if classifier is not None:
            self.model_versions["classifier"] = f"{classifier.path.name} sha256:{classifier.sha256[:12]}"
        self.outbox = Outbox(settings.outbox)
        self.uplink = Uplink(settings.server_url, settings.token, self.outbox)
        self.stop = threading.Event()
        self._wake = threading.Event()
        live = isinstance(settings.source, CameraSettings)
        self.camera: CameraState = "reopening" if live else "replay"
        self.fps = 0.0
        self.frames = 0
        self.last_error: str | None = None
        # For the deploy's checks (deploy/): who is on the mat, so a restart never cuts a set short, and
        # when the server last answered, so a new release is known to reach it. /health also names the
        # installation that runs (sys.prefix, a release's own venv), so a deploy knows its release is up.
        self.mat: str = "empty"
        self._server_ok_at: float | None = None
        self._stream_t = 0.0  # the current frame's time on the source's clock
        self.health = Health(self._health_snapshot, settings.stall_after_s)

    def _health_snapshot(self) -> dict:
        server_ok = self._server_ok_at
        return {"camera": self.camera, "fps": round(self.fps, 2), "frames": self.frames,
                "backlog": self.outbox.backlog(), "last_error": self.last_error or self.uplink.last_error,
                "version": __version__, "prefix": sys.prefix, "models": self.model_versions, "mat": self.mat,
                "server_ok_s_ago": None if server_ok is None else round(time.monotonic() - server_ok, 2)}

    def _watchdog(self) -> None:
        """READY once running, then WATCHDOG=1 at half the unit's WatchdogSec while the pipeline is alive."""
        usec = os.environ.get("WATCHDOG_USEC", "")
        period = int(usec) / 2e6 if usec.isdigit() and int(usec) > 0 else 1.0
        sd_notify("READY=1")
        while not self.stop.wait(period):
            if self.health.alive():
                sd_notify(f"WATCHDOG=1\nSTATUS=camera {self.camera}, {self.fps:.1f} fps, "
                          f"backlog {self.outbox.backlog()}")

    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(at=self.clock(), fps=round(self.fps, 2), cpu_temp_c=_cpu_temp_c(),
                         load_1m=os.getloadavg()[0], camera=self.camera, software_version=__version__,
                         model_versions=self.model_versions, backlog=self.outbox.backlog(),
                         last_error=self.last_error or self.uplink.last_error)

    def _heartbeats(self) -> None:
        registered = False
        while not self.stop.is_set():
            try:
                if not registered:
                    self.uplink.register(Registration(hostname=socket.gethostname(),
                                                      software_version=__version__,
                                                      model_versions=self.model_versions))
                    registered = True
                self.uplink.heartbeat(self._heartbeat())
                self._server_ok_at = time.monotonic()
            except LinkDown as exc:
                self.uplink.last_error = str(exc)
            except ValidationError as exc:  # a value the wire refuses must not end the heartbeats for good
                self.last_error = f"heartbeat not sent: {_one_line(exc)}"
            self.stop.wait(self.settings.heartbeat_s)

    @staticmethod
    def _load_models(src: CameraSettings):  # -> CropRunner; pose stack imported only for cameras
        from edge.pixels.cores import model_threads
        from edge.pixels.pose import OnnxPoseBackend
        from edge.pixels.runner import CropRunner

        if src.kind == "video" and src.path is None:
            raise StationConfigError("source.path: a video source needs the file's path")
        threads = src.threads or model_threads()
        crop = OnnxPoseBackend(src.crop_model, threads=threads)
        # One model serves both by default: loading it twice would only double its memory.
        scan = crop if src.scan_model == src.crop_model else OnnxPoseBackend(src.scan_model, threads=threads)
        return CropRunner(crop, scan, src.scan_every_s)

    def _camera_frames(self, src: CameraSettings) -> Iterator[tuple[PoseFrame, np.ndarray | None]]:
        from edge.pixels.camera import OpenCVSource, Picamera2Source
        from edge.pixels.capture import LatestFrame
        from edge.pixels.cores import model_cores
        from edge.pixels.model_process import ModelProcess

        def open_source():
            if src.kind == "picamera2":
                return Picamera2Source(src.size, src.fps)
            return OpenCVSource(src.path if src.kind == "video" else src.device)

        def images(capture: LatestFrame) -> Iterator[tuple[float, np.ndarray]]:
            while not self.stop.is_set():
                frame = capture.get(timeout=1.0)
                self.health.tick()
                self.camera = capture.state
                self.last_error = capture.last_error if capture.state != "ok" else None
                if frame is not None:
                    yield frame.t, frame.image
                elif capture.state == "stopped":
                    return

        runner = self._runner
        assert runner is not None
        # The model's calls run in a process of their own (edge/pixels/model_process.py), started before the
        # camera is opened: a model that cannot load there stops the station with the reason.
        with ModelProcess([runner.crop, runner.scan], model_cores()) as model:
            capture = LatestFrame(open_source, is_file=src.kind == "video", loop=src.loop).start()
            try:
                for t, image, people in runner.stream(images(capture), model):
                    # The image goes on to the analysis for the lower back's profile, and no further.
                    yield PoseFrame(t, tuple(people)), image
            finally:
                capture.stop()

    def _pipeline(self) -> None:
        src = self.settings.source
        if isinstance(src, SourceSettings):
            header, poses = replay(src.path, self.stop, src.speed, src.loop)
            frames: Iterator[tuple[PoseFrame, np.ndarray | None]] = ((f, None) for f in poses)
            # A replay restarted after a crash makes its events again from the start: with the same
            # ids and times (kept in the outbox) they are the same events, stored once by the server.
            seed = self.outbox.remember(f"replay:{src.path.resolve()}", uuid.uuid4().hex)
            start = float(self.outbox.remember(f"replay-start:{seed}", repr(self.clock())))
            maker = EventMaker(clock=lambda: start + self._stream_t / src.speed, ids=replay_ids(seed))

            def new_analyzer() -> Analyzer:
                return Analyzer.for_trace(header, self.settings.analysis)
        else:
            frames = self._camera_frames(src)
            maker = EventMaker(self.clock)

            def new_analyzer() -> Analyzer:
                # The mat region staff set on the status page arrives with the heartbeat replies.
                region = self.uplink.config.mat_region if self.uplink.config else None
                return Analyzer(self.settings.analysis, mat_region=tuple(region) if region else None)
        analyzer = new_analyzer()
        window: list[float] = []
        for frame, image in frames:
            self._stream_t = frame.t
            events = maker.after_frame(analyzer, analyzer.push(frame, image))
            self.mat = analyzer.mat_state
            if analyzer.mat_state == "empty" and analyzer.session.set_index:
                # The member left: finish their session; the next person starts afresh.
                events += maker.after_frame(analyzer, analyzer.drain())
                analyzer = new_analyzer()
            self._queue(events)
            self.health.tick()
            self.frames += 1
            now = time.monotonic()
            window = [t for t in window if t > now - 2.0] + [now]
            self.fps = frame_rate(window)
        self._queue(maker.after_frame(analyzer, analyzer.drain()))
        self.camera = "stopped"

    def _queue(self, events: list) -> None:
        if events:
            self.outbox.put(events)
            self._wake.set()

    def run(self) -> None:
        """Run until the source ends (replay without loop) or `stop` is set."""
        threads = [threading.Thread(target=self.uplink.run, args=(self.stop, self._wake), daemon=True),
                   threading.Thread(target=self._heartbeats, daemon=True),
                   threading.Thread(target=self._watchdog, daemon=True)]
        for t in threads:
            t.start()
        http = None
        if self.settings.health_port:
            try:
                http = serve_health(self.health, "127.0.0.1", self.settings.health_port)
            except OSError as exc:  # a taken port costs the endpoint, never the station
                self.last_error = f"health endpoint on port {self.settings.health_port}: {exc.strerror}"
        try:
            self._pipeline()
        finally:
            # The source ended by itself (a replay): give the uplink up to drain_s to deliver what is
            # queued. Whatever it can't stays on disk for the next start. A stop request doesn't wait.
            deadline = time.monotonic() + self.settings.drain_s
            while self.outbox.backlog() and time.monotonic() < deadline and not self.stop.is_set():
                self._wake.set()
                time.sleep(1.0)
            self.stop.set()
            for t in threads:
                t.join(timeout=10)
            if http is not None:
                http.shutdown()
            self.uplink.close()
            self.outbox.close()
