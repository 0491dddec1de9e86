"""Staff side in-process around a real SQLite file: login and its throttle, CSRF on every write,
and the history API in JSON and CSV."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.staff import HISTORY_COLUMNS
from server.store import open_store
from tests.servers import STAFF_PASSWORD, STAFF_USER, heartbeat, provision, rep_event, settings_for_tests


class Clock:
    def __init__(self) -> None:
        self.t = 1_790_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def env(tmp_path):
    db = tmp_path / "matcoach.db"
    stations = provision(db, ["Mat 1"])
    store = open_store(str(db))
    clock = Clock()
    with TestClient(create_app(store, settings_for_tests(db), clock=clock)) as client:
        yield client, store, stations[0], clock
    store.close()


def log_in(client: TestClient, password: str = STAFF_PASSWORD, user: str = STAFF_USER):
    return client.post("/staff/login", data={"username": user, "password": password}, follow_redirects=False)


def csrf_of(client: TestClient) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get("/staff").text).group(1)


def test_login_sets_a_strict_httponly_cookie_and_a_wrong_password_does_not(env):
    client, *_ = env
    bad = log_in(client, "not the password")
    assert bad.status_code == 401 and "Wrong username or password." in bad.text
    assert "set-cookie" not in bad.headers
    good = log_in(client)
    cookie = good.headers["set-cookie"].lower()
    assert good.status_code == 303 and "httponly" in cookie and "samesite=strict" in cookie
    assert "Mat 1" in client.get("/staff").text


def test_pages_and_apis_need_a_login(env):
    client, *_ = env
    assert client.get("/staff", follow_redirects=False).headers["location"] == "/staff/login"
    assert client.get("/staff/api/stations").status_code == 401
    assert client.get("/api/v1/history/x/reps").status_code == 401


def test_logins_are_throttled_per_client_until_the_window_passes(env):
    client, _, _, clock = env
    for _ in range(5):
        assert log_in(client, "guess").status_code == 401
    blocked = log_in(client)  # even the right password waits
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert log_in(client, "guess", user="someone-else").status_code == 429  # same address
    clock.t += 301
    assert log_in(client).status_code == 303


def test_a_login_expires(env):
    client, _, _, clock = env
    log_in(client)
    clock.t += 13 * 3600
    assert client.get("/staff/api/stations").status_code == 401


WRITES = [("/staff/stations/{id}/name", {"name": "Renamed"}),
          ("/staff/stations/{id}/mat-region", {"region": "10,20,300,400"}),
          ("/staff/stations/{id}/token", {}),
          ("/staff/stations/{id}/token/revoke", {}),
          ("/staff/stations", {"name": "Mat 9"})]


@pytest.mark.parametrize(("path", "form"), WRITES)
def test_every_write_needs_the_form_token_and_a_same_site_origin(env, path, form):
    client, store, mat, _ = env
    log_in(client)
    before = store.stations()
    url = path.format(id=mat.station_id)
    assert client.post(url, data=form, follow_redirects=False).status_code == 403
    assert client.post(url, data={**form, "csrf": "forged"}, follow_redirects=False).status_code == 403
    foreign = client.post(url, data={**form, "csrf": csrf_of(client)},
                          headers={"Origin": "http://evil.example"}, follow_redirects=False)
    assert foreign.status_code == 403
    assert store.stations() == before
    done = client.post(url, data={**form, "csrf": csrf_of(client)}, follow_redirects=False)
    assert done.status_code in (200, 303)
    assert store.stations() != before


def test_the_mat_region_set_by_staff_reaches_the_station(env):
    client, _, mat, _ = env
    log_in(client)
    for bad in ("1,2,3", "300,20,10,400", "left,top,right,bottom"):
        r = client.post(f"/staff/stations/{mat.station_id}/mat-region",
                        data={"region": bad, "csrf": csrf_of(client)})
        assert r.status_code == 422
    client.post(f"/staff/stations/{mat.station_id}/mat-region", data={"region": "10, 20, 300, 400",
                                                                       "csrf": csrf_of(client)})
    auth = {"Authorization": f"Bearer {mat.token}"}
    reply = client.post("/api/v1/heartbeat", json=heartbeat(), headers=auth)
    assert reply.json()["mat_region"] == [10.0, 20.0, 300.0, 400.0]


def test_history_by_time_range_as_json_and_csv(env):
    client, _, mat, _ = env
    auth = {"Authorization": f"Bearer {mat.token}"}
    reps = [rep_event(rep_index=i, at=1_790_000_000.0 + 60 * i,
                      cue='=HYPERLINK("x")' if i == 2 else "Good rep") for i in range(1, 5)]
    assert client.post("/api/v1/events", json={"events": reps}, headers=auth).status_code == 200
    log_in(client)
    url = f"/api/v1/history/{mat.station_id}/reps"
    window = client.get(url, params={"since": 1_790_000_000.0 + 100, "until": 1_790_000_000.0 + 200}).json()
    assert [r["rep_index"] for r in window["items"]] == [2, 3]
    rows = list(csv.reader(io.StringIO(client.get(url, params={"format": "csv"}).text)))
    assert rows[0] == HISTORY_COLUMNS["reps"] and len(rows) == 5
    assert rows[2][HISTORY_COLUMNS["reps"].index("cue")].startswith("'=")  # no formula in a spreadsheet
    assert client.get(f"/api/v1/history/{mat.station_id}/sets").json() == {"items": [], "count": 0}
    assert client.get("/api/v1/history/st-nope/reps").status_code == 404
    assert client.get(f"/api/v1/history/{mat.station_id}/videos").status_code == 422
