"""Running the server and the admin commands behind `matcoach server`. Imports nothing heavy at module
level: the CLI asks it for its error types even on a station that has no web stack installed."""

from __future__ import annotations

import contextlib
import math
import resource
import time
from typing import TYPE_CHECKING

from server import admin
from server.settings import ServerSettings, SettingsError
from server.store import StoreError, open_store

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

USER_ERRORS: tuple[type[Exception], ...] = (SettingsError, StoreError, admin.AdminError)


def uvicorn_config(app: FastAPI, settings: ServerSettings) -> uvicorn.Config:
    """How uvicorn serves the app, for `matcoach server` and the demo alike."""
    import uvicorn

    from server.connections import with_slow_client_deadline

    # Forwarded headers only from the configured proxies: uvicorn's default trusts them from 127.0.0.1,
    # that is from any program on the server's own machine. Idle connections are kept as long as the
    # slow-client deadline allows: a station posts every few seconds, and a connection closed by the
    # server just as the station sends on it fails that request.
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                          timeout_keep_alive=math.ceil(settings.slow_client_timeout_s),
                          http=with_slow_client_deadline(settings.slow_client_timeout_s),
                          proxy_headers=bool(settings.trusted_proxies),
                          forwarded_allow_ips=settings.trusted_proxies or None, ws_max_size=64 * 1024)


def serve(settings: ServerSettings) -> None:
    import uvicorn

    from server.app import create_app

    allow_many_connections()
    store = open_store(settings.database_url)
    app = create_app(store, settings)
    print(f"matcoach server on http://{settings.host}:{settings.port}  (status page /staff, "
          f"database {settings.database_url})", flush=True)
    try:
        uvicorn.Server(uvicorn_config(app, settings)).run()  # an address it cannot bind: exit 3, said why
    finally:
        store.close()


def allow_many_connections() -> None:
    """Every station keeps a connection open and every wall screen a WebSocket: a gym chain's share of
    a thousand mats needs more than the usual soft limit of 1024 open files, so take what the hard
    limit allows (systemd's LimitNOFILE sets that one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else hard  # the kernel caps an unlimited one
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):  # what the server has must do, then
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def add_station(settings: ServerSettings, name: str) -> tuple[str, str, str]:
    store = open_store(settings.database_url)
    try:
        station, token = admin.add_station(store, name, time.time())
        return station.id, f"/wall/{station.wall_key}", token
    finally:
        store.close()


def add_staff(settings: ServerSettings, username: str, password: str) -> None:
    store = open_store(settings.database_url)
    try:
        admin.add_staff(store, username, password, time.time(), settings.password_cost)
    finally:
        store.close()
