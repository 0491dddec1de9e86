"""The store on both databases, SQLite and PostgreSQL, held to the same behaviour: the schema's versions
(an older database upgraded, a newer one refused), exactly once when two stores race for one event,
the history queries, staff, logins, tokens and the login throttle, shared by every store (every server
process) on one database. And: nothing of PostgreSQL is imported for a SQLite store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from matcoach.wire import RepEvent
from server import admin, migrations
from server.app import create_app
from server.auth import hash_secret
from server.store import EventConflict, Store, StoreError, open_store
from tests.servers import STAFF_PASSWORD, STAFF_USER, provision, rep_event, settings_for_tests

T0 = 1_790_000_000.0


def raw_sql(database: str, statements: list[str]) -> None:
    """Run SQL on the database behind the store's back, as an older MatCoach (or a newer one) did."""
    if "://" not in database:
        db = sqlite3.connect(database)
        with db:
            for statement in statements:
                db.execute(statement)
        db.close()
        return
    import psycopg

    with psycopg.connect(database, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def rep(index: int = 1, session: str = "s1", **fields: object) -> RepEvent:
    return RepEvent.model_validate(rep_event(session_id=session, rep_index=index, **fields))


@pytest.fixture
def store(database):
    s = open_store(database)
    yield s
    s.close()


@pytest.fixture
def station(store):
    return admin.add_station(store, "Mat 1", T0)[0]


# --- the schema's versions ------------------------------------------------------------------------

def test_a_database_from_before_the_throttle_was_shared_is_upgraded_and_keeps_its_data(database):
    dialect = migrations.POSTGRES if "://" in database else migrations.SQLITE
    version_1 = migrations.statements(migrations.MIGRATIONS[0], dialect)
    if dialect is migrations.POSTGRES:
        version_1 += [migrations.VERSION_TABLE.format(real=dialect.real),
                      "INSERT INTO schema_version VALUES (1, 0)"]
    # (SQLite files made before the schema was versioned have no schema_version table at all.)
    raw_sql(database, [*version_1,
                       "INSERT INTO stations (id, name, wall_key, created_at)"
                       " VALUES ('st-1', 'Old mat', 'k1', 1)",
                       "INSERT INTO events (station_id, id, type, at, received_at, body)"
                       " VALUES ('st-1', 'e1', 'rep', 5, 5, '{}')"])
    store = open_store(database)
    try:
        assert store.schema_version() == migrations.LATEST == 2
        assert store.station("st-1").name == "Old mat" and store.count_events("rep") == 1
        store.add_login_failure(["ip:1"], T0, forget_before=0)  # the table version 2 added
        assert store.login_failures(["ip:1"], 0) == {"ip:1": (1, T0)}
    finally:
        store.close()
    store = open_store(database)  # and opening it again changes nothing
    try:
        assert store.schema_version() == 2 and store.count_events("rep") == 1
    finally:
        store.close()


def test_a_database_from_a_newer_matcoach_is_refused_with_one_line(database, store):
    store.close()
    raw_sql(database, ["INSERT INTO schema_version (version, applied_at) VALUES (99, 0)"])
    with pytest.raises(StoreError, match="schema version 99, newer than this MatCoach knows"):
        open_store(database)
    out = subprocess.run([sys.executable, "-m", "matcoach", "server", "--db", database, "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("matcoach: error:") and out.stderr.strip().count("\n") == 0
    assert "schema version 99" in out.stderr and "Traceback" not in out.stderr


def test_stores_opened_at_once_on_a_fresh_database_migrate_it_once(database):
    opened: list[Store] = []
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            opened.append(open_store(database))
        except BaseException as exc:  # the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors and len(opened) == 4
        versions = opened[0]._query("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in versions] == list(range(1, migrations.LATEST + 1))
    finally:
        for s in opened:
            s.close()


# --- exactly once ---------------------------------------------------------------------------------

def race(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads released at the same instant; their results (or exceptions)."""
    start = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_two_stores_taking_the_same_event_at_once_store_it_once(database, store, station):
    other = open_store(database)  # another server process's store
    try:
        for i in range(20):
            event = rep(i + 1)
            results = race(lambda e=event: store.ingest(station.id, [e], T0),
                           lambda e=event: other.ingest(station.id, [e], T0))
            assert sorted(results) == [[(event.id, False)], [(event.id, True)]], results
            # The same id with another body at once: one is stored, the other is a conflict.
            a = rep(100 + i, score=10)
            b = RepEvent.model_validate({**a.model_dump(mode="json"), "score": 11})
            results = race(lambda e=a: store.ingest(station.id, [e], T0),
                           lambda e=b: other.ingest(station.id, [e], T0))
            assert sum(isinstance(r, EventConflict) for r in results) == 1, results
            assert [(a.id, True)] in results
        assert store.count_events("rep") == 40 and other.count_events("rep") == 40
    finally:
        other.close()


def test_a_batch_with_a_conflict_stores_none_of_it(store, station):
    first = rep(1)
    store.ingest(station.id, [first], T0)
    changed = RepEvent.model_validate({**first.model_dump(mode="json"), "cue": "another cue"})
    with pytest.raises(EventConflict):
        store.ingest(station.id, [rep(2), changed, rep(3)], T0)
    assert store.count_events("rep") == 1
    assert store.ingest(station.id, [first, rep(4)], T0)[0] == (first.id, False)


# --- history and the wall's reads -----------------------------------------------------------------

def test_the_history_queries_answer_alike(store, station):
    events = [rep(i + 1, at=T0 + 10 * i) for i in range(5)] + [rep(1, session="s2", at=T0 - 100)]
    store.ingest(station.id, events[:3], T0)
    store.ingest(station.id, events[3:], T0 + 50)
    by_time = store.events(station.id, "rep")
    assert [e.id for e in by_time] == [events[5].id] + [e.id for e in events[:5]]  # by station time
    assert [e.id for e in store.events(station.id, "rep", since=T0 + 10, until=T0 + 30)] == \
        [events[1].id, events[2].id]
    assert len(store.events(station.id, "rep", limit=2)) == 2
    assert store.latest_event(station.id, "rep").id == events[5].id  # by arrival
    assert store.latest_event(station.id, "mat") is None
    assert [e.id for e in store.session_events(station.id, "s1", 2)] == [events[3].id, events[4].id]
    stored = store.events(station.id, "rep", since=T0, until=T0 + 1)[0]
    assert stored.body == json.loads(events[0].model_dump_json()) and stored.received_at == T0
    assert stored.at == T0  # to the microsecond: a REAL in PostgreSQL would round it to minutes
    assert store.count_events("rep") == 6
    assert store.count_events("rep", station.id, received_since=T0 + 50) == 3
    assert store.count_events("rep", "st-nobody") == 0


def test_stations_tokens_and_settings(store, station):
    assert store.station(station.id).name == "Mat 1" and store.station("st-none") is None
    assert store.station_by_wall_key(station.wall_key).id == station.id
    token_id = store.station(station.id).token_id
    assert store.station_by_token_id(token_id).id == station.id
    admin.revoke_token(store, station.id, T0)
    assert store.station_by_token_id(token_id) is None and store.station(station.id).token_hash is None
    assert store.rename(station.id, "Mat 1 — front") and not store.rename("st-none", "x")
    assert store.set_mat_region(station.id, (1.5, 2.0, 300.0, 400.25))
    assert store.station(station.id).mat_region == [1.5, 2.0, 300.0, 400.25]
    for name in ("mat 3", "Mat 10", "Mat 2", "Zed"):
        admin.add_station(store, name, T0)
    # Code-point order, the same whatever the database's collation.
    assert [s.name for s in store.stations()] == ["Mat 1 — front", "Mat 10", "Mat 2", "Zed", "mat 3"]
    assert store.station("st-\0") is None and store.station_by_wall_key("\0") is None


def test_staff_and_their_logins(store):
    store.add_staff("sam", "scrypt$old", T0)
    store.add_staff("sam", "scrypt$new", T0)
    assert store.staff_password_hash("sam") == "scrypt$new" and store.staff_password_hash("nobody") is None
    assert store.staff_password_hash("sam\0") is None
    store.add_login("h1", "sam", "csrf1", T0 + 60)
    store.add_login("h2", "sam", "csrf2", T0 + 10)
    assert store.login("h1", T0).csrf == "csrf1" and store.login("h1", T0 + 60) is None
    store.purge_logins(T0 + 30)
    assert store.login("h2", T0) is None and store.login("h1", T0) is not None
    store.end_login("h1")
    assert store.login("h1", T0) is None


# --- the throttle and the sessions, across server processes -----------------------------------------

class Clock:
    t = T0

    def __call__(self) -> float:
        return self.t


def test_the_login_throttle_and_sessions_hold_across_apps_on_one_database(database):
    provision(database, ["Mat 1"])
    clock = Clock()
    stores = [open_store(database), open_store(database)]
    clients = [TestClient(create_app(s, settings_for_tests(database, login_attempts=3, login_window_s=60.0),
                                     clock=clock)) for s in stores]

    def log_in(client: TestClient, password: str = "a guess") -> int:
        return client.post("/staff/login", data={"username": STAFF_USER, "password": password},
                           follow_redirects=False).status_code

    try:
        for c in clients:
            c.__enter__()
        a, b = clients
        # A guesser spreads the guesses over both processes: they count together.
        assert [log_in(a), log_in(b), log_in(a)] == [401, 401, 401]
        assert log_in(b, STAFF_PASSWORD) == 429 and log_in(a, STAFF_PASSWORD) == 429
        clock.t += 61
        assert log_in(a, STAFF_PASSWORD) == 303
        # The session made by one process is a session on the other.
        b.cookies.update(a.cookies)
        assert b.get("/staff/api/stations").status_code == 200
        login = stores[1].login(hash_secret(b.cookies["mc_staff"]), clock.t)
        assert a.post("/staff/logout", data={"csrf": login.csrf}, follow_redirects=False).status_code == 303
        assert b.get("/staff/api/stations").status_code == 401  # and ending it ends it everywhere
    finally:
        for c in clients:
            c.__exit__(None, None, None)
        for s in stores:
            s.close()


def test_old_failures_are_forgotten_by_the_database_too(store):
    store.add_login_failure(["ip:a", "user:x"], T0, forget_before=T0 - 300)
    store.add_login_failure(["ip:b"], T0 + 400, forget_before=T0 + 100)
    assert store.login_failures(["ip:a", "user:x", "ip:b"], 0) == {"ip:b": (1, T0 + 400)}
    store.clear_login_failures(["ip:b"])
    assert store.login_failures(["ip:b"], 0) == {}


# --- nothing of PostgreSQL for SQLite -------------------------------------------------------------

def test_a_sqlite_server_imports_nothing_of_postgresql(tmp_path):
    code = f"""
import sys
from fastapi.testclient import TestClient
from server.app import create_app
from server.auth import hash_secret
from server.main import serve
from server.store import open_store
store = open_store("sqlite:///{tmp_path / 'm.db'}")
with TestClient(create_app(store)) as client:
    assert client.get("/api/v1/health").status_code == 200
store.close()
loaded = sorted(m for m in sys.modules if "psycopg" in m or m == "server.pg_store")
assert not loaded, loaded
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
