"""Running the server and the admin commands behind `matcoach server`. Imports nothing heavy at module
level: the CLI asks it for its error types even on a station that has no web stack installed."""

from __future__ import annotations

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
    # that is from any program on the server's own machine.
    return uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                          http=with_slow_client_deadline(settings.slow_client_timeout_s),
                          proxy_headers=bool(settings.trusted_proxies),
                          forwarded_allow_ips=settings.trusted_proxies or None, ws_max_size=64 * 1024)


def serve(settings: ServerSettings) -> None:
    import uvicorn

    from server.app import create_app

    store = open_store(settings.database_url)
    app = create_app(store, settings)
    print(f"matcoach server on http://{settings.host}:{settings.port}  (status page /staff, "
          f"database {settings.database_url})", flush=True)
    try:
        uvicorn.Server(uvicorn_config(app, settings)).run()  # an address it cannot bind: exit 3, said why
    finally:
        store.close()


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
