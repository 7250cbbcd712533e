"""The configured regions of monitors, for the runner API's check that an upload's results
belong to the uploading region (``RunnerApi._allowed``), cached so that an upload costs no
query: the check was one of the few statements between a result's arrival and its live update
(bench/check_to_page.py).

Only a yes can be stale. A monitor unknown here, or cached without the uploading region, is
asked about again, so a monitor or region just added is never refused. An entry is dropped on a
committed write of this process to ``monitors`` (not the evaluation's status writes, which
change no region) and after ``TTL_S``: a monitor deleted, or a region removed, through another
process keeps its results from that region accepted for up to ``TTL_S``, as results already in
flight at the change always could be (the evaluator ignores results of a region a monitor no
longer has).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from statpulse.store.sql import SqlStore
from statpulse.store.sql_monitors import STATUS_WRITES
from statpulse.store.write_watch import watch_committed_writes

TTL_S = 5.0
MAX_ENTRIES = 100_000
"""Monitors remembered at most (all are forgotten at this count)."""


class MonitorRegions:
    def __init__(
        self, store: SqlStore, *, ttl_s: float = TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl, self._clock = ttl_s, clock
        self._cache: dict[uuid.UUID, tuple[float, frozenset[str]]] = {}
        self._generation = 0
        self._stop: Callable[[], None] | None = None
        self.queries = 0
        """Store queries made (a miss of one or more monitors is one query)."""

    def watch(self) -> None:
        """Drop everything on this process's committed writes to ``monitors`` (until
        ``close``)."""
        if self._stop is None:
            self._stop = watch_committed_writes(
                self._store.engine.sync_engine,
                frozenset({"monitors"}),
                self.invalidate,
                ignoring=STATUS_WRITES,
            )

    def close(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def invalidate(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def allowed(self, monitor_ids: set[uuid.UUID], region: str) -> set[uuid.UUID]:
        """Those of ``monitor_ids`` that exist and are configured for ``region``."""
        now = self._clock()
        allowed: set[uuid.UUID] = set()
        ask: list[uuid.UUID] = []
        for monitor_id in monitor_ids:
            hit = self._cache.get(monitor_id)
            if hit is not None and now - hit[0] <= self._ttl and region in hit[1]:
                allowed.add(monitor_id)
            else:
                ask.append(monitor_id)
        if ask:
            generation = self._generation
            found = await self._store.monitor_regions(ask)
            self.queries += 1
            if generation == self._generation:  # no write committed meanwhile
                if len(self._cache) + len(found) > MAX_ENTRIES:
                    self._cache.clear()
                for monitor_id, regions in found.items():
                    self._cache[monitor_id] = (now, frozenset(regions))
            allowed.update(m for m, regions in found.items() if region in regions)
        return allowed
