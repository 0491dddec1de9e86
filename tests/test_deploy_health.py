"""What a station's `/health` tells a deploy (deploy/, docs/deploy.md): which installation runs, the
models it loaded, who is on the mat, and when the server last answered."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.deploy_hosts import health
from tests.servers import free_port
from tests.test_station import station_config


def watch_station(tmp_path, url: str, token: str, seconds: float) -> list[dict]:
    """Run a station replaying the sample session (about 7 s, longer on a busy machine) and read its
    /health every 50 ms, until the replay ends or `seconds` pass."""
    port = free_port()
    cfg = station_config(tmp_path, url, token)
    cfg.write_text(cfg.read_text().replace("health_port = 0", f"health_port = {port}"))
    proc = subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config", str(cfg)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            body = health(port)
            if body is not None:
                seen.append(body)
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(30)
    return seen


def test_health_names_the_installation_the_models_the_mat_and_the_last_answer_from_the_server(gym, tmp_path):
    server, mat, _ = gym
    server.start()
    seen = watch_station(tmp_path, server.url, mat.token, seconds=60)  # the whole session
    assert seen and all(b["prefix"] == sys.prefix for b in seen)
    assert all(b["models"]["classifier"].startswith("rep-classifier.onnx sha256:") for b in seen)
    mats = [b["mat"] for b in seen]
    first_lying = mats.index("lying")  # the member lies down and does their sets...
    assert mats[0] == "empty" and "empty" in mats[first_lying:]  # ...then gets up and leaves
    answered = [b["server_ok_s_ago"] for b in seen if b["server_ok_s_ago"] is not None]
    assert answered and max(answered) < 1.5  # heartbeats every 0.5 s


def test_a_station_whose_server_never_answered_says_so(gym, tmp_path):
    server, mat, _ = gym  # never started
    seen = watch_station(tmp_path, server.url, mat.token, seconds=3)
    assert seen and all(b["server_ok_s_ago"] is None for b in seen) and seen[-1]["frames"] > 0
