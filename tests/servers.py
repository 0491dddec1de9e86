"""Servers for the tests: the app in-process around a fresh SQLite file, and a real `matcoach server`
process (uvicorn) on a free loopback port. Also a small station-side client for posting events."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from server import admin
from server.settings import ServerSettings
from server.store import open_store

STAFF_USER = "coach"
STAFF_PASSWORD = "correct horse battery"
# The slow KDF at its cheapest, so logging in many times doesn't dominate the suite.
TEST_PASSWORD_COST = 2**10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Provisioned:
    station_id: str
    wall_path: str
    token: str


def provision(db: Path | str, names: list[str], cost: int = TEST_PASSWORD_COST) -> list[Provisioned]:
    """Stations and a staff login in a fresh database (a SQLite file or a database URL), as an admin
    would make them."""
    store = open_store(str(db))
    try:
        admin.add_staff(store, STAFF_USER, STAFF_PASSWORD, time.time(), cost)
        out = []
        for name in names:
            station, token = admin.add_station(store, name, time.time())
            out.append(Provisioned(station.id, f"/wall/{station.wall_key}", token))
        return out
    finally:
        store.close()


@dataclass
class LiveServer:
    """`matcoach server` as its own process, the way a gym runs it. `db` is a SQLite file (its log
    beside it) or a database URL (then say where the log goes)."""

    db: Path | str
    config: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log: Path | None = None

    @property
    def log_path(self) -> Path:
        if self.log is not None:
            return self.log
        assert isinstance(self.db, Path), "a server on a database URL needs a log path"
        return self.db.with_suffix(".log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> LiveServer:
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "matcoach", "server", "--config", str(self.config), "--db", str(self.db),
             "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: "
                                   f"{self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not come up")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(predicate, timeout: float = 10.0, every: float = 0.02) -> bool:
    """Poll `predicate` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def count_stored(db: Path | str, kind: str = "rep") -> int:
    store = open_store(str(db))
    try:
        return store.count_events(kind)
    finally:
        store.close()


def write_server_config(path: Path, **settings: object) -> Path:
    lines = ["[server]"] + [f"{k} = {v!r}".replace("'", '"').replace("True", "true").replace("False", "false")
                            for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_station_config(path: Path, url: str, token: str, source: list[str], heartbeat_s: float | None = None
                         ) -> Path:
    """A station's TOML at `path`: its server, token and an outbox beside the file, no health port, and
    `source` as the lines of its [station.source] table."""
    lines = ["[station]", f'server_url = "{url}"', f'token = "{token}"',
             f'outbox = "{path.with_suffix(".outbox.db")}"', "health_port = 0"]
    if heartbeat_s is not None:
        lines.append(f"heartbeat_s = {heartbeat_s}")
    path.write_text("\n".join([*lines, "[station.source]", *source]) + "\n")
    return path


def settings_for_tests(db: Path | str, **overrides: object) -> ServerSettings:
    url = str(db) if "://" in str(db) else f"sqlite:///{db}"
    return ServerSettings(database_url=url, password_cost=TEST_PASSWORD_COST, **overrides)


def event_id() -> str:
    return uuid.uuid4().hex


def rep_event(session_id: str = "s1", rep_index: int = 1, set_index: int = 1, score: int = 82,
              cue: str = "Slower on the way down: count to four", faults: list[str] | None = None,
              at: float | None = None, **fields: object) -> dict:
    return {
        "type": "rep", "id": event_id(), "at": at or time.time(), "session_id": session_id,
        "set_index": set_index, "rep_index": rep_index, "variant": "double_leg",
        "start_t": 10.0 * rep_index, "end_t": 10.0 * rep_index + 6.5, "descent_s": 3.4, "ascent_s": 2.1,
        "bottom_pause_s": 0.4, "top_angle_deg": 86.0, "bottom_angle_deg": 22.0, "min_knee_angle_deg": 168.0,
        "faults": faults if faults is not None else [], "score": score, "cue": cue, "end_range_deg": 22.0,
        **fields,
    }


def mat_event(state: str, session_id: str | None = "s1") -> dict:
    return {"type": "mat", "id": event_id(), "at": time.time(), "session_id": session_id, "state": state}


def heartbeat(**fields: object) -> dict:
    return {"at": time.time(), "fps": 14.8, "cpu_temp_c": 61.5, "load_1m": 1.2, "camera": "ok",
            "software_version": "0.1.0", "model_versions": {"pose": "yolo11n-pose-320-int8"},
            "backlog": 0, "last_error": None, **fields}
