"""Which cores the pose model keeps to itself, and which one the rest of the live pipeline shares.

Capture (decoding a video) and the pipeline loop (planning crops, the analysis) run beside the model
on every frame. Left to the scheduler, three busy threads on two cores take turns, and every turn
taken from the model stalls the call it was in. Measured with `matcoach bench`'s passes on the
sports2d clip on this 2-core machine, 24 interleaved passes each: the pipeline took 25% longer than
its bare model calls with the scheduler's placement (median), 18% with capture and the loop kept to
one core. So the model (its own process, `edge/pixels/model_process.py`, or a thread) gets every core but the
last, and capture and the loop share the last. onnxruntime's own pool threads (a model with more than
one thread, as on a 4-core Pi) are started in the model's process after it keeps to its cores, and so
keep to them too.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@functools.cache
def _usable() -> tuple[int, ...]:
    """The cores this process may run on, read once (before any thread here is pinned)."""
    if not hasattr(os, "sched_getaffinity"):  # not Linux: the scheduler places everything
        return tuple(range(os.cpu_count() or 1))
    return tuple(sorted(os.sched_getaffinity(0)))


def all_cores() -> set[int]:
    """Every core this process may run on (the plain 640 baseline of `matcoach bench` uses them all)."""
    return set(_usable())


def side_cores() -> set[int]:
    """The core capture and the pipeline loop share: the last usable one."""
    return {_usable()[-1]}


def model_cores() -> set[int]:
    """Every usable core but the side one (all of them on a single core)."""
    return set(_usable()[:-1]) or set(_usable())


def model_threads() -> int:
    """onnxruntime threads for the live pipeline: one per model core."""
    return len(model_cores())


@contextmanager
def pinned(cores: set[int]) -> Iterator[None]:
    """The calling thread runs only on `cores` inside the block (threads it starts inherit that)."""
    if not hasattr(os, "sched_setaffinity") or len(_usable()) < 2:
        yield
        return
    # pid 0 is the calling thread on Linux, not the whole process.
    owner, before = threading.get_native_id(), os.sched_getaffinity(0)
    os.sched_setaffinity(0, cores)
    try:
        yield
    finally:
        # A generator closed from another thread runs this there: that thread keeps its own mask.
        if threading.get_native_id() == owner:
            os.sched_setaffinity(0, before)
