"""The station → server link: drains the outbox oldest first, and posts registration and heartbeats.

An event leaves the outbox only when the server acknowledged it. While the server can't be reached
(or answers 5xx, or refuses the token) the link waits with exponential backoff and jitter, so a
fleet coming back after an outage doesn't hit the server in lockstep. Only an event the server
refuses for good (its id reused for another body, or a body it can never accept) is set aside, so
one bad event can't block every later rep.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import httpx

from edge.station.outbox import Outbox, Queued
from matcoach.wire import API_PREFIX, MAX_BATCH, Heartbeat, Registration, StationConfig


class LinkDown(Exception):
    """The server can't take events now; try again later."""


class Uplink:
    def __init__(self, server_url: str, token: str, outbox: Outbox, *, batch: int = 50,
                 timeout_s: float = 5.0, backoff_s: tuple[float, float] = (0.5, 30.0),
                 rng: Callable[[], float] = random.random,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.outbox = outbox
        self.batch = min(batch, MAX_BATCH)
        self.backoff_s = backoff_s
        self.rng = rng
        self.last_error: str | None = None
        self.config: StationConfig | None = None
        self._client = httpx.Client(base_url=server_url.rstrip("/") + API_PREFIX, timeout=timeout_s,
                                    headers={"Authorization": f"Bearer {token}"}, transport=transport)

    def close(self) -> None:
        self._client.close()

    # --- events ---------------------------------------------------------------------------------

    def send_pending(self) -> int:
        """Post queued events until the outbox is empty; returns how many were acknowledged.
        Raises LinkDown when the server can't take them now."""
        sent = 0
        size = self.batch
        while items := self.outbox.peek(size):
            status, answer = self._post_batch(items)
            if status == 200:
                acked = {r["id"] for r in answer.get("results", [])}
                self.outbox.ack([i.seq for i in items if i.event_id in acked])
                sent += len(acked)
                size = self.batch
            elif status == 409:
                bad = next((i for i in items if i.event_id == answer.get("id")), items[0])
                self.outbox.reject(bad, f"409: {answer.get('detail', '')}")
            elif status in (413, 422) and len(items) > 1:
                size = max(1, len(items) // 2)  # narrow down to the one event the server refuses
            elif status in (413, 422):
                self.outbox.reject(items[0], f"{status}: {str(answer.get('detail', ''))[:400]}")
            elif status in (401, 403):
                raise LinkDown("the server refused this station's token (revoked or wrong?)")
            else:
                raise LinkDown(f"the server answered {status}")
        self.last_error = None
        return sent

    def _post_batch(self, items: list[Queued]) -> tuple[int, dict]:
        # The queued JSON goes out byte for byte as it was first made.
        body = '{"events": [' + ", ".join(i.body for i in items) + "]}"
        return self._post("/events", body)

    def _post(self, path: str, body: str) -> tuple[int, dict]:
        try:
            r = self._client.post(path, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise LinkDown(f"server unreachable: {exc.__class__.__name__}: {exc}") from exc
        try:
            answer = r.json()
        except ValueError:
            answer = {}
        return r.status_code, answer if isinstance(answer, dict) else {}

    # --- registration and heartbeats ------------------------------------------------------------

    def _station_call(self, path: str, body: str) -> StationConfig:
        status, answer = self._post(path, body)
        if status != 200:
            raise LinkDown(f"{path} answered {status}: {str(answer.get('detail', ''))[:200]}")
        self.config = StationConfig.model_validate(answer)
        return self.config

    def register(self, registration: Registration) -> StationConfig:
        return self._station_call("/register", registration.model_dump_json())

    def heartbeat(self, beat: Heartbeat) -> StationConfig:
        return self._station_call("/heartbeat", beat.model_dump_json())

    # --- the sending loop -----------------------------------------------------------------------

    def delay_s(self, failures: int) -> float:
        """Backoff after `failures` failed attempts in a row: doubling, capped, with full jitter
        over its upper half."""
        low, cap = self.backoff_s
        ceiling = min(cap, low * 2 ** max(0, failures - 1))
        return ceiling / 2 + self.rng() * ceiling / 2

    def run(self, stop: threading.Event, wake: threading.Event, idle_s: float = 1.0) -> None:
        """Send until `stop`. `wake` is set by whoever queues an event, so it goes out at once, and it
        also cuts a backoff short (a station about to exit asks for one last try)."""
        failures = 0
        while not stop.is_set():
            try:
                self.send_pending()
                failures = 0
                wait = idle_s
            except LinkDown as exc:
                failures += 1
                self.last_error = str(exc)
                wait = self.delay_s(failures)
            deadline = time.monotonic() + wait
            while not stop.is_set() and not wake.is_set() and time.monotonic() < deadline:
                stop.wait(min(0.2, wait))
            wake.clear()
