"""The station tells systemd it is alive (sd_notify) and answers `/health` for deploy checks."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from edge.station.health import Health, serve_health
from edge.station.service import Station, frame_rate, load_station_settings
from matcoach.wire import Heartbeat
from tests.servers import free_port, wait_for
from tests.test_station import station_config


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_pipeline_that_stops_going_round_is_stalled_and_health_says_503():
    clock = Clock()
    health = Health(lambda: {"camera": "ok"}, stall_after_s=10.0, clock=clock)
    health.tick()
    port = free_port()
    server = serve_health(health, "127.0.0.1", port)
    try:
        assert health.alive() and get(f"http://127.0.0.1:{port}/health") == (
            200, {"state": "ok", "pipeline_idle_s": 0.0, "camera": "ok"})
        clock.t += 11
        status, body = get(f"http://127.0.0.1:{port}/health")
        assert not health.alive() and status == 503 and body["state"] == "stalled"
        health.tick()
        assert get(f"http://127.0.0.1:{port}/health")[0] == 200
    finally:
        server.shutdown()


def test_a_running_station_notifies_systemd_and_reports_its_health(gym, tmp_path):
    server, mat, _ = gym
    server.start()
    notify_path = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    listener.settimeout(10)
    port = free_port()
    cfg = station_config(tmp_path, server.url, mat.token)
    cfg.write_text(cfg.read_text().replace("health_port = 0", f"health_port = {port}"))
    env = {**os.environ, "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "400000"}
    proc = subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config", str(cfg)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        messages = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(m.startswith("WATCHDOG=1") for m in messages):
            messages.append(listener.recv(4096).decode())
        assert messages[0] == "READY=1"
        assert any(m.startswith("WATCHDOG=1") and "camera replay" in m for m in messages)
        # READY comes as the pipeline starts; its first frame may come a moment later on a loaded machine.
        deadline = time.monotonic() + 15
        status, body = get(f"http://127.0.0.1:{port}/health")
        while body["frames"] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            status, body = get(f"http://127.0.0.1:{port}/health")
        assert status == 200 and body["state"] == "ok" and body["camera"] == "replay" and body["frames"] > 0
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
        listener.close()


def test_frames_handed_over_back_to_back_make_a_heartbeat_the_server_takes():
    # After a stall, or over dark frames the pose model is not run on, two frames can come 0.5 ms apart.
    # Read as 2,000 fps, the heartbeat broke its own wire format and the station's heartbeats stopped
    # for good (tests/test_dark_video.py, once, on a loaded machine).
    Heartbeat(at=time.time(), fps=frame_rate([100.0, 100.0005]), camera="ok", software_version="1", backlog=0)
    assert frame_rate([100.0 + i / 10 for i in range(21)]) == pytest.approx(10.0)
    assert frame_rate([100.0]) == 0.0


def test_a_heartbeat_the_wire_refuses_does_not_stop_the_next_ones(gym, tmp_path):
    server, mat, db = gym
    server.start()
    station = Station(load_station_settings(station_config(tmp_path, server.url, mat.token)))
    beats = threading.Thread(target=station._heartbeats, daemon=True)
    station.fps = 5000.0  # past the wire's 1000: what a frame rate over 0.5 ms read before
    beats.start()
    try:
        assert wait_for(lambda: station.last_error is not None, 15), "the refused heartbeat was not noted"
        assert station.last_error.startswith("heartbeat not sent: fps:")
        station.fps, station.last_error = 10.0, None
        assert wait_for(lambda: _heartbeat_fps(db) == 10.0, 15), "the heartbeats stopped"
    finally:
        station.stop.set()
        beats.join(timeout=10)
    assert not beats.is_alive()


def _heartbeat_fps(db) -> float | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT heartbeat FROM stations").fetchone()
    return json.loads(row[0])["fps"] if row and row[0] else None
