"""Live push to the wall screens: the newest snapshot per station, handed to every open socket.

Latest-wins rather than a queue: a screen that falls behind (slow Wi-Fi, a busy browser) skips to the
current state instead of replaying stale ones, and a stuck socket can't make the server hold memory.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Subscription:
    def __init__(self, hub: LiveHub, station_id: str) -> None:
        self._hub = hub
        self.station_id = station_id
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    async def next(self) -> dict:
        await self._changed.wait()
        self._changed.clear()
        return self._hub.latest[self.station_id]

    def close(self) -> None:
        self._hub._subscribers[self.station_id].discard(self)


class LiveHub:
    def __init__(self) -> None:
        self.latest: dict[str, dict] = {}
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)

    def watching(self, station_id: str) -> bool:
        return bool(self._subscribers.get(station_id))

    def watched(self) -> list[str]:
        return [station_id for station_id, subs in self._subscribers.items() if subs]

    def subscribe(self, station_id: str) -> Subscription:
        sub = Subscription(self, station_id)
        self._subscribers[station_id].add(sub)
        return sub

    def publish(self, station_id: str, snapshot: dict) -> None:
        """Call from the event loop's thread."""
        self.latest[station_id] = snapshot
        for sub in self._subscribers.get(station_id, ()):
            sub.notify()
