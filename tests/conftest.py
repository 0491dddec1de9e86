"""Fixtures shared by the tests that run the real server process, and how the run is shared out between
parallel workers (pytest-xdist: `-n 2 --dist loadfile` in pyproject.toml's addopts)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.servers import LiveServer, provision, write_server_config

# --- running in parallel --------------------------------------------------------------------------------
# A module's tests run together, in order, on one worker (`--dist loadfile`): many share what a module's
# fixture or cache made once (held-out sessions scored, clips analysed, a fleet of SSH hosts). The
# deployment modules are one unit: both build releases from the working tree, where two builds at once
# would share build/ and matcoach.egg-info.
SAME_WORKER = {"tests/test_deploy_lint.py": "tests/test_deploy.py"}
# Work is handed out in collection order, so the longest modules go first and the short ones fill in
# around them (roughly longest first; the rest keep their order).
LONGEST_FIRST = [
    "tests/test_deploy.py", "tests/test_deploy_lint.py", "tests/test_accuracy.py", "tests/test_station.py",
    "tests/test_back_bench.py", "tests/test_footage_clips.py", "tests/test_rep_duration_property.py",
    "tests/test_bench.py", "tests/test_classifier.py",
]


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {module: i for i, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_module(item.nodeid), len(rank)))  # stable: a module stays in order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class ModuleScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = _module(nodeid)
            return SAME_WORKER.get(module, module)

    return ModuleScheduling(config, log)


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
