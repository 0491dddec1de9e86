"""The station API in-process (FastAPI TestClient around a real database, once on SQLite and once on
PostgreSQL): tokens, exactly-once events, heartbeats, and what they do to the stored state."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.store import open_store
from tests.servers import heartbeat, mat_event, provision, rep_event, settings_for_tests


@pytest.fixture
def env(database):
    stations = provision(database, ["Mat 1", "Mat 2"])
    store = open_store(database)
    app = create_app(store, settings_for_tests(database))
    with TestClient(app) as client:
        yield client, store, stations
    store.close()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_posted_rep_is_stored_once_however_often_it_is_resent(env):
    client, store, (mat1, _) = env
    rep = rep_event()
    first = client.post("/api/v1/events", json={"events": [rep]}, headers=auth(mat1.token))
    again = client.post("/api/v1/events", json={"events": [rep]}, headers=auth(mat1.token))
    assert first.status_code == 200 and first.json()["results"] == [{"id": rep["id"], "status": "stored"}]
    assert again.status_code == 200 and again.json()["results"] == [{"id": rep["id"], "status": "duplicate"}]
    assert store.count_events("rep") == 1


def test_an_id_reused_for_a_different_body_is_refused_and_the_batch_is_not_stored(env):
    client, store, (mat1, _) = env
    rep = rep_event()
    client.post("/api/v1/events", json={"events": [rep]}, headers=auth(mat1.token))
    other = rep_event(rep_index=2)
    changed = {**rep, "score": 12}
    r = client.post("/api/v1/events", json={"events": [other, changed]}, headers=auth(mat1.token))
    assert r.status_code == 409 and r.json()["id"] == rep["id"]
    assert store.count_events("rep") == 1


def test_two_stations_may_use_the_same_event_id(env):
    client, store, (mat1, mat2) = env
    rep = rep_event()
    for s in (mat1, mat2):
        assert client.post("/api/v1/events", json={"events": [rep]}, headers=auth(s.token)).status_code == 200
    assert store.count_events("rep", mat1.station_id) == store.count_events("rep", mat2.station_id) == 1


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer mcs_0000000000000000_secret",
                                    "Basic dXNlcjpwYXNz"])
def test_missing_or_wrong_tokens_get_401_and_store_nothing(env, header):
    client, store, _ = env
    headers = {"Authorization": header} if header else {}
    r = client.post("/api/v1/events", json={"events": [rep_event()]}, headers=headers)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert client.post("/api/v1/heartbeat", json=heartbeat(), headers=headers).status_code == 401
    assert store.count_events("rep") == 0


def test_a_token_with_the_right_id_and_a_wrong_secret_is_refused(env):
    client, store, (mat1, _) = env
    forged = mat1.token[:-4] + ("AAAA" if not mat1.token.endswith("AAAA") else "BBBB")
    r = client.post("/api/v1/events", json={"events": [rep_event()]}, headers=auth(forged))
    assert r.status_code == 401
    assert store.count_events("rep") == 0


def test_only_a_hash_of_the_token_is_stored(env, database, request):
    _, _, (mat1, _) = env
    secret = mat1.token.split("_", 2)[2]
    if "://" in database:
        raw = request.getfixturevalue("pg_cluster").dump(database).encode()
        assert mat1.station_id.encode() in raw  # the dump has the stations in it
    else:
        raw = Path(database).read_bytes() + Path(database + "-wal").read_bytes()
    assert secret.encode() not in raw


def test_a_revoked_token_stops_working_and_a_new_one_replaces_the_old(env):
    from server import admin

    client, store, (mat1, _) = env
    admin.revoke_token(store, mat1.station_id, 0.0)
    assert client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(mat1.token)).status_code == 401
    fresh = admin.new_token(store, mat1.station_id, 0.0)
    assert client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(fresh)).status_code == 200
    assert client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(mat1.token)).status_code == 401


def test_heartbeat_and_registration_answer_with_the_station_config(env):
    client, store, (mat1, _) = env
    store.set_mat_region(mat1.station_id, (100.0, 300.0, 1200.0, 700.0))
    reg = {"hostname": "matcoach-01", "software_version": "0.1.0", "model_versions": {"pose": "320-int8"},
           "width": 1280, "height": 720}
    r = client.post("/api/v1/register", json=reg, headers=auth(mat1.token))
    assert r.status_code == 200
    assert r.json() == {"station_id": mat1.station_id, "name": "Mat 1",
                        "mat_region": [100.0, 300.0, 1200.0, 700.0]}
    r = client.post("/api/v1/heartbeat", json=heartbeat(backlog=7), headers=auth(mat1.token))
    assert r.status_code == 200
    station = store.station(mat1.station_id)
    assert station.heartbeat["backlog"] == 7 and station.registration["hostname"] == "matcoach-01"


def test_the_wall_state_follows_the_member(env):
    client, _, (mat1, _) = env
    wall = mat1.wall_path
    assert client.get(wall + "/state").json()["mode"] == "idle"
    client.post("/api/v1/events", json={"events": [mat_event("lying")]}, headers=auth(mat1.token))
    assert client.get(wall + "/state").json()["mode"] == "ready"
    client.post("/api/v1/events", json={"events": [rep_event(score=91, cue="Great control")]},
                headers=auth(mat1.token))
    state = client.get(wall + "/state").json()
    assert state["mode"] == "set"
    assert state["session"]["rep_count"] == 1 and state["session"]["last_rep"]["score"] == 91
    assert client.get("/wall/not-a-key").status_code == 404


def test_a_screen_is_left_on_the_newest_state_when_a_rep_lands_during_a_read_of_the_last(env):
    client, store, (mat1, _) = env
    real = store.session_events
    reading = threading.Event()

    def session_events(*args: object) -> list:
        events = real(*args)
        if not reading.is_set():  # the first read dawdles with what it read: soon an old state
            reading.set()
            time.sleep(0.5)
        return events

    store.session_events = session_events  # type: ignore[method-assign]
    hub = client.app.state.services.hub

    def post(score: int) -> None:
        r = client.post("/api/v1/events", json={"events": [rep_event(score=score)]}, headers=auth(mat1.token))
        assert r.status_code == 200

    with client.websocket_connect(mat1.wall_path + "/live") as ws:
        ws.receive_json()
        first = threading.Thread(target=post, args=(61,))
        first.start()
        assert reading.wait(5)
        post(62)
        first.join()
        assert hub.latest[mat1.station_id]["session"]["last_rep"]["score"] == 62
