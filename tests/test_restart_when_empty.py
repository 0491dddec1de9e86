"""deploy/roles/matcoach_station/files/restart_when_empty.py, the command a deploy runs on a station: it
restarts the station the moment its /health says the mat is empty, or once told to stop waiting, and
at once when nothing answers three times running. Here against a small /health server in this
process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import free_port

SCRIPT = Path(__file__).parent.parent / "deploy/roles/matcoach_station/files/restart_when_empty.py"


class _Mat:
    """What /health says about the mat: `lying` until `empty_at` (time.time()), then `empty`; the first
    `silent` asks get no answer (the connection is closed)."""

    def __init__(self, empty_at: float) -> None:
        self.empty_at = empty_at
        self.silent = 0

    def state(self) -> str:
        return "empty" if time.time() >= self.empty_at else "lying"


@pytest.fixture
def station():
    mat = _Mat(float("inf"))

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if mat.silent > 0:
                mat.silent -= 1
                self.close_connection = True
                return
            state = mat.state()
            # A station whose pipeline stalled answers 503, and still says who is on the mat.
            self.send_response(503 if state == "lying" else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"mat": state, "fps": 10.0}).encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield mat, f"http://127.0.0.1:{server.server_address[1]}/health"
    server.shutdown()
    server.server_close()


def restart(url: str, wait_s: float, tmp_path: Path) -> tuple[dict, float | None, int]:
    """Run the script with a restart command that notes when it ran (a file's modification time); its
    report, that moment, its status."""
    stamp = tmp_path / "restarted"
    out = subprocess.run([sys.executable, str(SCRIPT), "--url", url, "--wait-s", str(wait_s), "--",
                          "touch", str(stamp)], capture_output=True, text=True, timeout=60)
    when = stamp.stat().st_mtime if stamp.exists() else None
    return json.loads(out.stdout.splitlines()[-1]), when, out.returncode


def test_the_station_restarts_within_a_moment_of_the_mat_going_empty(station, tmp_path):
    mat, url = station
    mat.empty_at = time.time() + 2.0
    report, restarted_at, status = restart(url, 60, tmp_path)
    # It waited (its own start-up, slow on a busy machine, is part of the 2 s)...
    assert status == 0 and report["mat"] == "empty" and report["polls"] > 1 and report["waited_s"] <= 3.0
    # ...and, asking every 0.2 s, restarted straight after the answer (no SSH round trip between).
    # (A file's time is the kernel's coarse clock: a few ms behind time.time().)
    assert restarted_at is not None and -0.05 <= restarted_at - mat.empty_at < 1.0


def test_with_the_member_still_on_the_mat_it_restarts_once_the_wait_runs_out(station, tmp_path):
    _, url = station
    report, restarted_at, status = restart(url, 1.5, tmp_path)
    assert status == 0 and report["mat"] == "lying" and 1.5 <= report["waited_s"] < 3.0
    assert restarted_at is not None


def test_a_station_that_does_not_answer_is_restarted_at_once(tmp_path):
    report, restarted_at, status = restart(f"http://127.0.0.1:{free_port()}/health", 60, tmp_path)
    assert status == 0 and report["mat"] is None and report["polls"] == 3 and report["waited_s"] < 1.5
    assert restarted_at is not None


def test_a_station_missing_two_answers_during_a_set_is_not_restarted_then(station, tmp_path):
    # Busy for a moment (a loaded machine): two asks go unanswered while the member lies on the mat.
    mat, url = station
    mat.silent, mat.empty_at = 2, time.time() + 2.0
    report, restarted_at, status = restart(url, 60, tmp_path)
    assert status == 0 and report["mat"] == "empty" and report["polls"] > 3
    assert restarted_at is not None and restarted_at >= mat.empty_at - 0.05


def test_a_failing_restart_is_the_scripts_failure(station, tmp_path):
    mat, url = station
    mat.empty_at = 0.0
    out = subprocess.run([sys.executable, str(SCRIPT), "--url", url, "--wait-s", "5", "--", "false"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and json.loads(out.stdout)["mat"] == "empty"
