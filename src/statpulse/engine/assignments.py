"""Which checks a region's runner must run, read from the store."""

from __future__ import annotations

from statpulse.model import CheckSpec
from statpulse.store.contract import Store


class StoreAssignments:
    """The in-process assignment source: every unpaused monitor configured for ``region``."""

    def __init__(self, store: Store, region: str) -> None:
        self._store = store
        self._region = region

    async def fetch(self) -> list[CheckSpec]:
        return [m.spec() for m in await self._store.monitors_for_region(self._region)]
