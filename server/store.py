"""Everything the server keeps, behind one class: stations and their tokens, events, staff and their
login sessions. SQLite is the embedded default (`sqlite:///path/to/file.db`); another database is
one more class with these methods, chosen by the URL scheme in `open_store`.

Events are stored as the station sent them (canonical JSON) under (station, event id), so a resend
is recognised byte for byte and an id reused for a different body is refused.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from matcoach.wire import Event, Heartbeat, MatRegion, Registration

SCHEMA = """
CREATE TABLE IF NOT EXISTS stations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    wall_key TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    token_id TEXT UNIQUE,
    token_hash TEXT,
    token_issued_at REAL,
    mat_region TEXT,
    registration TEXT,
    registered_at REAL,
    heartbeat TEXT,
    heartbeat_at REAL
);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    station_id TEXT NOT NULL REFERENCES stations(id),
    id TEXT NOT NULL,
    type TEXT NOT NULL,
    session_id TEXT,
    at REAL NOT NULL,
    received_at REAL NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (station_id, id)
);
CREATE INDEX IF NOT EXISTS events_by_time ON events (station_id, type, at);
CREATE INDEX IF NOT EXISTS events_by_session ON events (station_id, session_id, seq);
CREATE INDEX IF NOT EXISTS events_latest ON events (station_id, type, seq);
CREATE INDEX IF NOT EXISTS events_by_arrival ON events (station_id, type, received_at);
CREATE TABLE IF NOT EXISTS staff (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS logins (
    token_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL REFERENCES staff(username),
    csrf TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


class StoreError(Exception):
    """A store that can't be opened or used: bad URL, unreadable file."""


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


def _canonical(event: Event) -> str:
    return event.model_dump_json()


def _station(row: sqlite3.Row) -> Station:
    region = json.loads(row["mat_region"]) if row["mat_region"] else None
    return Station(
        id=row["id"], name=row["name"], wall_key=row["wall_key"], created_at=row["created_at"],
        token_id=row["token_id"], token_hash=row["token_hash"],
        mat_region=list(region) if region else None,
        registration=json.loads(row["registration"]) if row["registration"] else None,
        heartbeat=json.loads(row["heartbeat"]) if row["heartbeat"] else None,
        heartbeat_at=row["heartbeat_at"],
    )


def _event(row: sqlite3.Row) -> StoredEvent:
    return StoredEvent(station_id=row["station_id"], id=row["id"], type=row["type"],
                       session_id=row["session_id"], at=row["at"], received_at=row["received_at"],
                       body=json.loads(row["body"]))


class SqliteStore:
    """One connection shared by the server's threads; SQLite serialises writers anyway, and a lock
    keeps a transaction from interleaving with another thread's statements. WAL lets the file be
    read (backups, `sqlite3` shell) while the server writes; synchronous=FULL because an event the
    server acknowledged is deleted from the station's outbox, so it must survive a power cut."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _query(self, sql: str, params: Iterable = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _write(self, sql: str, params: Iterable = ()) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(params)).rowcount

    # --- stations -------------------------------------------------------------------------------

    def add_station(self, station_id: str, name: str, wall_key: str, now: float) -> Station:
        self._write("INSERT INTO stations (id, name, wall_key, created_at) VALUES (?, ?, ?, ?)",
                    (station_id, name, wall_key, now))
        station = self.station(station_id)
        assert station is not None
        return station

    def station(self, station_id: str) -> Station | None:
        rows = self._query("SELECT * FROM stations WHERE id = ?", (station_id,))
        return _station(rows[0]) if rows else None

    def station_by_wall_key(self, wall_key: str) -> Station | None:
        rows = self._query("SELECT * FROM stations WHERE wall_key = ?", (wall_key,))
        return _station(rows[0]) if rows else None

    def station_by_token_id(self, token_id: str) -> Station | None:
        rows = self._query("SELECT * FROM stations WHERE token_id = ?", (token_id,))
        return _station(rows[0]) if rows else None

    def stations(self) -> list[Station]:
        return [_station(r) for r in self._query("SELECT * FROM stations ORDER BY name, id")]

    def set_token(self, station_id: str, token_id: str | None, token_hash: str | None, now: float) -> bool:
        return self._write(
            "UPDATE stations SET token_id = ?, token_hash = ?, token_issued_at = ? WHERE id = ?",
            (token_id, token_hash, now, station_id)) == 1

    def rename(self, station_id: str, name: str) -> bool:
        return self._write("UPDATE stations SET name = ? WHERE id = ?", (name, station_id)) == 1

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
        """Store a batch atomically: (id, newly stored?) per event, or EventConflict and nothing."""
        results: list[tuple[str, bool]] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for event in events:
                    body = _canonical(event)
                    row = self._db.execute("SELECT body FROM events WHERE station_id = ? AND id = ?",
                                           (station_id, event.id)).fetchone()
                    if row is not None:
                        if row["body"] != body:
                            raise EventConflict(event.id)
                        results.append((event.id, False))
                        continue
                    self._db.execute(
                        "INSERT INTO events (station_id, id, type, session_id, at, received_at, body)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (station_id, event.id, event.type, event.session_id, event.at, now, body))
                    results.append((event.id, True))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return results

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
            rows = self._query("SELECT COUNT(*) FROM events WHERE type = ? AND received_at >= ?",
                               (kind, received_since))
        else:
            rows = self._query("SELECT COUNT(*) FROM events WHERE station_id = ? AND type = ?"
                               " AND received_at >= ?", (station_id, kind, received_since))
        return int(rows[0][0])

    # --- staff ----------------------------------------------------------------------------------

    def add_staff(self, username: str, password_hash: str, now: float) -> None:
        self._write("INSERT INTO staff (username, password_hash, created_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                    (username, password_hash, now))

    def staff_password_hash(self, username: str) -> str | None:
        rows = self._query("SELECT password_hash FROM staff WHERE username = ?", (username,))
        return rows[0][0] if rows else None

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


Store = SqliteStore


def open_store(url: str) -> Store:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, or a plain file path."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreError(f"unsupported database URL scheme {scheme!r}: this build stores in SQLite "
                         "(sqlite:///path/to/matcoach.db)")
    return SqliteStore(url)
