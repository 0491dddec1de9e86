"""What the routers share: the collaborators every route needs (`Services`, hung on the app by the
factory in `server.app`), the page templates, the software version, and the wall screens' live push.
Routers import this module; the app factory imports the routers; nothing here imports either.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
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
from server.store import Store, StoreUnavailable

Clock = Callable[[], float]
HERE = Path(__file__).parent
SOFTWARE_VERSION = __version__
templates = Jinja2Templates(directory=HERE / "templates")
log = logging.getLogger("matcoach.server")


@dataclass
class Services:
    """What every route needs, hung on `app.state.services`."""

    store: Store
    settings: ServerSettings
    clock: Clock
    hub: LiveHub = field(default_factory=LiveHub)
    throttle: LoginThrottle = field(init=False)
    # Stations whose wall state is being read now; True if it changed again meanwhile.
    pushing: dict[str, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.throttle = LoginThrottle(self.store, self.settings.login_attempts, self.settings.login_window_s)


def services(request: Request) -> Services:
    return request.app.state.services


async def push_wall(svc: Services, station_id: str) -> None:
    """Re-read a station's wall state and hand it to its open screens (if any are open). A database
    that can't be read just now leaves the screens as they are: the next change, or the change feed
    coming back, brings them up to date."""
    if not svc.hub.watching(station_id):
        return
    if station_id in svc.pushing:
        # One read at a time per station, then one more if anything changed meanwhile: two reads
        # at once could finish out of order and leave the screens on the older state.
        svc.pushing[station_id] = True
        return
    svc.pushing[station_id] = False
    try:
        while True:
            try:
                snapshot = await run_in_threadpool(_snapshot, svc, station_id)
            except StoreUnavailable as exc:
                log.warning("wall screens of %s not updated: %s", station_id, exc)
                return
            if snapshot is not None:
                svc.hub.publish(station_id, snapshot)
            if not svc.pushing[station_id]:
                return
            svc.pushing[station_id] = False
    finally:
        del svc.pushing[station_id]


def _snapshot(svc: Services, station_id: str) -> dict | None:
    station = svc.store.station(station_id)
    if station is None:
        return None
    return wall_snapshot(svc.store, station, svc.clock(), svc.settings.rest_after_s)


async def follow_changes(svc: Services, feed: AsyncIterator[str | None]) -> None:
    """Push what other server processes changed to the screens this one serves. Each push is a task
    of its own, so a slow read for one station doesn't hold up the notices about the others."""
    pushing: set[asyncio.Task] = set()
    async for changed in feed:
        for station_id in svc.hub.watched() if changed is None else [changed]:
            if svc.hub.watching(station_id):
                task = asyncio.create_task(push_wall(svc, station_id))
                pushing.add(task)
                task.add_done_callback(pushing.discard)
