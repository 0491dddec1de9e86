"""Fixtures shared by the tests that run the real server process."""

from __future__ import annotations

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
