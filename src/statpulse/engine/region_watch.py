"""Tells operators when a region's runners fall silent (and when they are back).

Every ``interval_s`` it reads the runners' last health reports; a region none of whose runners
reported within ``regions.SILENT_AFTER`` is unhealthy: one error line in the log and the gauge
``statpulse_region_healthy{region}`` at 0, once per transition, and a ``region.unhealthy``
alert queued in the outbox of every organisation with monitors in that region (their operators'
channels), never a customer incident (the quorum already leaves the region's stale results out).
The alert's group key is the region's last report time, so however many workers or restarts see
one silence, each channel gets one message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog

from statpulse.engine.periodic import Periodic
from statpulse.engine.regions import unhealthy_regions
from statpulse.metrics import Metrics
from statpulse.model import utcnow
from statpulse.notify.dispatcher import message_doc
from statpulse.notify.message import Message
from statpulse.store.contract import Store

log = structlog.get_logger(__name__)


class RegionWatch:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        interval_s: float = 5.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._clock = clock
        self._periodic = Periodic("region watch", interval_s, self.check)
        self.unhealthy: set[str] = set()

    async def check(self) -> tuple[set[str], set[str]]:
        """One look: (regions newly unhealthy, regions healthy again)."""
        reports = await self._store.runner_health()
        regions = {h.region for h in reports}
        now_unhealthy = unhealthy_regions(
            ((h.region, h.last_seen_at) for h in reports), self._clock()
        )
        went, back = now_unhealthy - self.unhealthy, self.unhealthy - now_unhealthy
        last_seen: dict[str, datetime] = {}
        for h in reports:
            last_seen[h.region] = max(h.last_seen_at, last_seen.get(h.region, h.last_seen_at))
        for region in sorted(went):
            log.error("region unhealthy: its runners stopped reporting", region=region)
            await self._alert(region, last_seen[region])
        for region in sorted(back):
            log.info("region healthy again", region=region)
        for region in regions:
            self._metrics.region_healthy.labels(region=region).set(region not in now_unhealthy)
        self.unhealthy = now_unhealthy
        return went, back

    async def _alert(self, region: str, last_seen: datetime) -> None:
        now = self._clock()
        message = Message(
            id="",
            event="region.unhealthy",
            title=f"Region {region} is not reporting",
            text=(
                f"No runner of region {region} has reported since "
                f"{last_seen:%Y-%m-%d %H:%M:%S} UTC. Its results are left out of every quorum "
                "until it reports again; customers see no incident for it."
            ),
            occurred_at=now,
            severity="major",
            status="unhealthy",
            regions=(region,),
        )
        orgs = {m.org_id for m in await self._store.monitors_for_region(region)}
        for org_id in sorted(orgs):
            await self._store.enqueue(
                org_id,
                message.event,
                f"region:{region}:{last_seen.isoformat()}",
                message_doc(message),
                now,
            )

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
