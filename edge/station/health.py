"""The station's health, told two ways: to systemd (sd_notify READY / WATCHDOG / STATUS) and on a
local HTTP endpoint `/health` for deploy checks.

The watchdog is fed only while the pipeline loop goes round: one stuck in a driver call, in inference
or in a deadlock stops feeding it, and systemd restarts the service (`WatchdogSec=` in the unit). A
camera that is merely gone is not a stall: the loop keeps going round while the capture thread
reopens it, and `/health` says `camera: reopening` for whoever looks.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sd_notify(message: str) -> bool:
    """Send one notification to systemd, if the process runs under it (NOTIFY_SOCKET set)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # abstract namespace socket
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.connect(address)
            s.sendall(message.encode())
        return True
    except OSError:
        return False


class Health:
    """What `/health` reports and whether the watchdog may be fed. `snapshot` is the station's own
    report (camera state, fps, frames, backlog, last error); a pipeline loop that hasn't gone round
    for `stall_after_s` makes the station stalled."""

    def __init__(self, snapshot: Callable[[], dict], stall_after_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.snapshot = snapshot
        self.stall_after_s = stall_after_s
        self.clock = clock
        self.started = clock()
        self.last_tick: float | None = None

    def tick(self) -> None:
        """The pipeline loop went round (a frame processed, or a wait for the camera timed out)."""
        self.last_tick = self.clock()

    def report(self) -> dict:
        since = self.clock() - (self.last_tick if self.last_tick is not None else self.started)
        state = "ok" if since <= self.stall_after_s else "stalled"
        return {"state": state, "pipeline_idle_s": round(since, 2), **self.snapshot()}

    def alive(self) -> bool:
        return self.report()["state"] == "ok"


class _Handler(BaseHTTPRequestHandler):
    health: Health

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/health":
            self.send_error(404)
            return
        report = self.health.report()
        body = json.dumps(report).encode()
        self.send_response(200 if report["state"] == "ok" else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # deploy checks poll often; stay quiet
        pass


def serve_health(health: Health, host: str, port: int) -> ThreadingHTTPServer:
    """Start `/health` on host:port in a daemon thread; the caller shuts it down."""
    handler = type("HealthHandler", (_Handler,), {"health": health})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="health", daemon=True).start()
    return server
