"""What the routers share: the collaborators every route needs (`Services`, hung on the app by the
factory in `server.app`), the page templates, the software version, and the wall screens' live push.
Routers import this module; the app factory imports the routers; nothing here imports either.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.templating import Jinja2Templates

from matcoach import __version__
from server.auth import LoginThrottle
from server.live import LiveHub
from server.screen import wall_snapshot
from server.settings import ServerSettings
from server.store import Store

Clock = Callable[[], float]
HERE = Path(__file__).parent
SOFTWARE_VERSION = __version__
templates = Jinja2Templates(directory=HERE / "templates")


@dataclass
class Services:
    """What every route needs, hung on `app.state.services`."""

    store: Store
    settings: ServerSettings
    clock: Clock
    hub: LiveHub = field(default_factory=LiveHub)
    throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(self.settings.login_attempts, self.settings.login_window_s)


def services(request: Request) -> Services:
    return request.app.state.services


async def push_wall(svc: Services, station_id: str) -> None:
    """Re-read a station's wall state and hand it to its open screens (if any are open)."""
    if not svc.hub.watching(station_id):
        return
    station = await run_in_threadpool(svc.store.station, station_id)
    if station is None:
        return
    snapshot = await run_in_threadpool(wall_snapshot, svc.store, station, svc.clock(),
                                       svc.settings.rest_after_s)
    svc.hub.publish(station_id, snapshot)
