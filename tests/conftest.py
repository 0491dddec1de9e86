"""Fixtures shared by the tests that run the real server process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import LiveServer, provision, write_server_config


@pytest.fixture
def gym(tmp_path):
    """A gym with one station, "Mat 1": its server (not started yet), the station, the database."""
    db = tmp_path / "server.db"
    (mat,) = provision(db, ["Mat 1"])
    server = LiveServer(db, write_server_config(tmp_path / "server.toml"))
    yield server, mat, db
    server.stop()


@pytest.fixture(scope="session")
def pg_cluster():
    """One throwaway PostgreSQL cluster for the whole run, started the first time a test needs it."""
    from tests.postgres import Cluster, PostgresMissing

    try:
        cluster = Cluster().start()
    except PostgresMissing as exc:
        pytest.fail(str(exc))
    yield cluster
    cluster.remove()


DATABASES = ["sqlite", "postgresql"]


@contextmanager
def new_database(request: pytest.FixtureRequest, kind: str, tmp_dir: Path) -> Iterator[str]:
    """A fresh SQLite file's path, or an empty PostgreSQL database's URL (emptied again after)."""
    if kind == "sqlite":
        yield str(tmp_dir / "matcoach.db")
        return
    cluster = request.getfixturevalue("pg_cluster")
    url = cluster.new_database()
    yield url
    cluster.recycle(url)


@pytest.fixture(params=DATABASES)
def database(request, tmp_path) -> Iterator[str]:
    """Where the test's server keeps its data, once on each database the server supports."""
    with new_database(request, request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="module", params=DATABASES)
def module_database(request, tmp_path_factory) -> Iterator[str]:
    """`database`, shared by a module's tests."""
    with new_database(request, request.param, tmp_path_factory.mktemp("db")) as url:
        yield url
