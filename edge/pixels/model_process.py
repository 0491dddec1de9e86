"""The pose model's calls in a process of their own, for the live pipeline (`CropRunner.stream`).

onnxruntime lets go of Python's interpreter lock while a call runs, but needs it back to return. On a
thread, every call's return therefore waited for the pipeline's other thread (planning, the analysis)
to let go of the lock: 0.29 ms per call with a busy Python thread beside it, ~4% of the model's time in
the pipeline. A process has a lock of its own, so its calls follow one another as they do bare.
Frigate runs its detectors the same way.

A frame's inputs cross in memory both processes map (memfd), written by the pipeline and read in place
by the model; only a few hundred bytes per frame go through the socket. A crop's 590 KB sent through
the socket instead would block the pipeline whenever the model is busy with the previous frame. The
pipeline grows a buffer when a frame needs more, and hands the new one over (its file descriptor,
through the socket): nothing is named in /dev/shm, so nothing is left behind by a kill. The outputs
come back through the socket: only the anchors scoring over the threshold (`OnnxPoseBackend.run`), a
few KB per call.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing import reduction
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import numpy as np

from edge.pixels.pose import OnnxPoseBackend, PoseError, Prepared

_T = TypeVar("_T")

# Frames the model may hold at once (the one it runs and those queued behind it): each has its own
# input buffer, reused once the frame's outputs are taken back.
DEPTH = 3
# How long the model's process may take to start and load its models.
START_TIMEOUT_S = 60.0


class _Buffer:
    """Memory mapped by both processes, through a file descriptor with no name."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.size = os.fstat(fd).st_size
        self.map = mmap.mmap(fd, self.size)

    @classmethod
    def create(cls, size: int) -> _Buffer:
        fd = os.memfd_create("matcoach-pose", os.MFD_CLOEXEC)
        os.ftruncate(fd, size)
        return cls(fd)

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


@dataclass(frozen=True, slots=True)
class _Array:
    """Where an array lies in a buffer."""

    offset: int
    shape: tuple[int, ...]
    dtype: str

    def view(self, buffer: _Buffer) -> np.ndarray:
        return np.ndarray(self.shape, np.dtype(self.dtype), buffer.map, self.offset)


def _place(arrays: Sequence[np.ndarray], buffers: list[_Buffer | None], slot: int, conn: Connection
           ) -> list[_Array]:
    """Copy `arrays` into the slot's buffer, first growing it (and handing the new one to the model's
    process) when they do not fit."""
    # 64-byte aligned, as onnxruntime and numpy's vector code read fastest.
    offsets = np.cumsum([0] + [-(-a.nbytes // 64) * 64 for a in arrays])
    old = buffers[slot]
    if old is None or old.size < offsets[-1]:
        new = _Buffer.create(max(int(offsets[-1]), 2 * old.size if old else 0, mmap.PAGESIZE))
        conn.send(("buffer", slot))
        reduction.send_handle(conn, new.fd, 0)  # (the receiver's pid matters on Windows only)
        if old is not None:
            old.close()
        buffers[slot] = new
    placed = []
    for a, offset in zip(arrays, offsets[:-1], strict=True):
        where = _Array(int(offset), a.shape, a.dtype.str)
        where.view(buffers[slot])[...] = a  # type: ignore[arg-type]
        placed.append(where)
    return placed


def _receive(conn: Connection, buffers: list[_Buffer | None]) -> tuple:
    """The next message, after taking in any buffers the pipeline handed over before it."""
    message = conn.recv()
    while message[0] == "buffer":
        slot = message[1]
        old = buffers[slot]
        buffers[slot] = _Buffer(reduction.recv_handle(conn))
        if old is not None:
            old.close()
        message = conn.recv()
    return message


def _serve(conn: Connection, models: bytes, cores: set[int]) -> None:
    """The model's process: runs each frame's calls as they come, until told to stop or the pipeline's
    process is gone."""
    # Stopping is the pipeline's to decide: Ctrl-C in a terminal and systemd's SIGTERM reach this process
    # too, and a model gone before the pipeline's last frames would end the station with an error.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores)
    try:
        backends: list[OnnxPoseBackend] = pickle.loads(models)  # loads each model file again
    except PoseError as exc:
        conn.send(("error", str(exc)))
        return
    conn.send(("ready",))
    inputs: list[_Buffer | None] = [None] * DEPTH
    try:
        while (message := _receive(conn, inputs))[0] == "job":
            _, slot, calls = message
            buffer = inputs[slot]
            assert buffer is not None  # every job's inputs came with a buffer
            try:
                results, seconds = [], []
                for which, offset, shape, dtype in calls:
                    t0 = time.perf_counter()
                    # No view of the buffer outlives the call: a view would keep it from being closed
                    # when a larger one replaces it.
                    output = backends[which].run_input(_Array(offset, shape, dtype).view(buffer))
                    seconds.append(time.perf_counter() - t0)
                    # Its bytes rather than the array: pickling the array (a strided selection of the
                    # network's output) cost ~60 µs more per frame, on the model's core.
                    results.append((output.shape, output.dtype.str, output.tobytes()))
            except PoseError as exc:  # the pipeline raises it for the frame whose call failed
                conn.send(("error", str(exc)))
                continue
            conn.send(("done", results, seconds))
    except (EOFError, OSError):  # the pipeline's process ended
        return


class ModelProcess:
    """Runs frames' model calls in a process of its own, pinned to `cores`, in the order they are put.

    `backends` are addressed by position in each job; they are loaded again in that process from their
    model files (`OnnxPoseBackend.__reduce__`). Use as a context manager, or `close()` it.
    """

    def __init__(self, backends: Sequence[OnnxPoseBackend], cores: set[int] | None = None) -> None:
        self.backends = list(backends)
        ours, theirs = socket.socketpair()
        # A plain child process rather than multiprocessing's: no resource-tracker process beside it, and
        # nothing of this process (threads, the main module) is copied or imported again there.
        self._process = subprocess.Popen(
            [sys.executable, "-c", "from edge.pixels.model_process import main; main()",
             str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        theirs.close()
        self._conn = Connection(ours.detach())
        self._inputs: list[_Buffer | None] = [None] * DEPTH
        self._put = 0  # frames put so far: the next one's input buffer is `_put % DEPTH`
        self._jobs: deque[list[int]] = deque()  # per frame in the model: which backend each call is on
        try:
            # The models pickled apart, so a model that cannot load is an answer there, not a crash.
            self._call(lambda: self._hand_over(pickle.dumps((pickle.dumps(self.backends), cores or set()))))
            if not self._conn.poll(START_TIMEOUT_S):
                raise PoseError(f"the pose model's process did not start within {START_TIMEOUT_S:.0f} s")
            answer = self._call(self._conn.recv)
            if answer[0] != "ready":
                raise PoseError(answer[1])
        except PoseError:
            self.close()
            raise

    def _hand_over(self, setup: bytes) -> None:
        assert self._process.stdin is not None
        with self._process.stdin as stdin:
            stdin.write(setup)

    @property
    def pid(self) -> int:
        return self._process.pid

    def put(self, job: Sequence[tuple[int, Prepared]]) -> None:
        """Queue a frame's calls: (which backend, its prepared input) each."""
        if len(self._jobs) >= DEPTH:
            raise RuntimeError(f"the pose model holds {DEPTH} frames already: take one back first")
        slot = self._put % DEPTH

        def send() -> None:
            placed = _place([p.blob for _, p in job], self._inputs, slot, self._conn)
            # Plain tuples: unpickling dataclasses (where each input lies, how it maps back to the frame)
            # cost the model's process ~30 µs more per frame, on the model's core.
            self._conn.send(("job", slot, [(which, where.offset, where.shape, where.dtype)
                                           for (which, _), where in zip(job, placed, strict=True)]))

        self._call(send)
        self._jobs.append([which for which, _ in job])
        self._put += 1

    def get(self) -> list[np.ndarray]:
        """The outputs of the oldest frame put and not yet taken back, in the order of its calls."""
        if not self._jobs:
            raise RuntimeError("no frame is waiting in the pose model")
        answer = self._call(self._conn.recv)
        which = self._jobs.popleft()
        if answer[0] == "error":
            raise PoseError(answer[1])
        _, outputs, seconds = answer
        for backend, s in zip(which, seconds, strict=True):
            self.backends[backend].stage_s["inference"] += s
        return [np.frombuffer(data, dtype).reshape(shape) for shape, dtype, data in outputs]

    def _call(self, step: Callable[[], _T]) -> _T:
        """`step()`, with the model's process ending turned into a PoseError that says so."""
        try:
            return step()
        except (EOFError, OSError) as exc:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1.0)
            code = self._process.returncode
            how = f"exit code {code}" if code is not None else str(exc) or type(exc).__name__
            raise PoseError(f"the pose model's process ended ({how})") from None

    def peak_rss_mb(self) -> float | None:
        """The model's process's peak resident memory (Linux), for `matcoach bench`."""
        try:
            status = Path(f"/proc/{self._process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already gone
            self._conn.send(("stop",))
        try:
            self._process.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._conn.close()
        for buffer in self._inputs:
            if buffer is not None:
                buffer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def main() -> None:
    """The model's process, talking over the socket whose descriptor is its one argument; its models
    and cores come pickled on standard input."""
    models, cores = pickle.loads(sys.stdin.buffer.read())
    _serve(Connection(int(sys.argv[1])), models, cores)
