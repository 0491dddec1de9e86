"""The station-facing API: registration, heartbeats and events, each behind the station's bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from matcoach.wire import (
    API_PREFIX,
    BatchResult,
    EventBatch,
    EventResult,
    Heartbeat,
    Registration,
    StationConfig,
)
from server.auth import split_token, token_matches
from server.services import SOFTWARE_VERSION, Services, push_wall, services
from server.store import EventConflict, Station

_bearer = HTTPBearer(auto_error=False)

UNAUTHORIZED = {401: {"description": "missing, malformed, unknown or revoked station token"}}


def _unauthorized() -> HTTPException:
    return HTTPException(401, "invalid or revoked station token", headers={"WWW-Authenticate": "Bearer"})


def _station_of(svc: Services, credentials: HTTPAuthorizationCredentials | None) -> Station:
    if credentials is None:
        raise _unauthorized()
    parts = split_token(credentials.credentials)
    if parts is None:
        raise _unauthorized()
    token_id, secret = parts
    station = svc.store.station_by_token_id(token_id)
    if not token_matches(secret, station.token_hash if station else None) or station is None:
        raise _unauthorized()
    return station


def authenticated_station(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Station:
    """The station whose token came with the request: on this router checked already, before the body
    was read (`_TokenFirst`); on any other, here."""
    checked = getattr(request.state, "station", None)
    return checked if checked is not None else _station_of(svc, credentials)


class _TokenFirst(APIRoute):
    """Endpoints that need a station's token check it before FastAPI reads the body. FastAPI parses JSON
    before it runs dependencies, so a broken body with a wrong token would be answered 422: a station
    whose token was revoked would be told its JSON is bad, and a stranger's bytes would be parsed."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()
        if not any(d.call is authenticated_station for d in self.dependant.dependencies):
            return handler

        async def checked(request: Request) -> Response:
            station = await run_in_threadpool(_station_of, services(request), await _bearer(request))
            request.state.station = station
            return await handler(request)

        return checked


router = APIRouter(prefix=API_PREFIX, tags=["station"], route_class=_TokenFirst)
StationDep = Annotated[Station, Depends(authenticated_station)]
ServicesDep = Annotated[Services, Depends(services)]


def _config(station: Station) -> StationConfig:
    return StationConfig(station_id=station.id, name=station.name, mat_region=station.mat_region)


@router.get("/health", tags=["server"])
def health() -> dict:
    return {"status": "ok", "version": SOFTWARE_VERSION}


@router.post("/register", responses=UNAUTHORIZED)
def register(body: Registration, station: StationDep, svc: ServicesDep) -> StationConfig:
    svc.store.register(station.id, body, svc.clock())
    return _config(station)


@router.post("/heartbeat", responses=UNAUTHORIZED)
def heartbeat(body: Heartbeat, station: StationDep, svc: ServicesDep) -> StationConfig:
    svc.store.heartbeat(station.id, body, svc.clock())
    return _config(station)


@router.post("/events", responses={**UNAUTHORIZED, 409: {"description": "an id reused for a different body"}})
async def events(body: EventBatch, station: StationDep, svc: ServicesDep, request: Request) -> BatchResult:
    """Store a batch of events, each exactly once. Resending a stored event (same id, same body)
    succeeds again as `duplicate`; an id reused for a different body fails the whole batch with 409."""
    try:
        stored = await run_in_threadpool(svc.store.ingest, station.id, list(body.events), svc.clock())
    except EventConflict as exc:
        return JSONResponse({"detail": str(exc), "id": exc.event_id}, status_code=409)  # type: ignore[return-value]
    if any(new for _, new in stored):
        await push_wall(svc, station.id)
    return BatchResult(results=[EventResult(id=i, status="stored" if new else "duplicate")
                                for i, new in stored])
