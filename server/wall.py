"""The wall screen: a page per station, its state as JSON, and a WebSocket that pushes every change.

The URL carries the station's wall key (random, shown to staff), not its id, so the screens of a gym
can't be enumerated; what they show is anonymous anyway — scores and cues, never video or names.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from server.screen import wall_snapshot
from server.services import Services, services, templates
from server.store import Station, StoreUnavailable

router = APIRouter(tags=["wall screen"])


def _station(svc: Services, wall_key: str) -> Station:
    station = svc.store.station_by_wall_key(wall_key)
    if station is None:
        raise HTTPException(404, "no such wall screen")
    return station


@router.get("/wall/{wall_key}", response_class=HTMLResponse)
def wall_page(wall_key: str, request: Request, svc: Annotated[Services, Depends(services)]) -> HTMLResponse:
    station = _station(svc, wall_key)
    return templates.TemplateResponse(request, "wall.html", {"station": station, "wall_key": wall_key})


@router.get("/wall/{wall_key}/state")
def wall_state(wall_key: str, svc: Annotated[Services, Depends(services)]) -> dict:
    station = _station(svc, wall_key)
    return wall_snapshot(svc.store, station, svc.clock(), svc.settings.rest_after_s)


@router.websocket("/wall/{wall_key}/live")
async def wall_live(websocket: WebSocket, wall_key: str) -> None:
    svc: Services = websocket.app.state.services
    try:
        station = await run_in_threadpool(svc.store.station_by_wall_key, wall_key)
    except StoreUnavailable:
        await websocket.close(code=1013, reason="try again later")  # the screen reconnects by itself
        return
    if station is None:
        await websocket.close(code=4404, reason="no such wall screen")
        return
    await websocket.accept()
    sub = svc.hub.subscribe(station.id)
    # The screen only listens; reading its side is how a closed socket is noticed.
    listener = asyncio.create_task(_drain(websocket))
    try:
        snapshot = await run_in_threadpool(wall_snapshot, svc.store, station, svc.clock(),
                                           svc.settings.rest_after_s)
        await websocket.send_json(snapshot)
        while not listener.done():
            waiter = asyncio.create_task(sub.next())
            done, _ = await asyncio.wait({waiter, listener}, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in done:
                waiter.cancel()
                break
            await websocket.send_json(waiter.result())
    except (WebSocketDisconnect, RuntimeError):
        pass
    except StoreUnavailable:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            await websocket.close(code=1013, reason="try again later")
    finally:
        sub.close()
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
            await listener


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()
