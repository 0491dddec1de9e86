"""`matcoach station` on frames through the pose model: the real sports2d clip played as a camera,
a camera that disappears and comes back (a video file, and the Pi camera through its stand-in), and a
model that can't be loaded."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from edge.pixels.model_files import CROP_MODEL, MODELS_DIR
from server.store import open_store
from tests.procs import children
from tests.servers import wait_for, write_station_config

FOOTAGE = Path(__file__).resolve().parent.parent / "models" / "footage" / "demo.mp4"

pytestmark = pytest.mark.footage


@pytest.fixture
def clip(tmp_path) -> Path:
    if not FOOTAGE.is_file():
        pytest.fail(f"{FOOTAGE} is missing: run `bash models/fetch_footage.sh` first")
    return Path(shutil.copy(FOOTAGE, tmp_path / "camera.mp4"))


def config(tmp_path: Path, url: str, token: str, video: Path, loop: bool, model: str | None = None) -> Path:
    source = ['kind = "video"', f'path = "{video}"', f"loop = {'true' if loop else 'false'}"]
    if model:
        source.append(f'crop_model = "{model}"')
    return write_station_config(tmp_path / "station.toml", url, token, source, heartbeat_s=0.3)


def heartbeat(db: Path, station_id: str) -> dict:
    store = open_store(str(db))
    try:
        return store.station(station_id).heartbeat or {}
    finally:
        store.close()



def test_the_clip_runs_through_the_pose_model_and_the_station_reports_its_fps(gym, tmp_path, clip):
    server, mat, db = gym
    server.start()
    proc = subprocess.run([sys.executable, "-m", "matcoach", "station", "--config",
                           str(config(tmp_path, server.url, mat.token, clip, loop=False))],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    beat = heartbeat(db, mat.station_id)
    assert beat["fps"] > 0 and beat["camera"] in ("ok", "stopped")
    # Staff can see which model files run; each hash is the file's own (models/*.sha256).
    sums = (MODELS_DIR / "pose-models.sha256").read_text().splitlines()
    recorded = {name: digest for digest, name in (line.split() for line in sums)}
    classifier = (MODELS_DIR / "rep-classifier.sha256").read_text().split()[0]
    assert beat["model_versions"] == {"pose": f"{CROP_MODEL.name} sha256:{recorded[CROP_MODEL.name][:12]}",
                                      "classifier": f"rep-classifier.onnx sha256:{classifier[:12]}"}


def unplug_and_plug_back(db: Path, station_id: str, station_toml: Path, unplug, plug, error: str,
                         env: dict[str, str] | None = None) -> None:
    """Runs the station; once its camera delivers, unplugs it, then plugs it back. The same process must
    report the loss (`error` in its last error) and deliver frames again by itself."""
    proc = subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config", str(station_toml)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert wait_for(lambda: heartbeat(db, station_id).get("camera") == "ok", 30, every=0.2)
        unplug()
        gone = ("reopening", "missing")
        assert wait_for(lambda: heartbeat(db, station_id).get("camera") in gone, 30, every=0.2)
        assert error in heartbeat(db, station_id)["last_error"]
        plug()
        assert wait_for(lambda: heartbeat(db, station_id).get("camera") == "ok", 30, every=0.2)
        assert wait_for(lambda: heartbeat(db, station_id).get("fps", 0) > 0, 10, every=0.2)
        assert proc.poll() is None  # the same process all along
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


def test_a_camera_that_disappears_is_picked_up_again_without_a_restart(gym, tmp_path, clip):
    server, mat, db = gym
    server.start()
    spare = shutil.copy(clip, tmp_path / "spare.mp4")
    # The camera is unplugged: the clip plays out, then it can't be reopened.
    unplug_and_plug_back(db, mat.station_id, config(tmp_path, server.url, mat.token, clip, loop=True),
                         clip.unlink, lambda: shutil.copy(spare, clip), "no such file")


def test_a_pose_model_that_cannot_be_loaded_is_one_line(gym, tmp_path, clip):
    server, mat, _ = gym
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    proc = subprocess.run([sys.executable, "-m", "matcoach", "station", "--config",
                           str(config(tmp_path, server.url, mat.token, clip, loop=False, model=str(broken)))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "broken.onnx" in proc.stderr


def test_a_pose_model_process_that_dies_ends_the_station_with_one_line_for_systemd_to_restart(
        gym, tmp_path, clip):
    server, mat, db = gym
    server.start()
    proc = subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config",
                             str(config(tmp_path, server.url, mat.token, clip, loop=True))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: heartbeat(db, mat.station_id).get("fps", 0) > 0, 30, every=0.2)
        (model,) = [pid for pid, cmd in children(proc.pid).items() if "edge.pixels.model_process" in cmd]
        os.kill(model, signal.SIGKILL)  # the kernel's out-of-memory killer, say
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 2  # a failure, which a service manager restarts (systemd: Restart=on-failure)
    assert err.count("\n") == 1 and "the pose model's process ended (exit code -9)" in err


def test_the_pi_camera_unplugged_and_plugged_back_in_is_picked_up_again(gym, tmp_path, clip):
    """The Pi camera, mocked (tests/fake_pi; libcamera exists only on a Pi), through the whole station:
    its ribbon cable pulled and pushed back while the station runs."""
    server, mat, db = gym
    server.start()
    path = write_station_config(tmp_path / "station.toml", server.url, mat.token,
                                ['kind = "picamera2"', "size = [960, 540]", "fps = 15"], heartbeat_s=0.3)
    unplugged = tmp_path / "unplugged"
    fake_pi = Path(__file__).resolve().parent / "fake_pi"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake_pi), os.environ.get("PYTHONPATH", "")]),
           "FAKE_PICAMERA2_VIDEO": str(clip), "FAKE_PICAMERA2_UNPLUGGED": str(unplugged)}
    unplug_and_plug_back(db, mat.station_id, path, unplugged.touch, unplugged.unlink, "Pi camera", env)
