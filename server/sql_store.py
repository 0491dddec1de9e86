"""The store's interface and its SQL, written once for both databases: stations and their tokens,
events, staff, their login sessions and failed logins. A store (`server/store.py` SQLite,
`server/pg_store.py` PostgreSQL) differs only in how it connects, locks the schema and tells other
server processes what changed; `server.store.open_store` picks one by the URL.

Events are stored as the station sent them (canonical JSON) under (station, event id), so a resend
is recognised byte for byte and an id reused for a different body is refused.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from matcoach.wire import Event, Heartbeat, MatRegion, Registration
from server import migrations


class StoreError(Exception):
    """A store that can't be opened or used: bad URL, unreadable file, a schema from a newer MatCoach."""


class StoreUnavailable(StoreError):
    """The database can't be reached just now (restarting, network); the request may be retried."""


class EventConflict(Exception):
    """An event id the station already used for a different body."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event id {event_id!r} was already stored with a different body")
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    wall_key: str
    created_at: float
    token_id: str | None
    token_hash: str | None
    mat_region: MatRegion | None
    registration: dict | None
    heartbeat: dict | None
    heartbeat_at: float | None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    station_id: str
    id: str
    type: str
    session_id: str | None
    at: float
    received_at: float
    body: dict


@dataclass(frozen=True, slots=True)
class Login:
    username: str
    csrf: str
    expires_at: float


T = TypeVar("T")


class Row(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...


class Sql(Protocol):
    """One connection, inside a store's session. Statements use `?` placeholders."""

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]: ...

    def run(self, sql: str, params: Sequence[object] = ()) -> int: ...


def _canonical(event: Event) -> str:
    return event.model_dump_json()


def _station(row: Row) -> Station:
    region = json.loads(row["mat_region"]) if row["mat_region"] else None
    return Station(
        id=row["id"], name=row["name"], wall_key=row["wall_key"], created_at=row["created_at"],
        token_id=row["token_id"], token_hash=row["token_hash"],
        mat_region=list(region) if region else None,
        registration=json.loads(row["registration"]) if row["registration"] else None,
        heartbeat=json.loads(row["heartbeat"]) if row["heartbeat"] else None,
        heartbeat_at=row["heartbeat_at"],
    )


def _event(row: Row) -> StoredEvent:
    return StoredEvent(station_id=row["station_id"], id=row["id"], type=row["type"],
                       session_id=row["session_id"], at=row["at"], received_at=row["received_at"],
                       body=json.loads(row["body"]))


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


class Store(ABC):
    """The server's storage. Subclasses say how to get a connection (`_session`), how to keep two
    processes from migrating at once (`_lock_schema`) and how to tell the others what changed
    (`_announce`, `change_feed`)."""

    dialect: migrations.Dialect

    @abstractmethod
    def _session(self, transaction: bool = False) -> AbstractContextManager[Sql]:
        """A connection for a few statements; with `transaction`, all of them commit or none do."""

    @abstractmethod
    def _lock_schema(self, db: Sql) -> None:
        """Hold off other processes migrating the same database until this transaction ends."""

    @abstractmethod
    def _announce(self, db: Sql, station_id: str) -> None:
        """Tell other server processes that a station's wall state changed, when this transaction
        commits."""

    def change_feed(self) -> AsyncIterator[str | None] | None:
        """Stations whose wall state another process changed, as they change; None means anything
        may have changed (the feed was interrupted). None instead of a feed: no other process."""
        return None

    @abstractmethod
    def close(self) -> None: ...

    def _run(self, work: Callable[[Sql], T], transaction: bool = False) -> T:
        """`work` in one session. It may be run again on another connection if its connection
        turns out to have been dead before it began (PostgresStore), so it only talks to `db`."""
        with self._session(transaction) as db:
            return work(db)

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._run(lambda db: db.rows(sql, params))

    def _write(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._run(lambda db: db.run(sql, params))

    # --- schema ---------------------------------------------------------------------------------

    def migrate(self, describe: str) -> None:
        """Bring the schema up to this code's version; refuse a database made by a newer one."""
        self._run(lambda db: self._migrate(db, describe), transaction=True)

    def _migrate(self, db: Sql, describe: str) -> None:
        self._lock_schema(db)
        db.run(migrations.VERSION_TABLE.format(real=self.dialect.real))
        found = db.rows("SELECT MAX(version) AS v FROM schema_version")[0]["v"] or 0
        if found > migrations.LATEST:
            raise StoreError(f"the database {describe} has schema version {found}, newer than this "
                             f"MatCoach knows (up to {migrations.LATEST}): run the MatCoach that "
                             "upgraded it, or a newer one")
        for version in range(found + 1, migrations.LATEST + 1):
            for statement in migrations.statements(migrations.MIGRATIONS[version - 1], self.dialect):
                db.run(statement)
            db.run("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                   (version, time.time()))

    def schema_version(self) -> int:
        return self._query("SELECT MAX(version) AS v FROM schema_version")[0]["v"] or 0

    # --- stations -------------------------------------------------------------------------------

    def add_station(self, station_id: str, name: str, wall_key: str, now: float) -> Station:
        self._write("INSERT INTO stations (id, name, wall_key, created_at) VALUES (?, ?, ?, ?)",
                    (station_id, name, wall_key, now))
        station = self.station(station_id)
        assert station is not None
        return station

    def _station_where(self, column: str, value: str) -> Station | None:
        if "\0" in value:  # a key from a URL or a header; none has one, and PostgreSQL text can't
            return None
        rows = self._query(f"SELECT * FROM stations WHERE {column} = ?", (value,))
        return _station(rows[0]) if rows else None

    def station(self, station_id: str) -> Station | None:
        return self._station_where("id", station_id)

    def station_by_wall_key(self, wall_key: str) -> Station | None:
        return self._station_where("wall_key", wall_key)

    def station_by_token_id(self, token_id: str) -> Station | None:
        return self._station_where("token_id", token_id)

    def stations(self) -> list[Station]:
        # Sorted here, not by the database, whose collation for names differs between the two.
        return sorted((_station(r) for r in self._query("SELECT * FROM stations")),
                      key=lambda s: (s.name, s.id))

    def set_token(self, station_id: str, token_id: str | None, token_hash: str | None, now: float) -> bool:
        return self._write(
            "UPDATE stations SET token_id = ?, token_hash = ?, token_issued_at = ? WHERE id = ?",
            (token_id, token_hash, now, station_id)) == 1

    def rename(self, station_id: str, name: str) -> bool:
        def rename(db: Sql) -> bool:
            renamed = db.run("UPDATE stations SET name = ? WHERE id = ?", (name, station_id)) == 1
            if renamed:
                self._announce(db, station_id)  # the name is on the wall screen
            return renamed

        return self._run(rename, transaction=True)

    def set_mat_region(self, station_id: str, region: MatRegion | None) -> bool:
        value = json.dumps(list(region)) if region is not None else None
        return self._write("UPDATE stations SET mat_region = ? WHERE id = ?", (value, station_id)) == 1

    def register(self, station_id: str, registration: Registration, now: float) -> None:
        self._write("UPDATE stations SET registration = ?, registered_at = ? WHERE id = ?",
                    (registration.model_dump_json(), now, station_id))

    def heartbeat(self, station_id: str, beat: Heartbeat, now: float) -> None:
        self._write("UPDATE stations SET heartbeat = ?, heartbeat_at = ? WHERE id = ?",
                    (beat.model_dump_json(), now, station_id))

    # --- events ---------------------------------------------------------------------------------

    def ingest(self, station_id: str, events: list[Event], now: float) -> list[tuple[str, bool]]:
        """Store a batch atomically: (id, newly stored?) per event, or EventConflict and nothing.

        Insert first, compare after: when two server processes take the same event at once, the
        database's unique key lets one insert win and makes the other wait for it, then see its row."""
        def ingest(db: Sql) -> list[tuple[str, bool]]:
            results: list[tuple[str, bool]] = []
            for event in events:
                body = _canonical(event)
                if db.run("INSERT INTO events (station_id, id, type, session_id, at, received_at, body)"
                          " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (station_id, id) DO NOTHING",
                          (station_id, event.id, event.type, event.session_id, event.at, now, body)) == 1:
                    results.append((event.id, True))
                    continue
                (row,) = db.rows("SELECT body FROM events WHERE station_id = ? AND id = ?",
                                 (station_id, event.id))
                if row["body"] != body:
                    raise EventConflict(event.id)
                results.append((event.id, False))
            if any(new for _, new in results):
                self._announce(db, station_id)
            return results

        return self._run(ingest, transaction=True)

    def events(self, station_id: str, kind: str, since: float | None = None,
               until: float | None = None, limit: int = 10_000) -> list[StoredEvent]:
        """Events of one type by station time `at`, oldest first."""
        rows = self._query(
            "SELECT * FROM events WHERE station_id = ? AND type = ? AND at >= ? AND at < ?"
            " ORDER BY at, seq LIMIT ?",
            (station_id, kind, since if since is not None else 0.0,
             until if until is not None else 1e12, limit))
        return [_event(r) for r in rows]

    def latest_event(self, station_id: str, kind: str) -> StoredEvent | None:
        rows = self._query("SELECT * FROM events WHERE station_id = ? AND type = ?"
                           " ORDER BY seq DESC LIMIT 1", (station_id, kind))
        return _event(rows[0]) if rows else None

    def session_events(self, station_id: str, session_id: str, limit: int) -> list[StoredEvent]:
        """The last `limit` events of a member's session, oldest first."""
        rows = self._query("SELECT * FROM events WHERE station_id = ? AND session_id = ?"
                           " ORDER BY seq DESC LIMIT ?", (station_id, session_id, limit))
        return [_event(r) for r in reversed(rows)]

    def count_events(self, kind: str, station_id: str | None = None, received_since: float = 0.0) -> int:
        if station_id is None:
            rows = self._query("SELECT COUNT(*) AS n FROM events WHERE type = ? AND received_at >= ?",
                               (kind, received_since))
        else:
            rows = self._query("SELECT COUNT(*) AS n FROM events WHERE station_id = ? AND type = ?"
                               " AND received_at >= ?", (station_id, kind, received_since))
        return int(rows[0]["n"])

    # --- staff ----------------------------------------------------------------------------------

    def add_staff(self, username: str, password_hash: str, now: float) -> None:
        self._write("INSERT INTO staff (username, password_hash, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                    (username, password_hash, now))

    def staff_password_hash(self, username: str) -> str | None:
        if "\0" in username:  # no staff name has one (admin.add_staff); PostgreSQL text can't
            return None
        rows = self._query("SELECT password_hash FROM staff WHERE username = ?", (username,))
        return rows[0]["password_hash"] if rows else None

    def add_login(self, token_hash: str, username: str, csrf: str, expires_at: float) -> None:
        self._write("INSERT INTO logins (token_hash, username, csrf, expires_at) VALUES (?, ?, ?, ?)",
                    (token_hash, username, csrf, expires_at))

    def login(self, token_hash: str, now: float) -> Login | None:
        rows = self._query(
            "SELECT username, csrf, expires_at FROM logins WHERE token_hash = ? AND expires_at > ?",
            (token_hash, now))
        return Login(rows[0]["username"], rows[0]["csrf"], rows[0]["expires_at"]) if rows else None

    def end_login(self, token_hash: str) -> None:
        self._write("DELETE FROM logins WHERE token_hash = ?", (token_hash,))

    def purge_logins(self, now: float) -> None:
        self._write("DELETE FROM logins WHERE expires_at <= ?", (now,))

    # --- failed logins (server.auth.LoginThrottle) ----------------------------------------------

    def login_failures(self, keys: Sequence[str], since: float) -> dict[str, tuple[int, float]]:
        """Per key with failures after `since`: how many, and when the oldest of them was."""
        rows = self._query(f"SELECT key, COUNT(*) AS n, MIN(at) AS oldest FROM login_failures"
                           f" WHERE key IN ({_marks(keys)}) AND at > ? GROUP BY key", (*keys, since))
        return {r["key"]: (int(r["n"]), r["oldest"]) for r in rows}

    def add_login_failure(self, keys: Iterable[str], now: float, forget_before: float) -> None:
        """Count a failure against each key, and forget failures too old to matter to anyone."""
        def add(db: Sql) -> None:
            db.run("DELETE FROM login_failures WHERE at <= ?", (forget_before,))
            for key in keys:
                db.run("INSERT INTO login_failures (key, at) VALUES (?, ?)", (key, now))

        self._run(add, transaction=True)

    def clear_login_failures(self, keys: Sequence[str]) -> None:
        self._write(f"DELETE FROM login_failures WHERE key IN ({_marks(keys)})", keys)
