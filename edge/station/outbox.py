"""The station's durable outbox: every event is on disk before it is sent, and leaves only when the
server has acknowledged it.

SQLite in WAL mode with synchronous=FULL: a rep the screen has shown survives a power cut. Events are
stored as the JSON that goes on the wire, with the id they were given when made, so a resend after a
crash or a lost reply is the same event and the server stores it once.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from matcoach.wire import Event


class OutboxError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Queued:
    seq: int
    event_id: str
    body: str  # the event's JSON, exactly as first queued


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript("""
                CREATE TABLE IF NOT EXISTS outbox (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    event_id TEXT NOT NULL UNIQUE,
                    body TEXT NOT NULL
                );
                -- Events the server refused for good (a bug, not an outage): kept for staff, not resent.
                -- Facts that must survive a restart (a replay's id seed and start time).
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS rejected (
                    seq INTEGER PRIMARY KEY,
                    event_id TEXT NOT NULL,
                    body TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
            """)
        except (sqlite3.Error, OSError) as exc:
            raise OutboxError(f"cannot open the outbox {self.path}: {exc}") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def put(self, events: list[Event]) -> None:
        """Queue events durably, all or none; returns once they are on disk."""
        if not events:
            return
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany("INSERT OR IGNORE INTO outbox (event_id, body) VALUES (?, ?)",
                                     [(e.id, e.model_dump_json()) for e in events])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def peek(self, limit: int) -> list[Queued]:
        with self._lock:
            rows = self._db.execute("SELECT seq, event_id, body FROM outbox ORDER BY seq LIMIT ?",
                                    (limit,)).fetchall()
        return [Queued(*row) for row in rows]

    def ack(self, seqs: list[int]) -> None:
        with self._lock:
            self._db.executemany("DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs])

    def reject(self, item: Queued, reason: str) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR REPLACE INTO rejected (seq, event_id, body, reason)"
                             " VALUES (?, ?, ?, ?)", (item.seq, item.event_id, item.body, reason[:500]))
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (item.seq,))
            self._db.execute("COMMIT")

    def remember(self, key: str, value: str) -> str:
        """The value stored under `key`, storing `value` first if there is none."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0]

    def backlog(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def rejected(self) -> list[tuple[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT event_id, reason FROM rejected ORDER BY seq").fetchall()
        return [(r[0], r[1]) for r in rows]
