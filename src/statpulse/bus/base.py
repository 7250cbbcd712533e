"""The result bus: ingest publishes stored batches, evaluators consume them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from statpulse.model import CheckResult


class ResultBus(Protocol):
    async def publish(self, batch: Sequence[CheckResult]) -> None:
        """Hand a durably stored batch to the evaluators."""

    def batches(self) -> AsyncIterator[Sequence[CheckResult]]:
        """Batches in publication order, until the bus is closed."""

    async def close(self) -> None: ...
