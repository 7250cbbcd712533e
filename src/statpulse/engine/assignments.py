"""Which checks a region's runner must run, read from the store."""

from __future__ import annotations

from statpulse.model import CheckSpec
from statpulse.store.contract import HEARTBEAT_KIND, Store


class StoreAssignments:
    """The in-process assignment source: every unpaused monitor configured for ``region``,
    except heartbeat monitors (they are pinged, never probed)."""

    def __init__(self, store: Store, region: str) -> None:
        self._store = store
        self._region = region

    async def fetch(self) -> list[CheckSpec]:
        monitors = await self._store.monitors_for_region(self._region)
        return [m.spec() for m in monitors if m.config.kind != HEARTBEAT_KIND]
