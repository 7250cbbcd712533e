"""Batches results and hands them to the control plane; a failed send is retried, not lost.

In-process, ``send`` is the engine's ingest. (The durable on-disk spool for remote runners
comes with the regions work.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import structlog

from statpulse.metrics import Metrics
from statpulse.model import CheckResult

log = structlog.get_logger(__name__)

Send = Callable[[Sequence[CheckResult]], Awaitable[object]]


class Uploader:
    def __init__(
        self,
        send: Send,
        metrics: Metrics,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        max_backoff_s: float = 30.0,
    ) -> None:
        self._send = send
        self._metrics = metrics
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._max_backoff_s = max_backoff_s
        self._buffer: deque[CheckResult] = deque()
        self._full = asyncio.Event()

    @property
    def pending(self) -> int:
        return len(self._buffer)

    def submit(self, result: CheckResult) -> None:
        self._buffer.append(result)
        if len(self._buffer) >= self._batch_size:
            self._full.set()

    async def run(self) -> None:
        """Send batches until cancelled (then flush what is left with one last try)."""
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._flush_interval_s):
                        await self._full.wait()
                self._full.clear()
                await self._drain(retry=True)
        finally:
            if self._buffer:
                await asyncio.shield(self._drain(retry=False))

    async def _drain(self, *, retry: bool) -> None:
        backoff = 0.1
        while self._buffer:
            batch = [self._buffer[i] for i in range(min(self._batch_size, len(self._buffer)))]
            try:
                await self._send(batch)
            except Exception:
                self._metrics.upload_errors.inc()
                log.exception("result upload failed; will retry", batch_size=len(batch))
                if not retry:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            for _ in batch:
                self._buffer.popleft()
