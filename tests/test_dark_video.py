"""A real clip whose picture goes dark and comes back, through `matcoach analyze` and through a running
station: nothing stops, and the reps are those of the same clip without the dark.

The clip is the shared footage's `legraise-gym.mp4` (two leg-lift reps from the floor, lying side on in a
gym), rewritten here at test time into a temporary directory, never into the repository: it fades in
from black while the first rep begins, goes black for 1.5 s while the member holds the legs up in it
(the lights off after the empty scene was learnt: the crash reported), and its light steps down for its
last frames. The control is the same clip rewritten the same way without those changes."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.servers import count_stored, free_port, wait_for, write_station_config

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT.parent / "shared" / "footage" / "legraise-gym.mp4"
DARK_AT_S, DARK_S = 2.0, 1.5  # on the clip's clock: legs held up in the first rep
FADE_END_S = 0.6  # the picture is back whole


def rewrite(src: Path, dst: Path, dark: bool) -> Path:
    """The clip at 960×540; with `dark`: a fade from black over its first 0.6 s (before the pose model
    finds the member in it), DARK_S of black frames inserted at DARK_AT_S, and its light down to 0.6 from
    11 s on (the member's legs are back on the mat)."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    size = (960, 540)
    out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    black = np.zeros((size[1], size[0], 3), np.uint8)
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        t = i / fps
        if dark:
            if t < FADE_END_S:
                frame = cv2.convertScaleAbs(frame, alpha=float(np.clip((t - 0.2) / 0.4, 0, 1)))
            if i == round(DARK_AT_S * fps):
                for _ in range(round(DARK_S * fps)):
                    out.write(black)
            if t >= 11.0:
                frame = cv2.convertScaleAbs(frame, alpha=0.6)
        out.write(frame)
        i += 1
    cap.release()
    out.release()
    return dst


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(control, dark) versions of the clip."""
    if not CLIP.is_file():
        pytest.skip(f"{CLIP} is not here (the shared footage, kept outside the repository)")
    d = tmp_path_factory.mktemp("dark-video")
    return rewrite(CLIP, d / "control.mp4", dark=False), rewrite(CLIP, d / "dark.mp4", dark=True)


def _analyze(video: Path) -> dict:
    res = subprocess.run([sys.executable, "-m", "matcoach", "analyze", str(video), "--json"],
                         capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return json.loads(res.stdout)


def test_analyze_reads_the_clip_through_the_dark_and_finds_the_same_reps(clips):
    control, dark = (_analyze(v) for v in clips)
    assert control["reps"], "the clip's rep is what the comparison is about"
    assert len(dark["reps"]) == len(control["reps"])
    def moved(t: float) -> float:
        """A time of the control on the dark clip's clock: after the black frames, later by their length."""
        return t + DARK_S if t > DARK_AT_S else t

    # Within half a second, the bar a rep's span is held to on the real clips: the pose model's keypoints
    # after the dark differ from the control's frame by frame, and a landing is read when both legs are down.
    for found, expected in zip(dark["reps"], control["reps"], strict=True):
        start = moved(expected["start_t"])
        if start < FADE_END_S:
            # Begun in the fade from black: seen from when the picture is back, not before.
            assert start - 0.5 <= found["start_t"] <= FADE_END_S + 0.5
        else:
            assert found["start_t"] == pytest.approx(start, abs=0.5)
        assert found["end_t"] == pytest.approx(moved(expected["end_t"]), abs=0.5)
        assert (found["variant"], found["faults"]) == (expected["variant"], expected["faults"])
        assert "back_arched" not in found["faults"]


def test_a_station_whose_camera_goes_dark_keeps_running_healthy_and_counts_the_rep_after_it(gym, tmp_path,
                                                                                             clips):
    server, mat, db = gym
    server.start()
    _, dark = clips
    port = free_port()
    config = write_station_config(tmp_path / "station.toml", server.url, mat.token,
                                  ['kind = "video"', f'path = "{dark}"', "loop = true"], heartbeat_s=0.3)
    config.write_text(config.read_text().replace("health_port = 0", f"health_port = {port}"))
    proc = subprocess.Popen([sys.executable, "-m", "matcoach", "station", "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    statuses: list[int] = []
    cameras: list[str] = []

    def health() -> dict | None:
        try:
            res = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        except httpx.HTTPError:
            if statuses:  # it was up: the station is ending, or its endpoint died
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
                why = proc.stderr.read()[-3000:] if proc.poll() is not None else "the station still runs"
                raise AssertionError(f"the health endpoint went away: {why}") from None
            return None
        statuses.append(res.status_code)
        report = res.json()
        cameras.append(report["camera"])
        return report

    try:
        assert wait_for(lambda: (h := health()) is not None and h["camera"] == "ok", 60, every=0.2)
        # The camera plays the clip from here, in real time: the dark stretch 2–3.5 s in, the rep
        # (counted from the keypoints, posted to the server) after it, then the clip again from the start.
        started = time.monotonic()
        assert wait_for(lambda: health() is not None and proc.poll() is None and count_stored(db) >= 1,
                        90, every=0.25), proc.stderr.read() if proc.poll() is not None else "no rep stored"
        assert time.monotonic() - started > DARK_AT_S + DARK_S  # (the rep came after the dark stretch)
        report = health()
        assert report is not None and report["state"] == "ok" and report["fps"] > 0
        assert report["last_error"] is None
        assert set(statuses) == {200}
        # Dark frames are frames: the camera never counts as lost, and nothing reopens it.
        assert set(cameras[cameras.index("ok"):]) == {"ok"}
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
