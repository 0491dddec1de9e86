"""Processes as /proc shows them: who started whom, and who is still running. For tests that a process
leaves nothing behind, and for the soak's memory of a station with its pose model's process."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    """/proc/PID/stat's fields after the command name (which may hold spaces): state, parent, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> dict[int, str]:
    """The processes `pid` started, with their command lines."""
    found = {}
    for entry in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, IndexError, ValueError):  # gone meanwhile
            if int(_stat(entry.name)[1]) == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    return found


def process_tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children(tree[-1])
    return tree


def alive(pid: int) -> bool:
    """Running (an exited process not yet reaped by whoever adopted it is not)."""
    try:
        return _stat(pid)[0] != "Z"
    except FileNotFoundError:
        return False


def all_gone(pids, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
