"""Ingest: store a batch durably, then hand it to evaluation."""

from __future__ import annotations

from collections.abc import Sequence

from statpulse.bus.base import ResultBus
from statpulse.metrics import Metrics
from statpulse.model import CheckResult
from statpulse.store.contract import Store


class Ingest:
    def __init__(self, store: Store, bus: ResultBus, metrics: Metrics) -> None:
        self._store = store
        self._bus = bus
        self._metrics = metrics

    async def accept(self, batch: Sequence[CheckResult]) -> int:
        """Store ``batch`` (idempotent on result id) and publish it; returns the new-row count.

        Returning means the batch is durably stored: the caller may acknowledge it.
        """
        inserted = await self._store.add_results(batch)
        self._metrics.results_ingested.inc(inserted)
        await self._bus.publish(batch)
        return inserted
