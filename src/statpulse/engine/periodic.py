"""A background task that runs a coroutine every N seconds (the first run at start) until
stopped; a failing run is logged and the next one comes on schedule."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from statpulse.tasks import cancel_and_wait

log = structlog.get_logger(__name__)


class Periodic:
    def __init__(self, name: str, interval_s: float, run: Callable[[], Awaitable[object]]) -> None:
        self._name = name
        self._interval_s = interval_s
        self._run = run
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                await self._run()
            except Exception:
                log.exception(f"{self._name} failed")
            await asyncio.sleep(self._interval_s)
