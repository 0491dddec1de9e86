"""`matcoach station` replaying a recorded session to the real server process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from edge.analysis.analyzer import analyze_frames
from edge.trace import read_trace
from server.store import open_store
from tests.servers import count_stored, wait_for, write_station_config

SAMPLE = Path(__file__).parent.parent / "samples" / "session.jsonl"
SPEED = 25.0  # the 173 s sample session in about 7 s


def expected_reps() -> int:
    header, frames = read_trace(SAMPLE)
    return len(analyze_frames(frames, header).reps)


def station_config(tmp_path: Path, url: str, token: str) -> Path:
    return write_station_config(tmp_path / "station.toml", url, token,
                                ['kind = "trace"', f'path = "{SAMPLE}"', f"speed = {SPEED}"], heartbeat_s=0.5)


def run_station(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)




def test_a_replayed_session_ends_on_the_server_with_exactly_its_reps(gym, tmp_path):
    server, mat, db = gym
    server.start()
    proc = run_station(station_config(tmp_path, server.url, mat.token))
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert count_stored(db) == expected_reps() > 0
    store = open_store(str(db))
    station = store.station(mat.station_id)
    store.close()
    assert station.heartbeat is not None and station.heartbeat["fps"] > 0
    assert station.registration is not None


def test_a_server_that_comes_back_mid_session_gets_every_rep_once(gym, tmp_path):
    server, mat, db = gym
    proc = run_station(station_config(tmp_path, server.url, mat.token))
    time.sleep(3.0)  # the member is mid-session and the server is still down
    server.start()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert count_stored(db) == expected_reps()


def test_a_bad_station_config_is_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[station]\nserver_url = "ftp://x"\ntoken = "abcdefghij"\nsped = 2\n'
                   '[station.source]\npath = "x.jsonl"\n')
    out = subprocess.run([sys.executable, "-m", "matcoach", "station", "--config", str(bad)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "server_url" in out.stderr and "sped" in out.stderr


def test_killing_the_station_mid_session_loses_and_doubles_nothing(gym, tmp_path):
    server, mat, db = gym
    server.start()
    cfg = station_config(tmp_path, server.url, mat.token)
    stored = 0
    # Killed twice mid-session, each time just after the server took one more of its reps (however long the
    # start took on a busy machine): the next rep's POST or outbox write is then under way.
    for _ in range(2):
        proc = run_station(cfg)
        assert wait_for(lambda before=stored: count_stored(db) > before, timeout=60, every=0.05)
        proc.kill()  # SIGKILL: no cleanup
        proc.wait()
        stored = count_stored(db)
    proc = run_station(cfg)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert 0 < stored < expected_reps()
    assert count_stored(db) == expected_reps()


def test_a_two_minute_server_outage_mid_session_loses_and_doubles_nothing(gym, tmp_path):
    server, mat, db = gym
    server.start()
    cfg = station_config(tmp_path, server.url, mat.token)
    cfg.write_text(cfg.read_text().replace(f"speed = {SPEED}", "speed = 2.0"))  # an 87 s session
    proc = run_station(cfg)
    time.sleep(10)
    stored_before = count_stored(db)
    server.stop()
    time.sleep(120)  # the session ends while the server is down; the station keeps everything
    server.start()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert stored_before < expected_reps()
    assert count_stored(db) == expected_reps()
