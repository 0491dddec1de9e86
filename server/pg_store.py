"""The store on PostgreSQL (psycopg 3 and its connection pool), for a fleet: several server processes,
on one machine or many, sharing one database. Imported only for a `postgresql://` URL.

What SQLite gets from being in one process, this gets from the database: two processes taking the
same event at once meet at the events' unique key (`Store.ingest`); migrations wait on an advisory
lock; and a change to a station's wall state is announced with NOTIFY in the transaction that made
it, so every other process hears of it when it commits, and pushes it to the screens it serves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from server import migrations
from server.sql_store import Row, Sql, Store, StoreError, StoreUnavailable, T

CHANNEL = "matcoach_wall"
# Any number of our own, as long as it is the same in every process: serialises migrations.
SCHEMA_LOCK = 0x6D61_7463  # "matc"
CONNECT_TIMEOUT_S = 5
# A request waits this long for a connection before it is answered 503 (stations retry); longer
# than any query, shorter than a station's own request timeout.
POOL_WAIT_S = 3.0
POOL_SIZE = (2, 16)
# The listener checks its connection this often when nothing is said on it, so a connection that
# died without a word (a cable, a firewall) is noticed and replaced.
LISTEN_PROBE_S = 5.0
RECONNECT_S = (0.1, 2.0)

log = logging.getLogger("matcoach.server")


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    return sql.replace("?", "%s")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def redacted(url: str) -> str:
    return re.sub(r"://([^:@/]*):[^@/]*@", r"://\1:***@", url)


class _Stale(StoreUnavailable):
    """A pooled connection that was dead before this session used it: nothing was done on it."""


class _PgSql:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.used = False  # has a statement gone through on this connection in this session?

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[Row]:
        rows = self.conn.execute(_placeholders(sql), tuple(params)).fetchall()
        self.used = True
        return rows

    def run(self, sql: str, params: Sequence[object] = ()) -> int:
        count = self.conn.execute(_placeholders(sql), tuple(params)).rowcount
        self.used = True
        return count


class PostgresStore(Store):
    dialect = migrations.POSTGRES

    def __init__(self, url: str) -> None:
        self.url = url
        self.describe = redacted(url)
        # Tells this process's own announcements from the others' (it has pushed its own already).
        self._origin = secrets.token_hex(6)
        try:
            with psycopg.connect(url, autocommit=True, row_factory=dict_row,
                                 connect_timeout=CONNECT_TIMEOUT_S) as conn:
                self._connection: Callable[[], AbstractContextManager[psycopg.Connection]] = \
                    lambda: nullcontext(conn)
                self.migrate(self.describe)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the database {self.describe}: {_one_line(exc)}") from exc
        self._pool: ConnectionPool = ConnectionPool(
            url, min_size=POOL_SIZE[0], max_size=POOL_SIZE[1], open=False, name="matcoach",
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT_S},
            timeout=POOL_WAIT_S)
        self._pool.open()
        self._connection = self._pool.connection

    def _run(self, work: Callable[[Sql], T], transaction: bool = False) -> T:
        # Connections waiting in the pool across a database restart are dead, and only using one
        # tells (checking each before use would cost a round trip on every query): one that fails
        # before doing anything is dropped by the pool, and the work goes to the next.
        for _ in range(POOL_SIZE[1]):
            try:
                return super()._run(work, transaction)
            except _Stale:
                continue
        return super()._run(work, transaction)

    @contextmanager
    def _session(self, transaction: bool = False) -> Iterator[Sql]:
        sql: _PgSql | None = None
        try:
            with self._connection() as conn:
                sql = _PgSql(conn)
                if not transaction:
                    yield sql
                    return
                with conn.transaction():
                    sql.used = True  # BEGIN went through
                    yield sql
        except (psycopg.OperationalError, PoolTimeout) as exc:
            stale = sql is not None and not sql.used and sql.conn.broken
            unavailable = _Stale if stale else StoreUnavailable
            raise unavailable(f"the database {self.describe} is unavailable: {_one_line(exc)}") from exc

    def _lock_schema(self, db: Sql) -> None:
        db.rows("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))

    def _announce(self, db: Sql, station_id: str) -> None:
        # Station ids are short; NOTIFY's payload limit (8000 bytes) is far off.
        db.rows("SELECT pg_notify(?, ?)", (CHANNEL, f"{self._origin} {station_id}"))

    def close(self) -> None:
        self._pool.close()

    async def _changes(self) -> AsyncIterator[str | None]:
        delay = RECONNECT_S[0]
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if delay > RECONNECT_S[0]:
                        log.warning("listening to %s again", self.describe)
                    delay = RECONNECT_S[0]
                    yield None  # whatever changed while nobody listened
                    while True:
                        async for note in conn.notifies(timeout=LISTEN_PROBE_S):
                            origin, _, station_id = note.payload.partition(" ")
                            if origin != self._origin:
                                yield station_id
                        await conn.execute("SELECT 1")
            except psycopg.OperationalError as exc:
                if delay == RECONNECT_S[0]:
                    log.warning("lost the change feed from %s: %s; reconnecting", self.describe,
                                _one_line(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_S[1])

    def change_feed(self) -> AsyncIterator[str | None]:
        return self._changes()
