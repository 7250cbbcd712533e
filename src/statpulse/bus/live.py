"""Live updates (in-process pub/sub): state changes fan out to connected page clients.

A slow subscriber never blocks the publisher: its oldest pending event is dropped, which is
harmless because every event makes the client re-read the current state. ``sequence`` counts
the events published, so a reader can tell whether one came after it started reading.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from statpulse.model import Status

MAX_LATEST = 100_000
"""Monitors whose last event ``Broadcaster.latest`` keeps (all are forgotten at this count)."""


@dataclass(frozen=True, slots=True)
class MonitorChanged:
    monitor_id: uuid.UUID
    status: Status
    at: datetime | None = None
    """When the monitor entered ``status`` (the state change's time), if known."""


class Broadcaster:
    def __init__(self, queue_size: int = 64) -> None:
        self._subscribers: set[asyncio.Queue[MonitorChanged]] = set()
        self._queue_size = queue_size
        self.sequence = 0
        """Events published so far (incremented before the subscribers get the event)."""
        self.latest: dict[uuid.UUID, tuple[int, MonitorChanged]] = {}
        """Per monitor, the newest event heard (by ``at``; the later heard when either has no
        time) and the ``sequence`` it was heard at."""

    def publish(self, event: MonitorChanged) -> None:
        self.sequence += 1
        known = self.latest.get(event.monitor_id)
        if known is None or not _older(event, known[1]):
            if len(self.latest) >= MAX_LATEST and known is None:
                self.latest.clear()
            self.latest[event.monitor_id] = (self.sequence, event)
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[MonitorChanged]]:
        queue: asyncio.Queue[MonitorChanged] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


def _older(event: MonitorChanged, than: MonitorChanged) -> bool:
    return event.at is not None and than.at is not None and event.at < than.at
