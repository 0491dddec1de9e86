"""The staff side in-process (FastAPI TestClient around a real database, SQLite and PostgreSQL, a fake
clock): login, its throttle and expiry, CSRF and Origin on every write, what each write does for the
station, and the history API in JSON and CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.staff import HISTORY_COLUMNS
from server.store import Store, open_store
from tests.servers import (
    STAFF_PASSWORD,
    STAFF_USER,
    Provisioned,
    event_id,
    heartbeat,
    provision,
    rep_event,
    settings_for_tests,
)

T0 = 1_790_000_000.0  # 2026-09-21, a weekday morning


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


@dataclass
class Env:
    client: TestClient
    store: Store
    mats: list[Provisioned]
    clock: Clock
    db: str  # a SQLite file's path or a PostgreSQL URL

    def stored_bytes(self) -> bytes:
        """Everything the database holds, as it lies on disk (SQLite) or as its rows read (PostgreSQL)."""
        if "://" not in self.db:
            path = Path(self.db)
            return path.read_bytes() + path.with_name(path.name + "-wal").read_bytes()
        import psycopg

        with psycopg.connect(self.db) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
            return "".join(str(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables).encode()

    @property
    def mat(self) -> Provisioned:
        return self.mats[0]


@pytest.fixture
def make_env(database: str) -> Iterator:
    opened: list[tuple[TestClient, Store]] = []

    def make(**settings: object) -> Env:
        db = database
        mats = provision(db, ["Mat 1", "Mat 2"])
        store = open_store(str(db))
        clock = Clock()
        client = TestClient(create_app(store, settings_for_tests(db, **settings), clock=clock))
        client.__enter__()
        opened.append((client, store))
        return Env(client, store, mats, clock, db)

    yield make
    for client, store in opened:
        client.__exit__(None, None, None)
        store.close()


@pytest.fixture
def env(make_env) -> Env:
    return make_env()


def log_in(client: TestClient, password: str = STAFF_PASSWORD, user: str = STAFF_USER):
    return client.post("/staff/login", data={"username": user, "password": password}, follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/staff").text).group(1)


def auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def beat(client: TestClient, token: str) -> int:
    return client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(token)).status_code


def station_json(client: TestClient, station_id: str) -> dict:
    return next(s for s in client.get("/staff/api/stations").json() if s["id"] == station_id)


# --- login ----------------------------------------------------------------------------------------

def test_the_right_password_logs_in_with_a_strict_httponly_cookie(env):
    r = log_in(env.client)
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # a gym LAN without TLS; secure_cookies turns it on
    page = env.client.get("/staff")
    assert page.status_code == 200 and "Mat 1" in page.text and "Mat 2" in page.text


@pytest.mark.parametrize(("user", "password"), [(STAFF_USER, "not the password"), ("nobody", STAFF_PASSWORD),
                                                (STAFF_USER, "")])
def test_a_wrong_username_or_password_gets_the_form_again_and_no_cookie(env, user, password):
    r = log_in(env.client, password, user)
    assert r.status_code in (401, 422)
    if password:
        assert r.status_code == 401 and "Wrong username or password" in r.text
    assert "set-cookie" not in r.headers
    assert env.client.get("/staff", follow_redirects=False).headers["location"] == "/staff/login"


def test_passwords_are_stored_only_as_a_salted_scrypt_hash(env):
    stored = env.store.staff_password_hash(STAFF_USER)
    assert stored.startswith("scrypt$") and STAFF_PASSWORD not in stored
    raw = env.stored_bytes()
    assert STAFF_USER.encode() in raw  # what is stored is read
    assert STAFF_PASSWORD.encode() not in raw


def test_failed_logins_are_throttled_per_client_until_the_window_passes(make_env):
    env = make_env(login_attempts=3, login_window_s=60.0)
    for _ in range(3):
        assert log_in(env.client, "guess").status_code == 401
    blocked = log_in(env.client)  # even the right password waits
    assert blocked.status_code == 429 and "Too many failed logins" in blocked.text
    assert 0 < int(blocked.headers["retry-after"]) <= 61
    assert "set-cookie" not in blocked.headers
    other = log_in(env.client, "guess", user="someone-else")  # counted per address, not only per name
    assert other.status_code == 429
    env.clock.t += 30
    assert log_in(env.client).status_code == 429
    env.clock.t += 31
    assert log_in(env.client).status_code == 303


def test_old_failures_drop_out_of_the_throttle_window(make_env):
    env = make_env(login_attempts=3, login_window_s=60.0)
    for _ in range(2):
        assert log_in(env.client, "typo").status_code == 401
    env.clock.t += 61
    for _ in range(2):
        assert log_in(env.client, "typo").status_code == 401
    assert log_in(env.client).status_code == 303


def test_without_a_login_the_page_redirects_and_the_apis_refuse(env):
    r = env.client.get("/staff", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login"
    assert env.client.get("/staff/api/stations").status_code == 401
    assert env.client.get(f"/api/v1/history/{env.mat.station_id}/reps").status_code == 401
    assert env.client.get("/staff/login").status_code == 200


def test_a_forged_cookie_is_no_login(env):
    env.client.cookies.set("mc_staff", "a" * 43)
    assert env.client.get("/staff/api/stations").status_code == 401
    env.client.cookies.set("mc_staff", "a" * 500)
    assert env.client.get("/staff/api/stations").status_code == 401


def test_a_login_expires_after_its_time_to_live(env):
    log_in(env.client)
    env.clock.t += 12 * 3600 - 60
    assert env.client.get("/staff/api/stations").status_code == 200
    env.clock.t += 120
    assert env.client.get("/staff/api/stations").status_code == 401
    assert env.client.get("/staff", follow_redirects=False).headers["location"] == "/staff/login"


def test_logging_out_ends_the_session_on_the_server(env):
    log_in(env.client)
    cookie = env.client.cookies.get("mc_staff")
    r = env.client.post("/staff/logout", data={"csrf": csrf_of(env.client)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/staff/login"
    assert env.client.get("/staff/api/stations").status_code == 401
    env.client.cookies.set("mc_staff", cookie)  # a copy of the old cookie is worth nothing now
    assert env.client.get("/staff/api/stations").status_code == 401


# --- CSRF and Origin on every write ---------------------------------------------------------------

WRITES = {
    "rename": ("/staff/stations/{id}/name", {"name": "Renamed"}),
    "mat region": ("/staff/stations/{id}/mat-region", {"region": "10,20,300,400"}),
    "new token": ("/staff/stations/{id}/token", {}),
    "revoke token": ("/staff/stations/{id}/token/revoke", {}),
    "add station": ("/staff/stations", {"name": "Mat 9"}),
    "log out": ("/staff/logout", {}),
}


def snapshot(env: Env) -> tuple:
    return tuple(env.store.stations()), env.client.get("/staff/api/stations").status_code


@pytest.mark.parametrize("write", list(WRITES))
def test_every_write_is_refused_without_the_form_token_or_from_a_foreign_origin(env, write):
    path, form = WRITES[write]
    url = path.format(id=env.mat.station_id)
    log_in(env.client)
    before = snapshot(env)
    assert before[1] == 200
    attempts = [
        ({**form}, {}),
        ({**form, "csrf": ""}, {}),
        ({**form, "csrf": "forged-" + "x" * 36}, {}),
        ({**form, "csrf": csrf_of(env.client)}, {"Origin": "http://evil.example"}),
        ({**form, "csrf": csrf_of(env.client)}, {"Origin": "null"}),
        ({**form, "csrf": csrf_of(env.client)}, {"Origin": "https://testserver"}),  # http site, https origin
    ]
    for data, headers in attempts:
        r = env.client.post(url, data=data, headers=headers, follow_redirects=False)
        assert r.status_code == 403, (data, headers, r.text)
        assert snapshot(env) == before
    # The same request from the page itself goes through.
    ok = env.client.post(url, data={**form, "csrf": csrf_of(env.client)}, headers={"Origin": "http://testserver"},
                         follow_redirects=False)
    assert ok.status_code in (200, 303)
    assert snapshot(env) != before


def test_a_write_without_a_login_is_401_and_changes_nothing(env):
    log_in(env.client)
    csrf = csrf_of(env.client)
    env.client.cookies.clear()
    before = env.store.stations()
    for path, form in WRITES.values():
        r = env.client.post(path.format(id=env.mat.station_id), data={**form, "csrf": csrf},
                            follow_redirects=False)
        assert r.status_code == 401
    assert env.store.stations() == before


def test_a_form_token_belongs_to_its_own_login(env):
    log_in(env.client)
    first = csrf_of(env.client)
    env.client.cookies.clear()
    log_in(env.client)
    r = env.client.post(f"/staff/stations/{env.mat.station_id}/name", data={"name": "X", "csrf": first})
    assert r.status_code == 403 and env.store.station(env.mat.station_id).name == "Mat 1"


def test_behind_an_https_proxy_the_https_origin_is_the_site_itself(make_env):
    # secure_cookies says the page is served over HTTPS by a reverse proxy; the app sees plain http.
    env = make_env(secure_cookies=True)
    r = log_in(env.client)
    assert "secure" in r.headers["set-cookie"].lower()
    cookie = r.headers["set-cookie"].split(";")[0]
    page = env.client.get("/staff", headers={"Cookie": cookie})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    url = f"/staff/stations/{env.mat.station_id}/name"
    foreign = env.client.post(url, data={"name": "Evil", "csrf": csrf}, follow_redirects=False,
                              headers={"Cookie": cookie, "Origin": "https://evil.example"})
    assert foreign.status_code == 403
    ok = env.client.post(url, data={"name": "Front mat", "csrf": csrf},
                         headers={"Cookie": cookie, "Origin": "https://testserver"}, follow_redirects=False)
    assert ok.status_code == 303 and env.store.station(env.mat.station_id).name == "Front mat"


# --- what the writes do ---------------------------------------------------------------------------

def post_form(env: Env, path: str, **form: str):
    return env.client.post(path.format(id=env.mat.station_id), data={**form, "csrf": csrf_of(env.client)},
                           follow_redirects=False)


def test_a_rename_shows_on_the_page_and_reaches_the_station(env):
    log_in(env.client)
    r = post_form(env, "/staff/stations/{id}/name", name="  Front   mat  ")
    assert r.status_code == 303 and r.headers["location"] == "/staff"
    assert "Front mat" in env.client.get("/staff").text
    assert station_json(env.client, env.mat.station_id)["name"] == "Front mat"
    reply = env.client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(env.mat.token))
    assert reply.json()["name"] == "Front mat"


@pytest.mark.parametrize("name", ["", "   ", "x" * 61])
def test_a_bad_name_is_refused_and_the_old_one_kept(env, name):
    log_in(env.client)
    r = post_form(env, "/staff/stations/{id}/name", name=name)
    assert r.status_code == 422
    if name:  # (an empty field is a missing field: FastAPI's own 422)
        assert "a station name is 1–60 characters" in r.text
    assert env.store.station(env.mat.station_id).name == "Mat 1"


def test_names_are_escaped_on_the_page(env):
    log_in(env.client)
    post_form(env, "/staff/stations/{id}/name", name="<script>alert(1)</script> Sam's mat")
    page = env.client.get("/staff").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page


def test_the_mat_region_set_by_staff_reaches_the_station_in_its_heartbeat_reply(env):
    log_in(env.client)
    r = post_form(env, "/staff/stations/{id}/mat-region", region="10, 20, 300.5, 400")
    assert r.status_code == 303
    reply = env.client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(env.mat.token))
    assert reply.status_code == 200 and reply.json()["mat_region"] == [10.0, 20.0, 300.5, 400.0]
    assert station_json(env.client, env.mat.station_id)["mat_region"] == [10.0, 20.0, 300.5, 400.0]
    assert 'value="10.0,20.0,300.5,400.0"' in env.client.get("/staff").text
    # Empty goes back to estimating it from the member.
    assert post_form(env, "/staff/stations/{id}/mat-region", region="").status_code == 303
    reply = env.client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth(env.mat.token))
    assert reply.json()["mat_region"] is None


@pytest.mark.parametrize("region", ["1,2,3", "300,20,10,400", "10,400,300,20", "10,20,10,400",
                                    "left,top,right,bottom", "1,2,3,4,5", "-10,20,300,400", "nan,20,300,400",
                                    "10,20,300,1e9", "10;20;300;400"])
def test_a_bad_mat_region_is_refused_and_the_old_one_kept(env, region):
    env.store.set_mat_region(env.mat.station_id, (1.0, 2.0, 3.0, 4.0))
    log_in(env.client)
    r = post_form(env, "/staff/stations/{id}/mat-region", region=region)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert re.search(r'class="error banner" role="alert">The mat region', r.text)  # said on the page
    assert list(env.store.station(env.mat.station_id).mat_region) == [1.0, 2.0, 3.0, 4.0]


def new_token_on(page: str) -> str:
    found = re.findall(r'<code id="new-token">([^<]+)</code>', page)
    assert len(found) == 1, "the token is shown exactly once on the page"
    return found[0]


def test_a_new_token_is_shown_once_and_replaces_the_old_one(env):
    log_in(env.client)
    assert beat(env.client, env.mat.token) == 200
    r = post_form(env, "/staff/stations/{id}/token")
    assert r.status_code == 200
    token = new_token_on(r.text)
    assert token.startswith("mcs_") and token != env.mat.token and r.text.count(token) == 1
    assert beat(env.client, token) == 200
    assert beat(env.client, env.mat.token) == 401
    assert beat(env.client, env.mats[1].token) == 200  # the other station is untouched
    assert token not in env.client.get("/staff").text
    assert token not in env.client.get("/staff/api/stations").text
    secret = token.split("_", 2)[2]
    raw = env.stored_bytes()
    assert secret.encode() not in raw


def test_a_revoked_token_stops_the_station_until_it_gets_a_new_one(env):
    log_in(env.client)
    r = post_form(env, "/staff/stations/{id}/token/revoke")
    assert r.status_code == 303
    assert beat(env.client, env.mat.token) == 401
    assert station_json(env.client, env.mat.station_id)["token_active"] is False
    token = new_token_on(post_form(env, "/staff/stations/{id}/token").text)
    assert beat(env.client, token) == 200


def test_a_station_added_on_the_page_can_report_with_the_token_shown(env):
    log_in(env.client)
    r = post_form(env, "/staff/stations", name="Mat 3, back room")
    assert r.status_code == 200
    token = new_token_on(r.text)
    assert beat(env.client, token) == 200
    added = [s for s in env.client.get("/staff/api/stations").json() if s["name"] == "Mat 3, back room"]
    assert len(added) == 1 and added[0]["online"] is True
    assert post_form(env, "/staff/stations", name="   ").status_code == 422
    assert len(env.store.stations()) == 3


def test_writes_to_an_unknown_station_are_404(env):
    log_in(env.client)
    for path, form in list(WRITES.values())[:4]:
        r = env.client.post(path.format(id="st-nope"), data={**form, "csrf": csrf_of(env.client)})
        assert r.status_code == 404


def test_online_follows_the_heartbeat_age_and_reps_count_for_today(env):
    log_in(env.client)
    assert station_json(env.client, env.mat.station_id)["online"] is False
    assert env.client.post("/api/v1/heartbeat", json=heartbeat(fps=12.5, backlog=4, camera="reopening",
                                                              last_error="camera reopened"),
                           headers=auth(env.mat.token)).status_code == 200
    reps = [rep_event(rep_index=i) for i in range(1, 4)]
    env.client.post("/api/v1/events", json={"events": reps}, headers=auth(env.mat.token))
    now = station_json(env.client, env.mat.station_id)
    assert now["online"] is True and now["heartbeat_age_s"] == 0
    assert (now["fps"], now["backlog"], now["camera"]) == (12.5, 4, "reopening")
    assert now["last_error"] == "camera reopened"
    assert now["reps_today"] == 3
    env.clock.t += 31  # offline_after_s is 30 by default
    later = station_json(env.client, env.mat.station_id)
    assert later["online"] is False and later["heartbeat_age_s"] == 31
    env.clock.t += 2 * 86_400
    log_in(env.client)  # the old login has expired by now
    assert station_json(env.client, env.mat.station_id)["reps_today"] == 0


# --- history --------------------------------------------------------------------------------------

def set_event(at: float, set_index: int = 1) -> dict:
    return {"type": "set", "id": event_id(), "at": at, "session_id": "s1", "set_index": set_index,
            "variant": "double_leg", "rep_count": 12, "mean_score": 81.5, "end_range_deg": 24.0}


def hold_event(at: float) -> dict:
    return {"type": "hold", "id": event_id(), "at": at, "session_id": "s1", "variant": "hollow_hold",
            "duration_s": 20.5, "flat_share": 0.9}


@pytest.fixture
def history(env) -> Env:
    cues = {2: '=HYPERLINK("http://evil.example","click")', 3: "+1+cmd|' /C calc'!A0", 4: "@SUM(A1)",
            5: "\t=1+1"}
    reps = [rep_event(rep_index=i, at=T0 + 60 * i, cue=cues.get(i, "Good rep"),
                      faults=["fast_descent", "momentum"] if i == 1 else [], bottom_angle_deg=-4.5)
            for i in range(1, 6)]
    events = [*reps, set_event(T0 + 400), set_event(T0 + 900, 2), hold_event(T0 + 30)]
    r = env.client.post("/api/v1/events", json={"events": events}, headers=auth(env.mat.token))
    assert r.status_code == 200
    other = [rep_event(at=T0 + 120)]
    assert env.client.post("/api/v1/events", json={"events": other},
                           headers=auth(env.mats[1].token)).status_code == 200
    log_in(env.client)
    return env


def test_history_json_filters_by_station_time(history):
    url = f"/api/v1/history/{history.mat.station_id}/reps"
    everything = history.client.get(url).json()
    assert everything["count"] == 5 and [r["rep_index"] for r in everything["items"]] == [1, 2, 3, 4, 5]
    assert {r["station_id"] for r in everything["items"]} == {history.mat.station_id}
    window = history.client.get(url, params={"since": T0 + 120, "until": T0 + 240}).json()
    assert [r["rep_index"] for r in window["items"]] == [2, 3]  # since inclusive, until exclusive
    later = history.client.get(url, params={"since": T0 + 250}).json()["items"]
    assert [r["rep_index"] for r in later] == [5]
    earlier = history.client.get(url, params={"until": T0 + 61}).json()["items"]
    assert [r["rep_index"] for r in earlier] == [1]
    first = everything["items"][0]
    assert first["faults"] == ["fast_descent", "momentum"] and first["at"] == T0 + 60 and "type" not in first
    sets = history.client.get(f"/api/v1/history/{history.mat.station_id}/sets",
                              params={"since": T0 + 500}).json()
    assert [s["set_index"] for s in sets["items"]] == [2]
    holds = history.client.get(f"/api/v1/history/{history.mat.station_id}/holds").json()
    assert holds["count"] == 1 and holds["items"][0]["duration_s"] == 20.5


@pytest.mark.parametrize("kind", ["reps", "sets", "holds"])
def test_history_csv_has_the_documented_columns(history, kind):
    r = history.client.get(f"/api/v1/history/{history.mat.station_id}/{kind}", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f'filename="{history.mat.station_id}-{kind}.csv"' in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == HISTORY_COLUMNS[kind]
    assert len(rows) - 1 == {"reps": 5, "sets": 2, "holds": 1}[kind]
    assert all(len(row) == len(rows[0]) for row in rows)


def test_history_csv_neutralises_cells_a_spreadsheet_would_run(history):
    r = history.client.get(f"/api/v1/history/{history.mat.station_id}/reps",
                           params={"format": "csv", "since": T0, "until": T0 + 1000})
    table = list(csv.reader(io.StringIO(r.text)))
    rows = [dict(zip(HISTORY_COLUMNS["reps"], row, strict=True)) for row in table[1:]]
    cues = [row["cue"] for row in rows]
    assert cues[0] == "Good rep"
    assert cues[1] == "'" + '=HYPERLINK("http://evil.example","click")'
    assert cues[2] == "'+1+cmd|' /C calc'!A0"
    assert cues[3] == "'@SUM(A1)"
    assert cues[4] == "'\t=1+1"
    assert all(row["bottom_angle_deg"] == "-4.5" for row in rows)  # negative numbers stay numbers
    assert rows[0]["faults"] == "fast_descent;momentum" and rows[1]["faults"] == ""
    assert float(rows[0]["at"]) == T0 + 60


def test_history_needs_a_login_a_known_station_and_a_known_kind(history):
    ok = f"/api/v1/history/{history.mat.station_id}/reps"
    assert history.client.get(ok).status_code == 200
    assert history.client.get("/api/v1/history/st-nope/reps").status_code == 404
    assert history.client.get(f"/api/v1/history/{history.mat.station_id}/videos").status_code == 422
    assert history.client.get(ok, params={"format": "xlsx"}).status_code == 422
    assert history.client.get(ok, params={"since": "yesterday"}).status_code == 422
    history.client.cookies.clear()
    assert history.client.get(ok).status_code == 401
    assert history.client.get(ok, params={"format": "csv"}).status_code == 401


def test_a_history_longer_than_the_limit_says_it_was_cut(env):
    client, mat = env.client, env.mat
    auth = {"Authorization": f"Bearer {mat.token}"}
    reps = [rep_event(rep_index=i, at=1_790_000_000.0 + i) for i in range(1, 6)]
    assert client.post("/api/v1/events", json={"events": reps}, headers=auth).status_code == 200
    log_in(client)
    url = f"/api/v1/history/{mat.station_id}/reps"
    page = client.get(url, params={"limit": 3}).json()
    assert page["count"] == 3 and page["truncated"] is True
    rest = client.get(url, params={"limit": 3, "since": page["items"][-1]["at"] + 0.5}).json()
    assert [r["rep_index"] for r in rest["items"]] == [4, 5] and rest["truncated"] is False
    assert client.get(url, params={"limit": 3, "format": "csv"}).headers["x-truncated"] == "true"
