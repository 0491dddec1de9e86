"""The FastAPI app factory. It takes its collaborators — the store, the settings and a clock — so
tests, the benchmark and `matcoach server` build the same app around different parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server import api, staff, wall
from server.services import HERE, SOFTWARE_VERSION, Clock, Services, follow_changes
from server.settings import ServerSettings
from server.store import Store, StoreUnavailable


class BodyLimit:
    """Refuse bodies over the limit with 413 before any of them reaches a parser: by the declared
    length when there is one, by counting when the client streams (chunked) without one."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and not declared.isdigit():
            await self._refuse(send, 400, "Content-Length is not a number")
            return
        if declared is not None and (len(declared) > 18 or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, status: int = 413, detail: str = "") -> None:
        detail = detail or f"request body over {self.max_bytes} bytes"
        response = JSONResponse({"detail": detail}, status_code=status)
        await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
        await send({"type": "http.response.body", "body": response.body})


def _clip(value: object, limit: int) -> object:
    return value[:limit] + "…" if isinstance(value, str) and len(value) > limit else value


def _error(e: dict) -> dict:
    # Pydantic puts some of the input into an error: an unknown field's name or a dict key in `loc`,
    # an unknown discriminator tag in `msg` (and its ctx). Clip those so the input isn't echoed back.
    msg = str(e.get("msg", ""))
    for value in (e.get("ctx") or {}).values():
        if isinstance(value, str) and len(value) > 40:
            msg = msg.replace(value, str(_clip(value, 40)))
    return {"loc": [_clip(p, 40) for p in e.get("loc", ())], "msg": _clip(msg, 300),
            "type": e.get("type", "")}


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    # Name the fields, never echo the (possibly huge or hostile) input back.
    return JSONResponse({"detail": [_error(e) for e in exc.errors()[:20]]}, status_code=422)


async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
    # A station keeps its events and tries again; nothing was stored, or it will be told `duplicate`.
    return JSONResponse({"detail": "the database is unavailable; try again shortly"}, status_code=503,
                        headers={"Retry-After": "1"})


@contextlib.asynccontextmanager
async def _following_changes(app: FastAPI) -> AsyncIterator[None]:
    """While the app runs, listen for changes made by the other server processes on its database."""
    svc: Services = app.state.services
    feed = svc.store.change_feed()
    task = asyncio.create_task(follow_changes(svc, feed)) if feed is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_app(store: Store, settings: ServerSettings | None = None, clock: Clock = time.time) -> FastAPI:
    settings = settings or ServerSettings()
    app = FastAPI(title="MatCoach server", version=SOFTWARE_VERSION, lifespan=_following_changes)
    app.state.services = Services(store=store, settings=settings, clock=clock)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, _unavailable)  # type: ignore[arg-type]
    body_errors: dict[int | str, dict] = {400: {"description": "the body is not JSON"},
                                          413: {"description": "the body is over the size limit"}}
    app.include_router(api.router, responses=body_errors)
    app.include_router(staff.router, responses=body_errors)
    app.include_router(wall.router, responses={404: {"description": "no such wall screen"}})
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
