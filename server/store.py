"""Everything the server keeps, behind one interface (`server/sql_store.py`): SQLite is the embedded
default (`sqlite:///path/to/file.db`, one server process); PostgreSQL (`postgresql://…`,
`server/pg_store.py`) lets several server processes, on one machine or many, share one database.
`open_store` picks one by the URL.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from server import migrations
from server.sql_store import (
    EventConflict,
    Login,
    Row,
    Sql,
    Station,
    Store,
    StoredEvent,
    StoreError,
    StoreUnavailable,
)

__all__ = ["EventConflict", "Login", "SqliteStore", "Station", "Store", "StoreError", "StoreUnavailable",
           "StoredEvent", "open_store"]


class _SqliteSql:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        return self._db.execute(sql, tuple(params)).fetchall()

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._db.execute(sql, tuple(params)).rowcount


class SqliteStore(Store):
    """One connection shared by the server's threads; SQLite serialises writers anyway, and a lock
    keeps a transaction from interleaving with another thread's statements. WAL lets the file be
    read (backups, `sqlite3` shell) while the server writes; synchronous=FULL because an event the
    server acknowledged is deleted from the station's outbox, so it must survive a power cut.
    The live push stays in this process (`server.live`), so one server process per file."""

    dialect = migrations.SQLITE

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._sql = _SqliteSql(self._db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        try:
            self.migrate(str(self.path))
        except sqlite3.Error as exc:
            self._db.close()
            raise StoreError(f"cannot open the database {self.path}: {exc}") from exc
        except StoreError:
            self._db.close()
            raise

    @contextmanager
    def _session(self, transaction: bool = False) -> Iterator[Sql]:
        with self._lock:
            if not transaction:
                yield self._sql
                return
            # IMMEDIATE: take the write lock now, so a read-then-write can't be overtaken.
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._sql
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _lock_schema(self, db: Sql) -> None:
        pass  # BEGIN IMMEDIATE holds the file's write lock already

    def _announce(self, db: Sql, station_id: str) -> None:
        pass  # one server process per file: no one else to tell

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_store(url: str) -> Store:
    """`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`, a plain file path, or
    `postgresql://user:password@host:port/database` (psycopg is imported only then)."""
    if url.startswith("sqlite:///"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from server.pg_store import PostgresStore
        except ImportError as exc:
            raise StoreError(f"a postgresql:// database needs psycopg ({exc}): install matcoach[postgres]"
                             ) from exc
        return PostgresStore(url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise StoreError(f"unsupported database URL scheme {scheme!r}: use sqlite:///path/to/matcoach.db "
                         "or postgresql://user@host/database")
    return SqliteStore(url)
