"""Hostile input against the station API and the wall screen: every case gets a clear 4xx that names
the field, stores nothing, never echoes the input back, and leaves the server serving.

Every case runs once on SQLite and once on PostgreSQL. Most run in-process (TestClient); the ones about
the HTTP layer itself (declared and streamed oversize bodies, broken Content-Length, abandoned slow
bodies) run against a real `matcoach server` process over raw sockets."""

from __future__ import annotations

import json
import re
import select
import socket
import struct
import time
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.sync.client import connect

from matcoach.wire import FAULTS, MAX_BATCH
from server import admin
from server.app import create_app
from server.store import Store, open_store
from tests.servers import (
    STAFF_PASSWORD,
    STAFF_USER,
    LiveServer,
    Provisioned,
    event_id,
    heartbeat,
    mat_event,
    provision,
    rep_event,
    settings_for_tests,
    write_server_config,
)

KINDS = ("rep", "set", "hold", "mat")
MARKER = "Q" * 10_000  # a hostile string that must never come back in a response
JSON = {"Content-Type": "application/json"}


@dataclass
class Env:
    client: TestClient
    store: Store
    mat1: Provisioned
    mat2: Provisioned


@pytest.fixture
def env(database):
    mat1, mat2 = provision(database, ["Mat 1", "Mat 2"])
    store = open_store(database)
    app = create_app(store, settings_for_tests(database))
    with TestClient(app) as client:
        yield Env(client, store, mat1, mat2)
    store.close()


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def stored_state(store: Store) -> tuple:
    """Everything a request could have written: event counts, registrations, heartbeats."""
    return (tuple(store.count_events(k) for k in KINDS),
            tuple((s.id, s.registration, s.heartbeat, s.heartbeat_at) for s in store.stations()))


def batch(*events: dict) -> bytes:
    return json.dumps({"events": list(events)}).encode()


def literal(field: str, text: str, event: dict | None = None) -> bytes:
    """A one-rep batch with `field` set to a raw JSON literal (which json.dumps can't write)."""
    event = {**(event or rep_event()), field: "__LITERAL__"}
    return batch(event).replace(b'"__LITERAL__"', text.encode())


def locs(response: httpx.Response) -> list[list[str]]:
    return [[str(p) for p in e["loc"]] for e in response.json()["detail"]]


def refused(env: Env, path: str, body: bytes, status: int | set[int],
            field: str | None = None) -> httpx.Response:
    """POST a raw body as Mat 1 and check: the status, the field named, nothing stored, still serving."""
    before = stored_state(env.store)
    r = env.client.post(path, content=body, headers={**JSON, **auth(env.mat1.token)})
    statuses = {status} if isinstance(status, int) else status
    assert r.status_code in statuses, r.text[:500]
    assert r.headers["content-type"].startswith("application/json")
    if field is not None:
        assert any(field in loc for loc in locs(r)), r.text[:500]
    assert stored_state(env.store) == before
    assert env.client.get("/api/v1/health").status_code == 200
    return r


# --- event bodies ---------------------------------------------------------------------------------

EVENT_CASES = {
    "not json": (lambda: b"this is not json", "body"),
    "truncated json": (lambda: batch(rep_event())[:-7], "body"),
    "json array": (lambda: b"[1, 2, 3]", "body"),
    "json number": (lambda: b"42", "body"),
    "json string": (lambda: b'"events"', "body"),
    "json null": (lambda: b"null", "body"),
    "empty body": (lambda: b"", "body"),
    "events is an object": (lambda: json.dumps({"events": rep_event()}).encode(), "events"),
    "score as text": (lambda: batch(rep_event(score="high")), "score"),
    "score as a fraction": (lambda: batch(rep_event(score=82.5)), "score"),
    "faults as a string": (lambda: batch(rep_event(faults="momentum")), "faults"),
    "faults as an object": (lambda: batch(rep_event(faults={"momentum": True})), "faults"),
    "unknown field in the batch": (lambda: json.dumps({"events": [rep_event()], "sneaky": 1}).encode(),
                                   "sneaky"),
    "unknown field in a rep": (lambda: batch(rep_event(sneaky=1)), "sneaky"),
    "unknown field in a mat event": (lambda: batch({**mat_event("lying"), "video": "AAAA"}), "video"),
    "unknown event type": (lambda: batch({**rep_event(), "type": "video"}), "events"),
    "missing event type": (lambda: batch({k: v for k, v in rep_event().items() if k != "type"}), "events"),
    "missing required field": (lambda: batch({k: v for k, v in rep_event().items() if k != "score"}),
                               "score"),
    "unknown fault": (lambda: batch(rep_event(faults=["lazy"])), "faults"),
    "too many faults": (lambda: batch(rep_event(faults=["momentum"] * 6)), "faults"),
    "unknown variant": (lambda: batch(rep_event(variant="plank")), "variant"),
    "unknown mat state": (lambda: batch(mat_event("dancing")), "state"),
    "score 101": (lambda: batch(rep_event(score=101)), "score"),
    "score -1": (lambda: batch(rep_event(score=-1)), "score"),
    "score 1e309": (lambda: literal("score", "1e309"), "score"),
    "score 10**400": (lambda: literal("score", str(10**400)), "score"),
    "descent 10**400": (lambda: literal("descent_s", str(10**400)), "descent_s"),
    "descent -1e308": (lambda: literal("descent_s", "-1e308"), "descent_s"),
    "descent NaN": (lambda: literal("descent_s", "NaN"), "descent_s"),
    "angle Infinity": (lambda: literal("top_angle_deg", "Infinity"), "top_angle_deg"),
    "angle -Infinity": (lambda: literal("bottom_angle_deg", "-Infinity"), "bottom_angle_deg"),
    "at NaN": (lambda: literal("at", "NaN"), "at"),
    "at 0 (broken clock)": (lambda: batch(rep_event(at=1.0)), "at"),
    "rep index 0": (lambda: batch(rep_event(rep_index=0)), "rep_index"),
    "set index 10**7": (lambda: batch(rep_event(set_index=10**7)), "set_index"),
    "session id with a slash": (lambda: batch(rep_event(session_id="../s1")), "session_id"),
    "cue of 10k characters": (lambda: batch(rep_event(cue="c" * 10_000)), "cue"),
    "empty batch": (lambda: batch(), "events"),
    f"batch of {MAX_BATCH + 1}": (lambda: batch(*(rep_event(rep_index=i + 1) for i in range(MAX_BATCH + 1))),
                                  "events"),
}


@pytest.mark.parametrize("case", list(EVENT_CASES))
def test_a_hostile_event_batch_gets_422_naming_the_field_and_stores_nothing(env, case):
    make, field = EVENT_CASES[case]
    refused(env, "/api/v1/events", make(), 422, field)


@pytest.mark.parametrize("bad_id", ["short", "x" * 65, "../../etc", "../../etc/passwd", "ünïcödé-id-0001",
                                    "has spaces in it", "", "id\x00with-nul", "'; DROP TABLE events;--"])
def test_event_ids_outside_the_id_alphabet_are_refused(env, bad_id):
    refused(env, "/api/v1/events", batch(rep_event(id=bad_id)), 422, "id")


def test_a_bad_event_anywhere_in_a_batch_refuses_the_whole_batch(env):
    good = [rep_event(rep_index=i + 1) for i in range(5)]
    r = refused(env, "/api/v1/events", batch(*good, rep_event(rep_index=6, score=101)), 422, "score")
    assert locs(r)[0][:3] == ["body", "events", "5"]


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"events": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                  literal("faults", "[" * 50_000 + "]" * 50_000),
                                  b'{"events": [' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"]}"],
                         ids=["nested arrays", "arrays nested as the batch", "arrays nested in a field",
                              "objects nested as an event"])
def test_deeply_nested_json_is_refused_without_crashing(env, body):
    refused(env, "/api/v1/events", body, {400, 413, 422})


def test_moderately_nested_json_inside_an_event_names_the_field(env):
    refused(env, "/api/v1/events", literal("faults", "[" * 500 + "]" * 500), 422, "faults")


@pytest.mark.parametrize("body", [
    b'{"events": [\xff\xfe\xfd]}',  # not UTF-8
    literal("score", "9" * 5_000),  # beyond Python's int-from-text limit
    literal("cue", '"\\ud800 half a surrogate"'),
], ids=["invalid utf-8", "5000-digit integer", "lone surrogate"])
def test_undecodable_bodies_get_a_4xx(env, body):
    refused(env, "/api/v1/events", body, {400, 422})


def test_valid_extremes_are_stored_and_every_reader_still_renders_them(env):
    """Hostile but valid: every bound at its limit, markup and spreadsheet formulas in the free text."""
    now = time.time()
    sid = "s" * 64
    events = [
        mat_event("lying", session_id=sid),
        rep_event(session_id=sid, at=1e10, set_index=1_000_000, rep_index=1_000_000, score=0, cue="",
                  faults=list(FAULTS), start_t=0.0, end_t=10 * 365 * 86_400.0, descent_s=86_400.0,
                  ascent_s=0.0, bottom_pause_s=86_400.0, top_angle_deg=-360.0, bottom_angle_deg=360.0,
                  min_knee_angle_deg=0.0, end_range_deg=None, id="a" * 64),
        rep_event(session_id=sid, at=1e9, score=100, rep_index=2, set_index=1_000_000,
                  cue='=HYPERLINK("http://x")<script>alert(1)</script>\x00\u202e', end_range_deg=-360.0),
        rep_event(session_id=sid, at=now, rep_index=3, set_index=1_000_000, cue="ü" * 120,
                  faults=["momentum"] * 5),
        {"type": "set", "id": event_id(), "at": now, "session_id": sid, "set_index": 1_000_000,
         "variant": "hollow_hold", "rep_count": 1_000_000, "mean_score": 100.0, "end_range_deg": None},
        {"type": "hold", "id": event_id(), "at": now, "session_id": sid, "variant": "hollow_hold",
         "duration_s": 0.0, "flat_share": None},
        {"type": "hold", "id": event_id(), "at": now, "session_id": sid, "variant": "hollow_hold",
         "duration_s": 86_400.0, "flat_share": 1.0},
    ]
    r = env.client.post("/api/v1/events", content=batch(*events), headers={**JSON, **auth(env.mat1.token)})
    assert r.status_code == 200, r.text
    beat = heartbeat(last_error="<script>le()</script>" + "e" * 478, fps=1000.0, cpu_temp_c=-50.0,
                     backlog=1_000_000, model_versions={"<script>mv()</script>": "=1+1"})
    assert env.client.post("/api/v1/heartbeat", json=beat, headers=auth(env.mat1.token)).status_code == 200
    state = env.client.get(env.mat1.wall_path + "/state")
    assert state.status_code == 200 and state.json()["session"]["rep_count"] == 3
    page = env.client.get(env.mat1.wall_path)
    assert page.status_code == 200 and "<script>alert" not in page.text
    login = env.client.post("/staff/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD},
                            follow_redirects=False)
    assert login.status_code == 303
    status = env.client.get("/staff")
    assert status.status_code == 200
    assert "<script>le()" not in status.text and "<script>mv()" not in status.text
    assert env.client.get("/staff/api/stations").status_code == 200
    for kind in ("reps", "sets", "holds"):
        assert env.client.get(f"/api/v1/history/{env.mat1.station_id}/{kind}").status_code == 200
    csv_text = env.client.get(f"/api/v1/history/{env.mat1.station_id}/reps?format=csv").text
    assert "'=HYPERLINK" in csv_text and "\n=HYPERLINK" not in csv_text and ",=HYPERLINK" not in csv_text


# --- size limits (in-process; the real server is below) -------------------------------------------

def test_a_body_over_the_limit_is_413_by_its_declared_length(env):
    r = refused(env, "/api/v1/events", batch(rep_event(cue="c" * 300_000)), 413)
    assert "bytes" in r.json()["detail"]


def test_a_body_over_the_limit_is_413_when_streamed_without_a_length(env):
    before = stored_state(env.store)
    r = env.client.post("/api/v1/events", content=iter([b"x" * 65_536] * 5), headers=auth(env.mat1.token))
    assert "content-length" not in r.request.headers and r.request.headers["transfer-encoding"] == "chunked"
    assert r.status_code == 413
    assert stored_state(env.store) == before


@pytest.mark.parametrize("length, status", [("abc", 400), ("-5", 400), ("1e3", 400), ("9" * 5_000, 413)])
def test_a_broken_content_length_is_a_4xx_not_a_crash(env, length, status):
    before = stored_state(env.store)
    r = env.client.post("/api/v1/events", content=b"{}",
                        headers={**JSON, **auth(env.mat1.token), "Content-Length": length})
    assert r.status_code == status and r.json()["detail"]
    assert stored_state(env.store) == before
    assert env.client.get("/api/v1/health").status_code == 200


# --- replays and conflicts ------------------------------------------------------------------------

def test_a_replayed_event_is_a_duplicate_and_a_conflicting_id_fails_the_whole_batch(env):
    client, store, mat1 = env.client, env.store, env.mat1
    first = rep_event(session_id="s9")
    assert client.post("/api/v1/events", content=batch(first), headers={**JSON, **auth(mat1.token)}).json() \
        == {"results": [{"id": first["id"], "status": "stored"}]}
    again = client.post("/api/v1/events", content=batch(first), headers={**JSON, **auth(mat1.token)})
    assert again.status_code == 200
    assert again.json()["results"] == [{"id": first["id"], "status": "duplicate"}]

    before = stored_state(store)
    others = [rep_event(session_id="s9", rep_index=i) for i in (2, 3)]
    changed = {**first, "cue": "a different cue"}
    r = client.post("/api/v1/events", content=batch(others[0], changed, others[1], mat_event("empty", "s9")),
                    headers={**JSON, **auth(mat1.token)})
    assert r.status_code == 409 and r.json()["id"] == first["id"] and first["id"] in r.json()["detail"]
    assert stored_state(store) == before
    assert [e.id for e in store.session_events(mat1.station_id, "s9", 100)] == [first["id"]]
    # The valid events of the refused batch go through once resent without the conflict.
    r = client.post("/api/v1/events", content=batch(*others), headers={**JSON, **auth(mat1.token)})
    assert [x["status"] for x in r.json()["results"]] == ["stored", "stored"]


def test_one_id_twice_in_a_batch_with_different_bodies_is_a_conflict(env):
    rep = rep_event()
    r = env.client.post("/api/v1/events", content=batch(rep, {**rep, "score": 3}),
                        headers={**JSON, **auth(env.mat1.token)})
    assert r.status_code == 409 and r.json()["id"] == rep["id"]
    assert env.store.count_events("rep") == 0
    r = env.client.post("/api/v1/events", content=batch(rep, rep), headers={**JSON, **auth(env.mat1.token)})
    assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate"]
    assert env.store.count_events("rep") == 1


# --- tokens ---------------------------------------------------------------------------------------

def _parts(token: str) -> tuple[str, str]:
    _, token_id, secret = token.split("_", 2)
    return token_id, secret


AUTH_CASES = {
    "missing": lambda m1, m2: None,
    "scheme only": lambda m1, m2: "Bearer",
    "basic": lambda m1, m2: "Basic dXNlcjpwYXNz",
    "token without scheme": lambda m1, m2: m1.token,
    "not a station token": lambda m1, m2: "Bearer nonsense",
    "10k characters": lambda m1, m2: "Bearer " + "x" * 10_000,
    "empty secret": lambda m1, m2: f"Bearer mcs_{_parts(m1.token)[0]}_",
    "empty token id": lambda m1, m2: f"Bearer mcs__{_parts(m1.token)[1]}",
    "wrong prefix": lambda m1, m2: "Bearer xyz" + m1.token[3:],
    "secret with a byte more": lambda m1, m2: f"Bearer {m1.token}x",
    "another station's id, this one's secret": lambda m1, m2: f"Bearer mcs_{_parts(m2.token)[0]}_"
                                                              f"{_parts(m1.token)[1]}",
    "sql in the token id": lambda m1, m2: "Bearer mcs_' OR '1'='1_secret",
}


@pytest.mark.parametrize("case", list(AUTH_CASES))
def test_bad_tokens_get_401_on_every_station_endpoint_and_store_nothing(env, case):
    header = AUTH_CASES[case](env.mat1, env.mat2)
    headers = {"Authorization": header} if header is not None else {}
    before = stored_state(env.store)
    registration = {"hostname": "h", "software_version": "0.1.0"}
    for path, body in [("/api/v1/events", {"events": [rep_event()]}), ("/api/v1/heartbeat", heartbeat()),
                       ("/api/v1/register", registration)]:
        r = env.client.post(path, json=body, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (path, r.text)
        assert "token" in r.json()["detail"]
    assert stored_state(env.store) == before


def test_without_a_token_a_hostile_body_gets_401_not_a_field_report(env):
    r = env.client.post("/api/v1/events", json={"events": [rep_event(score=101, sneaky=MARKER)]})
    assert r.status_code == 401 and "loc" not in r.text


@pytest.mark.parametrize("body", [b"this is not json", b'{"events": [', b""])
@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/heartbeat", "/api/v1/register"])
def test_a_wrong_token_is_told_so_whatever_the_body_is(env, path, body):
    # FastAPI reads JSON before it checks dependencies; a stranger's broken body must not be parsed, and
    # a station whose token was revoked must learn that, not that its JSON is bad.
    for headers in ({}, auth("mcs_nobody_nothing"), auth(env.mat1.token + "x")):
        r = env.client.post(path, content=body, headers={**JSON, **headers})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", (headers, r.text)
        assert "token" in r.json()["detail"]
    # With the right token the same body is the body's fault.
    assert env.client.post(path, content=body, headers={**JSON, **auth(env.mat1.token)}).status_code == 422


def test_a_revoked_token_gets_401_everywhere(env):
    admin.revoke_token(env.store, env.mat1.station_id, time.time())
    before = stored_state(env.store)
    for path, body in [("/api/v1/events", {"events": [rep_event()]}), ("/api/v1/heartbeat", heartbeat()),
                       ("/api/v1/register", {"hostname": "h", "software_version": "0.1.0"})]:
        assert env.client.post(path, json=body, headers=auth(env.mat1.token)).status_code == 401
    assert stored_state(env.store) == before
    # The other station is unaffected.
    r = env.client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(env.mat2.token))
    assert r.status_code == 200


# --- heartbeat and registration -------------------------------------------------------------------

def _hb(**fields: object) -> bytes:
    return json.dumps(heartbeat(**fields)).encode()


def _reg(**fields: object) -> bytes:
    return json.dumps({"hostname": "matcoach-01", "software_version": "0.1.0", **fields}).encode()


STATION_CASES = {
    "heartbeat last_error of 10k": ("/api/v1/heartbeat", lambda: _hb(last_error="e" * 10_000), "last_error"),
    "heartbeat unknown camera state": ("/api/v1/heartbeat", lambda: _hb(camera="on fire"), "camera"),
    "heartbeat fps NaN": ("/api/v1/heartbeat",
                          lambda: _hb(fps="__L__").replace(b'"__L__"', b"NaN"), "fps"),
    "heartbeat temperature 1e309": ("/api/v1/heartbeat",
                                    lambda: _hb(cpu_temp_c="__L__").replace(b'"__L__"', b"1e309"),
                                    "cpu_temp_c"),
    "heartbeat negative backlog": ("/api/v1/heartbeat", lambda: _hb(backlog=-1), "backlog"),
    "heartbeat unknown field": ("/api/v1/heartbeat", lambda: _hb(gps=[1, 2]), "gps"),
    "heartbeat 9 model versions": ("/api/v1/heartbeat",
                                   lambda: _hb(model_versions={f"m{i}": "v" for i in range(9)}),
                                   "model_versions"),
    "heartbeat as a list": ("/api/v1/heartbeat", lambda: json.dumps([heartbeat()]).encode(), "body"),
    "registration 9 model versions": ("/api/v1/register",
                                      lambda: _reg(model_versions={f"m{i}": "v" for i in range(9)}),
                                      "model_versions"),
    "registration model version of 10k": ("/api/v1/register",
                                          lambda: _reg(model_versions={"pose": "v" * 10_000}),
                                          "model_versions"),
    "registration hostname of 10k": ("/api/v1/register", lambda: _reg(hostname="h" * 10_000), "hostname"),
    "registration width 0": ("/api/v1/register", lambda: _reg(width=0), "width"),
    "registration height 10**400": ("/api/v1/register",
                                    lambda: _reg(height="__L__").replace(b'"__L__"', str(10**400).encode()),
                                    "height"),
    "registration unknown field": ("/api/v1/register", lambda: _reg(ssh_key="ssh-ed25519 AAAA"), "ssh_key"),
}


@pytest.mark.parametrize("case", list(STATION_CASES))
def test_hostile_heartbeats_and_registrations_get_422_and_change_nothing(env, case):
    path, make, field = STATION_CASES[case]
    refused(env, path, make(), 422, field)
    station = env.store.station(env.mat1.station_id)
    assert station.heartbeat is None and station.registration is None


# --- no echo --------------------------------------------------------------------------------------

ECHO_CASES = {
    "event type tag": ("/api/v1/events", lambda: batch({**rep_event(), "type": MARKER})),
    "unknown field name in an event": ("/api/v1/events", lambda: batch(rep_event(**{MARKER: 1}))),
    "unknown field name in the batch": ("/api/v1/events",
                                        lambda: json.dumps({"events": [rep_event()], MARKER: 1}).encode()),
    "event id": ("/api/v1/events", lambda: batch(rep_event(id=MARKER))),
    "session id": ("/api/v1/events", lambda: batch(rep_event(session_id=MARKER))),
    "cue": ("/api/v1/events", lambda: batch(rep_event(cue=MARKER))),
    "variant": ("/api/v1/events", lambda: batch(rep_event(variant=MARKER))),
    "fault": ("/api/v1/events", lambda: batch(rep_event(faults=[MARKER]))),
    "score": ("/api/v1/events", lambda: batch(rep_event(score=MARKER))),
    "mat state": ("/api/v1/events", lambda: batch(mat_event(MARKER))),
    "last_error": ("/api/v1/heartbeat", lambda: _hb(last_error=MARKER)),
    "camera": ("/api/v1/heartbeat", lambda: _hb(camera=MARKER)),
    "model_versions key": ("/api/v1/heartbeat", lambda: _hb(model_versions={MARKER: "v"})),
    "model_versions value": ("/api/v1/register", lambda: _reg(model_versions={"pose": MARKER})),
    "hostname": ("/api/v1/register", lambda: _reg(hostname=MARKER)),
}


@pytest.mark.parametrize("case", list(ECHO_CASES))
def test_a_422_never_echoes_the_hostile_input(env, case):
    path, make = ECHO_CASES[case]
    r = refused(env, path, make(), 422)
    assert MARKER[:100] not in r.text
    assert len(r.content) < 2_000
    assert all(isinstance(e["msg"], str) and e["msg"] for e in r.json()["detail"])


# --- the wall screen ------------------------------------------------------------------------------

WALL_KEYS = ["nope", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2F..%2Fserver%2Fstore.py", "%00", "%E2%80%AE",
             "k" * 5_000, "'%20OR%20'1'%3D'1", "%25", "%3Cscript%3Ealert(1)%3C%2Fscript%3E"]


@pytest.mark.parametrize("key", WALL_KEYS)
def test_a_wall_request_with_a_garbage_key_is_404(env, key):
    for path in (f"/wall/{key}/state", f"/wall/{key}"):
        r = env.client.get(path)
        assert r.status_code == 404, (path[:80], r.text[:200])
        assert "<script>" not in r.text and env.mat1.wall_path not in r.text
    assert env.client.get(env.mat1.wall_path + "/state").status_code == 200


def test_literal_path_traversal_on_the_wall_is_404(env):
    for path in ("/wall/../../etc/passwd/state", "/wall/../server/store.py", "/wall/./../static/../app.py"):
        assert env.client.get(path).status_code == 404, path


@pytest.mark.parametrize("key, code", [("nope", 4404), ("k" * 2_000, 4404), ("%00", 4404),
                                       ("%E2%80%AE", 4404),
                                       # a decoded "/" matches no route at all: the router closes it
                                       ("%2e%2e%2f%2e%2e%2fetc", 1000)])
def test_a_websocket_to_an_unknown_wall_key_is_closed(env, key, code):
    url = f"/wall/{key}/live"
    with pytest.raises(WebSocketDisconnect) as closed, env.client.websocket_connect(url) as ws:
        ws.receive_json()
    assert closed.value.code == code
    # A real screen still connects and gets its state.
    with env.client.websocket_connect(env.mat1.wall_path + "/live") as ws:
        assert ws.receive_json()["mode"] == "idle"


# --- the real server process ----------------------------------------------------------------------

@dataclass
class Live:
    server: LiveServer
    store: Store
    token: str

    def raw(self, head: str, body_chunks: tuple[bytes, ...] = (), timeout: float = 10.0) -> bytes:
        """Send a hand-made request, stop sending as soon as the server answers, return its answer."""
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=timeout) as s:
            s.sendall(head.encode())
            for chunk in body_chunks:
                if select.select([s], [], [], 0)[0]:
                    break
                try:
                    s.sendall(chunk)
                except OSError:  # the server answered and closed while we were still sending
                    break
            data = b""
            deadline = time.monotonic() + timeout
            # Headers and body may arrive in separate segments: read on until the body is all there.
            while time.monotonic() < deadline and not _complete(data):
                try:
                    part = s.recv(65_536)
                except OSError:
                    break
                if not part:
                    break
                data += part
            return data

    def head(self, extra: str) -> str:
        return (f"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.token}\r\n"
                f"Content-Type: application/json\r\n{extra}\r\n")

    def assert_still_serving(self) -> None:
        assert httpx.get(self.server.url + "/api/v1/health", timeout=5).status_code == 200
        before = self.store.count_events("rep")
        rep = rep_event(id=event_id())
        r = httpx.post(self.server.url + "/api/v1/events", json={"events": [rep]}, headers=auth(self.token),
                       timeout=5)
        assert r.status_code == 200 and r.json()["results"] == [{"id": rep["id"], "status": "stored"}]
        assert self.store.count_events("rep") == before + 1
        assert self.server.proc.poll() is None


@pytest.fixture(scope="module")
def live(tmp_path_factory, module_database):
    tmp = tmp_path_factory.mktemp("hostile-live")
    (mat1,) = provision(module_database, ["Mat 1"])
    server = LiveServer(module_database, write_server_config(tmp / "server.toml"), log=tmp / "server.log")
    server.start()
    store = open_store(module_database)
    try:
        yield Live(server, store, mat1.token)
    finally:
        server.stop()
        store.close()
        log = server.log_path.read_text()
        assert "Traceback" not in log, log[-3000:]


def _complete(answer: bytes) -> bool:
    """An HTTP answer whose headers, and body as long as they declare, have arrived."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return False
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return length is None or len(body) >= int(length.group(1))


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def test_live_a_body_declared_over_the_limit_is_413_before_it_is_sent(live):
    before = live.store.count_events("rep")
    answer = live.raw(live.head("Content-Length: 10000000\r\n"))
    assert status_of(answer) == 413 and b"bytes" in answer
    assert live.store.count_events("rep") == before
    live.assert_still_serving()


def test_live_a_chunked_body_over_the_limit_is_413(live):
    chunk = b"4000\r\n" + b"[" * 0x4000 + b"\r\n"
    answer = live.raw(live.head("Transfer-Encoding: chunked\r\n"), (chunk,) * 40)  # 640 KiB, no length
    assert status_of(answer) == 413
    live.assert_still_serving()


@pytest.mark.parametrize("length", ["abc", "-5", "99999999999999999999999999999", "10\r\nContent-Length: 20"])
def test_live_a_broken_content_length_is_a_4xx(live, length):
    answer = live.raw(live.head(f"Content-Length: {length}\r\n"))
    assert 400 <= status_of(answer) < 500
    live.assert_still_serving()


def test_live_deep_nesting_and_garbage_bodies_are_4xx(live):
    for body in (b"[" * 100_000, b"\xff" * 1000, b'{"events": [' + b"{" * 50_000):
        answer = live.raw(live.head(f"Content-Length: {len(body)}\r\n"), (body,))
        assert status_of(answer) in (400, 413, 422), answer[:300]
    live.assert_still_serving()


def test_live_abandoned_slow_bodies_do_not_block_other_stations(live):
    slow = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", live.server.port), timeout=5)
        s.sendall((live.head("Content-Length: 50000\r\n") + '{"events": [{"type": "rep", ').encode())
        slow.append(s)
    half_head = socket.create_connection(("127.0.0.1", live.server.port), timeout=5)
    half_head.sendall(b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    slow.append(half_head)
    try:
        live.assert_still_serving()  # while all of them hang mid-request
    finally:
        for s in slow:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a RST
            s.close()
    time.sleep(0.2)
    live.assert_still_serving()


def _closed_within(s: socket.socket, seconds: float, trickle: bytes = b"") -> float | None:
    """Seconds until the server closes `s`, sending it one byte of `trickle` every 0.2 s meanwhile;
    None if it is still open after `seconds`."""
    start = time.monotonic()
    for i in range(int(seconds / 0.2)):
        if select.select([s], [], [], 0.2)[0]:
            try:
                if s.recv(1024) == b"":
                    return time.monotonic() - start
            except OSError:  # reset
                return time.monotonic() - start
        if i < len(trickle):
            try:
                s.sendall(trickle[i:i + 1])
            except OSError:
                return time.monotonic() - start
    return None


def test_live_connections_whose_request_never_arrives_are_closed_but_not_a_wall_screen(tmp_path, database):
    (mat1,) = provision(database, ["Mat 1"])
    server = LiveServer(database, write_server_config(tmp_path / "server.toml", slow_client_timeout_s=1.0),
                        log=tmp_path / "server.log").start()
    try:
        with connect(f"ws://127.0.0.1:{server.port}{mat1.wall_path}/live", open_timeout=5) as screen:
            assert json.loads(screen.recv(timeout=5))["mode"] == "idle"
            # One connects and says nothing; one sends its headers a byte every 0.2 s (slowloris); one
            # its body, to the login form anyone may post to.
            silent = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            trickle = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            slow_body = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            head = b"POST /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 100
            slow_body.sendall(b"POST /staff/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
                              b"Content-Type: application/x-www-form-urlencoded\r\n\r\nusername=")
            with silent, trickle, slow_body:
                # Closed between one and two periods, plus the machine's slack.
                assert 0.8 < (_closed_within(trickle, 6.0, head) or 99) < 3.5
                body_closed = _closed_within(slow_body, 4.0, b"a" * 100)  # its clock started meanwhile
                assert body_closed is not None and body_closed < 3.5 - 0.8
                assert _closed_within(silent, 1.0) is not None  # closed meanwhile, if not before
            # The wall screen, open all this while, still gets what happens on its mat.
            r = httpx.post(server.url + "/api/v1/events", json={"events": [mat_event("lying")]},
                           headers={"Authorization": f"Bearer {mat1.token}"}, timeout=5)
            assert r.status_code == 200
            assert json.loads(screen.recv(timeout=5))["mode"] == "ready"
        # And a request made at an ordinary pace is answered.
        assert httpx.get(server.url + "/api/v1/health", timeout=5).status_code == 200
    finally:
        server.stop()
    log = server.log_path.read_text()
    assert "Traceback" not in log, log[-3000:]
