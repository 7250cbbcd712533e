"""The incident side's periodic work, and the maintenance check the evaluator asks.

``IncidentJobs`` runs every ``interval_s`` in one process per installation:
- drafts whose organisation turned auto-publishing on are published once their delay passed
  (``store.auto_publish_due_drafts``), so time to public update stays bounded at night;
- a monitor ``down`` for at least its ``confirm_s`` (a confirmation window) is announced
  (``announce``: the evaluator's draft and alert, both idempotent, so a second look or a second
  process adds nothing);
- each maintenance window's starts and ends within the last ``lookback`` are queued in the
  outbox as ``maintenance.started`` / ``maintenance.ended``. The group key is the window, the
  transition and its occurrence, so looking at the same instant twice (overlapping lookbacks,
  a restart, several processes) queues each message once per channel.

``covered`` tells whether a monitor is covered, at an instant, by an active window of one of
its components: the evaluator then holds its alerts and draft incidents back (planned work is
not an outage).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import structlog

from statpulse.engine.maintenance import active, transitions
from statpulse.engine.periodic import Periodic
from statpulse.engine.subscriber_news import notify_maintenance, notify_subscribers
from statpulse.model import (
    MAX_CONFIRM_S,
    CheckResult,
    Component,
    Monitor,
    RegionState,
    StateChange,
    Status,
    utcnow,
)
from statpulse.notify.dispatcher import message_doc
from statpulse.notify.message import Message
from statpulse.store.contract import Store
from statpulse.store.sql_maintenance import Maintenance

log = structlog.get_logger(__name__)
# Evaluator.announce: tell people about a change (draft incident and alert), idempotently.
Announce = Callable[
    [Monitor, StateChange, Sequence[CheckResult], Sequence[RegionState]], Awaitable[None]
]


def covered(
    monitor: Monitor, now: datetime, windows: Sequence[Maintenance], components: Sequence[Component]
) -> bool:
    """Pure: whether one of ``windows`` (the organisation's) active at ``now`` lists one of
    ``components`` (the organisation's) that shows ``monitor``."""
    listed = {c for m in windows if active(m.window, now) for c in m.components}
    return bool(listed) and any(c.id in listed and c.monitor_id == monitor.id for c in components)


class IncidentJobs:
    def __init__(
        self,
        store: Store,
        *,
        interval_s: float = 5.0,
        lookback: timedelta = timedelta(minutes=10),
        clock: Callable[[], datetime] = utcnow,
        announce: Announce | None = None,
    ) -> None:
        self._announce_change = announce
        self._store = store
        self._lookback = lookback
        self._clock = clock
        self._periodic = Periodic("incident jobs", interval_s, self.run_once)

    async def run_once(self) -> tuple[int, int]:
        """(drafts published, maintenance messages queued)."""
        now = self._clock()
        published = await self._store.auto_publish_due_drafts(now)
        orgs = await self._store.list_orgs()
        for incident_id in published:
            log.info("draft incident auto-published", incident=str(incident_id))
            for org in orgs:  # the id alone does not say whose it is
                if incident := await self._store.get_incident(org.id, incident_id):
                    await notify_subscribers(self._store, incident, "incident.opened", now)
        queued = 0
        for org in orgs:
            for m in await self._store.list_maintenances(org.id):
                queued += await self._announce(m, now)
        if self._announce_change is not None:
            await self._confirm(now)
        return len(published), queued

    async def _confirm(self, now: datetime) -> None:
        """Announce the downs that have lasted their monitor's ``confirm_s``."""
        assert self._announce_change is not None
        since = now - self._lookback - timedelta(seconds=MAX_CONFIRM_S)
        for monitor in await self._store.unconfirmed_downs(since):
            wait = timedelta(seconds=monitor.config.confirm_s)
            changed = monitor.status_changed_at
            if changed is None or now - changed < wait or now - changed > wait + self._lookback:
                continue  # not yet confirmed, or announced long ago
            last = await self._store.state_changes(monitor.id, 1)
            if last and last[0].to_status is Status.DOWN:
                recent = await self._store.recent_results(monitor.id, 10)
                states = await self._store.region_states([monitor.id])
                await self._announce_change(monitor, last[0], recent, states)

    async def _announce(self, m: Maintenance, now: datetime) -> int:
        queued = 0
        for tr in transitions(m.window, now - self._lookback, now):
            start, end = tr.occurrence
            event = f"maintenance.{tr.kind.value}"
            message = Message(
                id="",
                event=event,
                title=f"Maintenance {tr.kind.value}: {m.title}",
                text=m.body or m.title,
                occurred_at=tr.at,
                severity="none",
                status="in_progress" if tr.kind.value == "started" else "completed",
            )
            key = f"maint:{m.id}:{tr.kind.value}:{start.isoformat()}:{end.isoformat()}"
            queued += await self._store.enqueue(m.org_id, event, key, message_doc(message), now)
            queued += await notify_maintenance(
                self._store, m, message, key, now, occurrence=tr.occurrence
            )
        return queued

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
