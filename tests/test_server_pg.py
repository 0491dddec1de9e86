"""A fleet's server: two real `matcoach server` processes on one PostgreSQL database (a throwaway
cluster, tests/postgres.py). A rep posted to one reaches a wall screen connected to the other; the
same event posted to both at the same instant is stored once; the login throttle and staff sessions
hold across them; and a database restart in the middle of ingest loses and doubles nothing, the
stations' own outboxes retrying, while the server processes carry on without a restart."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from edge.station.outbox import Outbox
from edge.station.uplink import Uplink
from matcoach.wire import RepEvent
from server.store import Store, open_store
from tests.servers import (
    STAFF_PASSWORD,
    STAFF_USER,
    LiveServer,
    Provisioned,
    provision,
    rep_event,
    write_server_config,
)
from tests.test_store import race


@dataclass
class Fleet:
    url: str
    a: LiveServer
    b: LiveServer
    mats: list[Provisioned]
    store: Store


@pytest.fixture
def fleet(pg_cluster, tmp_path):
    url = pg_cluster.new_database()
    mats = provision(url, ["Mat 1", "Mat 2", "Mat 3"])
    config = write_server_config(tmp_path / "server.toml", login_attempts=3)
    a = LiveServer(url, config, log=tmp_path / "a.log")
    b = LiveServer(url, config, log=tmp_path / "b.log")
    store = open_store(url)
    try:
        a.start()
        b.start()
        yield Fleet(url, a, b, mats, store)
    finally:
        a.stop()
        b.stop()
        store.close()
        pg_cluster.recycle(url)
    for server in (a, b):
        log = server.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def screen(server: LiveServer, mat: Provisioned) -> Iterator[ClientConnection]:
    with connect(f"ws://127.0.0.1:{server.port}{mat.wall_path}/live", open_timeout=5) as ws:
        json.loads(ws.recv(timeout=5))  # the state on connecting
        yield ws


def until(ws: ClientConnection, predicate, timeout: float = 5.0) -> dict:
    """The first snapshot on the socket that satisfies `predicate`."""
    deadline = time.monotonic() + timeout
    while True:
        snapshot = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        if predicate(snapshot):
            return snapshot


def last_score(snapshot: dict) -> int | None:
    return ((snapshot.get("session") or {}).get("last_rep") or {}).get("score")


def test_a_rep_posted_to_one_process_reaches_a_wall_screen_on_the_other(fleet):
    mat1, mat2 = fleet.mats[:2]
    with screen(fleet.b, mat1) as on_b, screen(fleet.a, mat2) as on_a:
        for ws, server, mat in ((on_b, fleet.a, mat1), (on_a, fleet.b, mat2)):
            for score in (71, 72, 73):
                t0 = time.perf_counter()
                r = httpx.post(server.url + "/api/v1/events", json={"events": [rep_event(score=score)]},
                               headers=auth(mat.token), timeout=5)
                assert r.status_code == 200
                until(ws, lambda s, score=score: last_score(s) == score, timeout=2.0)
                assert time.perf_counter() - t0 < 1.0
        # A change made elsewhere (here, by a third store on the database) reaches both.
        fleet.store.rename(mat1.station_id, "Mat 1 — by the window")
        until(on_b, lambda s: s["station"]["name"] == "Mat 1 — by the window")


def test_the_same_event_posted_to_two_processes_at_once_is_stored_once(fleet):
    mat = fleet.mats[0]
    with httpx.Client(timeout=10) as client:
        def post(server: LiveServer, event: dict) -> httpx.Response:
            return client.post(server.url + "/api/v1/events", json={"events": [event]},
                               headers=auth(mat.token))

        for i in range(20):
            event = rep_event(rep_index=i + 1)
            answers = race(lambda e=event: post(fleet.a, e), lambda e=event: post(fleet.b, e))
            assert sorted(r.json()["results"][0]["status"] for r in answers) == ["duplicate", "stored"]
            # The same id with different bodies at once: one is stored, the other refused.
            other = {**event, "id": f"{event['id'][:-4]}race"}
            answers = race(lambda e=other: post(fleet.a, e), lambda e=other: post(fleet.b, {**e, "score": 1}))
            assert sorted(r.status_code for r in answers) == [200, 409]
    assert fleet.store.count_events("rep") == 40


def test_the_login_throttle_and_a_staff_session_hold_across_processes(fleet):
    def log_in(server: LiveServer, password: str = "a guess") -> httpx.Response:
        return httpx.post(server.url + "/staff/login", data={"username": STAFF_USER, "password": password},
                          timeout=10)

    assert [log_in(s).status_code for s in (fleet.a, fleet.b, fleet.a)] == [401, 401, 401]
    assert log_in(fleet.b, STAFF_PASSWORD).status_code == 429
    assert log_in(fleet.a, STAFF_PASSWORD).status_code == 429
    fleet.store.clear_login_failures([f"user:{STAFF_USER}", "ip:127.0.0.1"])  # the window passing
    login = log_in(fleet.a, STAFF_PASSWORD)
    assert login.status_code == 303
    cookies = {"mc_staff": login.cookies["mc_staff"]}
    assert httpx.get(fleet.b.url + "/staff/api/stations", cookies=cookies, timeout=10).status_code == 200


class Station:
    """A station's own outbox and uplink, in a thread, posting to one server process."""

    def __init__(self, root: Path, server: LiveServer, mat: Provisioned) -> None:
        self.mat = mat
        self.outbox = Outbox(root / f"{mat.station_id}.outbox.db")
        self.uplink = Uplink(server.url, mat.token, self.outbox, batch=10, timeout_s=5.0,
                             backoff_s=(0.05, 0.5))
        self.stop = threading.Event()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self.uplink.run, args=(self.stop, self.wake, 0.05))
        self.made: list[str] = []

    def rep(self, index: int, score: int = 80) -> None:
        event = RepEvent.model_validate(rep_event(session_id="s1", rep_index=index, score=score))
        self.outbox.put([event])
        self.made.append(event.id)
        self.wake.set()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.uplink.close()
        self.outbox.close()


def test_a_database_restart_during_ingest_loses_and_doubles_nothing(fleet, pg_cluster, tmp_path):
    servers = (fleet.a, fleet.b, fleet.a)
    stations = [Station(tmp_path, server, mat) for server, mat in zip(servers, fleet.mats, strict=True)]
    pids = (fleet.a.proc.pid, fleet.b.proc.pid)
    for s in stations:
        s.thread.start()
    try:
        with screen(fleet.b, fleet.mats[0]) as on_b:  # Mat 1 posts to A; its screen is on B
            restarted = threading.Thread(target=pg_cluster.restart, kwargs={"down_s": 1.5})
            for k in range(1, 61):  # some 3 s of reps, the database down for 1.5 s of it
                if k == 20:
                    restarted.start()
                for s in stations:
                    s.rep(k)
                time.sleep(0.05)
            restarted.join()
            deadline = time.monotonic() + 30
            while any(s.outbox.backlog() for s in stations) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [s.outbox.backlog() for s in stations] == [0, 0, 0]
            assert [s.outbox.rejected() for s in stations] == [[], [], []]
            for s in stations:
                stored = fleet.store.events(s.mat.station_id, "rep")
                assert sorted(e.id for e in stored) == sorted(s.made)  # each once, none missing
            # Both processes are the same ones, and the screen on B hears of A's reps again.
            stations[0].rep(61, score=42)
            until(on_b, lambda snap: last_score(snap) == 42, timeout=10)
    finally:
        for s in stations:
            s.close()
    assert (fleet.a.proc.pid, fleet.b.proc.pid) == pids
    assert fleet.a.proc.poll() is None and fleet.b.proc.poll() is None
    for server in (fleet.a, fleet.b):  # each lost the database, and found it again by itself
        log = server.log_path.read_text()
        assert "lost the change feed" in log and "listening to" in log, log[-2000:]


def test_a_store_carries_on_after_a_database_restart_without_failing_a_request(pg_cluster):
    url = pg_cluster.new_database()
    store = open_store(url)
    try:
        (mat,) = provision(url, ["Mat 1"])
        race(*[lambda: store.station(mat.station_id)] * 8)  # several connections into the pool
        pg_cluster.restart()
        # Every connection the pool holds died with the database: none may fail a request.
        results = race(*[lambda: store.station(mat.station_id)] * 8)
        assert [getattr(r, "name", r) for r in results] == ["Mat 1"] * 8
        event = RepEvent.model_validate(rep_event())
        assert store.ingest(mat.station_id, [event], time.time()) == [(event.id, True)]
    finally:
        store.close()
        pg_cluster.recycle(url)
