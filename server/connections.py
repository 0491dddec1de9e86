"""uvicorn's HTTP protocol with a deadline for each request's headers and body.

uvicorn closes a connection idle after a response (`timeout_keep_alive`), but waits for a request for
ever: a client that connects and says nothing, or sends its headers or its body a byte at a time
(slowloris), holds its connection, and a few hundred such clients hold every file descriptor the server
has, so stations and staff can no longer connect. This closes a connection on which no request's
headers have arrived for a whole `timeout_s`, or whose request's body is still arriving after one. A
request whose body is in is never cut, however long its answer takes, and neither is a WebSocket (the
wall screens), which has left this protocol by then.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.auto import AutoHTTPProtocol


def with_slow_client_deadline(timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol class (httptools or h11, as it chooses), with the deadlines."""

    class SlowClientDeadline(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            # The request (uvicorn's cycle) seen at the last check: None, before the first one.
            self._seen = None
            self._check = asyncio.get_running_loop().call_later(timeout_s, self._deadline)

        def _deadline(self) -> None:
            transport = self.transport
            if transport.is_closing() or transport.get_protocol() is not self:  # closed, or a WebSocket now
                return
            cycle = self.cycle  # the latest request whose headers arrived
            waiting = cycle is None or cycle.response_complete or cycle.more_body
            if waiting and cycle is self._seen:
                # A whole period without a new request's headers, while none was being answered or the
                # last one's body was still arriving.
                transport.close()
                return
            self._seen = cycle
            self._check = asyncio.get_running_loop().call_later(timeout_s, self._deadline)

        def connection_lost(self, exc: Exception | None) -> None:
            self._check.cancel()
            super().connection_lost(exc)

    return SlowClientDeadline
