"""`matcoach demo`: the whole product on one machine — the server on a fresh SQLite file, stations
replaying a bundled session through the live pipeline, the wall screen and the status page.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
import threading
import time
import webbrowser
from pathlib import Path

from edge.station.service import CameraSettings, SourceSettings, Station, StationSettings
from server import admin
from server.settings import ServerSettings
from server.store import open_store

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "session.jsonl"
CLIP = ROOT / "models" / "footage" / "demo.mp4"
STAFF_USER = "staff"


def _port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_demo(duration: float | None, stations: int, speed: float, port: int, browser: bool,
             trace: Path = SAMPLE) -> int:
    import uvicorn

    from server.app import create_app
    from server.main import uvicorn_config

    workdir = Path(tempfile.mkdtemp(prefix="matcoach-demo-"))
    settings = ServerSettings(database_url=f"sqlite:///{workdir / 'server.db'}", port=_port(port),
                              offline_after_s=10)
    store = open_store(settings.database_url)
    password = secrets.token_urlsafe(9)
    admin.add_staff(store, STAFF_USER, password, time.time(), settings.password_cost)
    provisioned = [admin.add_station(store, f"Mat {i + 1}", time.time()) for i in range(stations)]
    # The real clip through the pose model too, when it was fetched: a station as it runs on a camera.
    replayed = SourceSettings(path=trace, loop=True, speed=speed)
    sources: list[SourceSettings | CameraSettings] = [replayed] * stations
    if CLIP.is_file():
        provisioned.append(admin.add_station(store, f"Mat {stations + 1} (camera: {CLIP.name})", time.time()))
        sources.append(CameraSettings(kind="video", path=CLIP, loop=True, threads=1))
    app = create_app(store, settings)
    server = uvicorn.Server(uvicorn_config(app, settings))
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://{settings.host}:{settings.port}"

    runners: list[Station] = []
    for i, ((_, token), source) in enumerate(zip(provisioned, sources, strict=True)):
        runners.append(Station(StationSettings(
            server_url=base, token=token, outbox=workdir / f"outbox-{i + 1}.db", heartbeat_s=2.0,
            health_port=0, source=source)))
    threads = [threading.Thread(target=r.run, daemon=True) for r in runners]
    for t in threads:
        t.start()

    walls = [f"{base}/wall/{station.wall_key}" for station, _ in provisioned]
    for (station, _), url in zip(provisioned, walls, strict=True):
        print(f"wall screen  {station.name}: {url}")
    print(f"status page  {base}/staff   (login {STAFF_USER} / {password})")
    camera = f", {CLIP.name} through the pose model on one more" if CLIP.is_file() else ""
    print(f"replaying {trace.name} at {speed:g}× on {stations} station(s){camera}; data in {workdir}",
          flush=True)
    if browser:
        webbrowser.open(walls[0])
    try:
        if duration is None:
            print("Ctrl-C to stop", flush=True)
            while True:
                time.sleep(3600)
        time.sleep(duration)
    except KeyboardInterrupt:
        pass
    finally:
        for r in runners:
            r.stop.set()
        for t in threads:
            t.join(timeout=15)
        server.should_exit = True
        server_thread.join(timeout=10)
        reps = store.count_events("rep")
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"demo: {reps} reps stored, {len(runners)} stations")
    return 0
