"""In-process bus (the embedded default): an asyncio queue with back-pressure."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from statpulse.model import CheckResult

_CLOSED = None


class MemoryBus:
    def __init__(self, max_batches: int = 1000) -> None:
        self._queue: asyncio.Queue[Sequence[CheckResult] | None] = asyncio.Queue(max_batches)

    async def publish(self, batch: Sequence[CheckResult]) -> None:
        if batch:
            await self._queue.put(batch)

    async def batches(self) -> AsyncIterator[Sequence[CheckResult]]:
        while (batch := await self._queue.get()) is not _CLOSED:
            yield batch

    async def close(self) -> None:
        await self._queue.put(_CLOSED)
