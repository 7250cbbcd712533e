"""The evaluation loop: stored result batches -> region states -> monitor states -> change rows."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from statpulse.bus.base import ResultBus
from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.engine.dependencies import roots
from statpulse.engine.evaluate import quorum, stale_after, step
from statpulse.engine.flapping import FlapEventKind, FlapPolicy, FlapState, observe
from statpulse.engine.incident_jobs import covered
from statpulse.engine.latency_window import LatencyPolicy, LatencyWindow
from statpulse.engine.latency_window import evaluate as latency_verdict
from statpulse.engine.narrative import Draft, Evidence, draft
from statpulse.engine.narrative_llm import Rewritten
from statpulse.engine.outcomes import alert_message, evidence, flapping_message
from statpulse.metrics import Metrics
from statpulse.model import (
    CheckResult,
    Component,
    Evaluation,
    Monitor,
    RegionState,
    StateChange,
    Status,
    new_id,
    utcnow,
)
from statpulse.notify.dispatcher import message_doc
from statpulse.store.contract import Store
from statpulse.store.sql_maintenance import Maintenance

log = structlog.get_logger(__name__)
# The optional model rewrite of a draft's text (engine/narrative_llm.py), session bound.
Rewrite = Callable[[Draft, Evidence], Awaitable[Rewritten]]
_EPSILON = timedelta(microseconds=1)  # the window includes results stamped exactly now
MAX_ANCESTORS = 20  # a deeper chain of parents is cut there
FLAP_HISTORY = 50  # stored changes replayed to tell whether a monitor is flapping
ANNOUNCE_BACKLOG = 64  # batches of changes waiting to be announced before evaluation waits
# Announcing a batch starts this long after its changes were published, so that the page
# clients' reads of the new state (1-3 ms on a quiet machine) have the event loop and the
# database first. Drafts and alerts are for people: 10 ms is noise to them. Longer would make
# the announcements' writes meet the next results' ingest more often (one SQLite writer).
ANNOUNCE_DELAY_S = 0.01


class Evaluator:
    def __init__(
        self,
        store: Store,
        bus: ResultBus,
        live: Broadcaster,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        flap_policy: FlapPolicy | None = None,
        rewrite: Rewrite | None = None,
    ) -> None:
        self._rewrite = rewrite
        self._rewrites: set[asyncio.Task[None]] = set()
        self._flap_policy = flap_policy or FlapPolicy()
        self._store = store
        self._bus = bus
        self._live = live
        self._metrics = metrics
        self._clock = clock

    async def run(self) -> None:
        """Consume batches until the bus closes; a failing batch is logged, not fatal.

        A batch's changes are stored and published to live pages first; announcing them
        (``announce``: maintenance, parent and flapping checks, the draft incident, the
        alerts) is queued to one task that runs behind, in order, starting at least
        ``ANNOUNCE_DELAY_S`` after the publication so that the page clients' reads of the new
        state go first. At most ``ANNOUNCE_BACKLOG`` batches wait there (then evaluation
        waits too); what is queued is announced before ``run`` returns, unless it is cancelled.

        A process that dies after storing a change and before announcing it loses that
        announcement, as when announcing ran inline (a replayed batch re-evaluates to no
        change); a down with a confirmation window is announced from the stored rows by
        ``IncidentJobs`` either way. Announcing twice adds nothing (see ``announce``).
        """
        queue: asyncio.Queue[tuple[float, Announcements] | None] = asyncio.Queue()
        room = asyncio.Semaphore(ANNOUNCE_BACKLOG)
        worker = asyncio.create_task(self._announce_queued(queue, room), name="announcements")
        try:
            async for batch in self._bus.batches():
                try:
                    pending = await self.evaluate(batch)
                except Exception:
                    log.exception("evaluation failed", batch_size=len(batch))
                    continue
                if pending.changes:
                    await room.acquire()
                    queue.put_nowait((time.monotonic(), pending))
            queue.put_nowait(None)  # the bus closed: announce what is queued, then end
            await asyncio.shield(worker)
        finally:
            if not worker.done():  # cancelled: what is queued stays unannounced
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    async def _announce_queued(
        self, queue: asyncio.Queue[tuple[float, Announcements] | None], room: asyncio.Semaphore
    ) -> None:
        while (item := await queue.get()) is not None:
            published, pending = item
            try:
                if (wait := published + ANNOUNCE_DELAY_S - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                await self.announce_all(pending)
            except Exception:
                log.exception("announcing changes failed", changes=len(pending.changes))
            finally:
                room.release()

    async def process(self, batch: Sequence[CheckResult]) -> list[StateChange]:
        """Apply a batch and announce its changes; returns the monitor state changes it
        caused (already stored, published and announced)."""
        pending = await self.evaluate(batch)
        await self.announce_all(pending)
        return list(pending.changes)

    async def evaluate(self, batch: Sequence[CheckResult]) -> Announcements:
        """Apply a batch: store the new region and monitor states and the change rows, then
        publish each change to live pages. Returns what is left to announce (the changes,
        with the monitors and region states they were decided on); nothing is announced."""
        ids = list({r.monitor_id for r in batch})
        now = self._clock()
        monitors: Mapping[uuid.UUID, Monitor] = {}
        decided: list[tuple[list[RegionState], Evaluation]] = []

        async def decide(
            live: Mapping[uuid.UUID, Monitor], stored: list[RegionState]
        ) -> Evaluation:
            nonlocal monitors
            monitors = live
            slow = await self._latency_degraded(live.values(), now)
            current = {monitor_id: m.status for monitor_id, m in live.items()}
            outcome = _evaluate(batch, live, current, stored, now, slow)
            decided.append((stored, outcome))
            return outcome

        # The read-modify-write of region states runs under the monitors' row locks, so two
        # workers with results of the same monitor never interleave (nor lose a streak); the
        # monitors themselves are read there too (one query, and their config as of the lock).
        outcome = await self._store.evaluate_locked(ids, decide)
        changes = list(outcome.changes)
        for change in changes:  # pages first: nothing else is on their path
            self._live.publish(MonitorChanged(change.monitor_id, change.to_status, change.at))
        for change in changes:
            self._metrics.state_changes.labels(to=change.to_status.value).inc()
            log.info(
                "monitor state changed",
                monitor_id=str(change.monitor_id),
                from_status=change.from_status.value,
                to_status=change.to_status.value,
                reason=change.reason,
            )
        # The region states the changes were decided on (stored ones, updated by the batch):
        # the alert quotes them, even when it is sent after the next batch changed them.
        regional: dict[uuid.UUID, list[RegionState]] = {}
        if changes and decided:
            stored, last = decided[-1]
            merged = {(s.monitor_id, s.region): s for s in stored}
            merged.update({(s.monitor_id, s.region): s for s in last.region_states})
            for state in merged.values():
                regional.setdefault(state.monitor_id, []).append(state)
        return Announcements(tuple(changes), monitors, tuple(batch), regional)

    async def announce_all(self, pending: Announcements) -> None:
        """Announce every change of ``pending`` in order (``announce``), sharing the store
        reads of maintenance windows and parent monitors between them. A down awaiting its
        confirmation window is left to ``IncidentJobs`` (``engine/incident_jobs.py``)."""
        lookups = Lookups(self._store)
        for change in pending.changes:
            monitor = pending.monitors[change.monitor_id]
            states = pending.region_states.get(change.monitor_id, [])
            if change.to_status is Status.DOWN and monitor.config.confirm_s > 0:
                log.info("down awaits confirmation", monitor_id=str(monitor.id))
                continue
            await self.announce(monitor, change, pending.batch, states, lookups)

    async def announce(
        self,
        monitor: Monitor,
        change: StateChange,
        batch: Sequence[CheckResult],
        states: Sequence[RegionState],
        lookups: Lookups | None = None,
    ) -> None:
        """Tell people about ``change``: the customers' draft incident and the operators'
        alert, unless maintenance, a down parent or flapping holds it back. Idempotent: the
        draft is one per outage and the alert one per change per channel. ``lookups`` shares
        store reads between the changes of one batch."""
        lookups = lookups or Lookups(self._store)
        if await lookups.under_maintenance(monitor, change.at):
            log.info("change held back: maintenance", monitor_id=str(monitor.id))
        elif (root := await self._failing_root(monitor, change, lookups)) is not None:
            log.info(
                "change folded into its parent's outage", monitor_id=str(monitor.id), root=str(root)
            )
        elif (flap := await self._flapping(monitor, change)).flapping and not flap.started:
            # One alert said it is flapping; each flip would open or resolve a draft.
            log.info("flip not alerted: flapping", monitor_id=str(monitor.id))
        else:
            await self._incident(monitor, change, evidence(monitor, change, batch, states))
            await self._alert(monitor, change, states, flap)

    async def _failing_root(
        self, monitor: Monitor, change: StateChange, lookups: Lookups
    ) -> uuid.UUID | None:
        """For a change into a problem: the down ancestor this monitor's outage folds into
        (``engine/dependencies.py``), or None. Recovery is never folded: it resolves what the
        monitor's own outage opened, if anything."""
        if change.to_status is Status.UP or monitor.config.depends_on is None:
            return None
        parents: dict[uuid.UUID, uuid.UUID | None] = {monitor.id: monitor.config.depends_on}
        failing = {monitor.id}
        node: uuid.UUID | None = monitor.config.depends_on
        while node is not None and node not in parents and len(parents) < MAX_ANCESTORS:
            found = await lookups.monitor(node)
            if found is None or found.status is not Status.DOWN:
                break
            failing.add(node)
            parent: uuid.UUID | None = found.config.depends_on
            parents[node] = parent
            node = parent
        root = roots(failing, parents)[monitor.id]
        return None if root == monitor.id else root

    async def _latency_degraded(self, monitors: Iterable[Monitor], now: datetime) -> set[uuid.UUID]:
        """Monitors with latency thresholds whose P95/P99 over the sliding window (stored ok
        results, every region) is above them (``engine/latency_window.py``; a monitor already
        degraded recovers below 90 % of the threshold)."""
        slow: set[uuid.UUID] = set()
        for monitor in monitors:
            limits = monitor.config.latency
            if limits.p95_ms is None and limits.p99_ms is None:
                continue
            policy = LatencyPolicy(p95_ms=limits.p95_ms, p99_ms=limits.p99_ms)
            since = now - timedelta(seconds=policy.window_s)
            samples = await self._store.latency_samples(monitor.id, since, now + _EPSILON)
            window = LatencyWindow(
                tuple((now, s.latency_ms) for s in samples if s.ok and s.latency_ms is not None),
                degraded=monitor.status is Status.DEGRADED,
            )
            if latency_verdict(window, now, policy)[1].status is Status.DEGRADED:
                slow.add(monitor.id)
        return slow

    async def _incident(self, monitor: Monitor, change: StateChange, facts: Evidence) -> None:
        """Down (by quorum) opens a draft incident for customers at once, written from the
        evidence (``engine/narrative.py``); the database keeps it to one per outage. Recovery
        resolves a draft nobody published."""
        if change.to_status is Status.DOWN:
            text = draft(facts)
            created = await self._store.open_draft_incident(
                monitor.org_id, monitor.id, text.title, text.body, change.at, impact=text.impact
            )
            if created is not None:
                log.info("draft incident opened", monitor_id=str(monitor.id), incident=str(created))
                if self._rewrite is not None:  # off the evaluation path: it may take seconds
                    task = asyncio.create_task(self._rewritten(created, text, facts))
                    self._rewrites.add(task)
                    task.add_done_callback(self._rewrites.discard)
        elif change.from_status is Status.DOWN and change.to_status is Status.UP:
            at = change.at.strftime("%H:%M UTC")
            await self._store.resolve_drafts(
                monitor.id, change.at, f"{monitor.config.name} has recovered as of {at}."
            )

    async def _rewritten(self, incident_id: uuid.UUID, text: Draft, facts: Evidence) -> None:
        """Replace the template draft by the model's text, if it passed validation and nobody
        touched the draft meanwhile; the template text stays otherwise."""
        assert self._rewrite is not None
        try:
            result = await self._rewrite(text, facts)
            if result.source == "llm":
                done = await self._store.rewrite_draft(
                    incident_id, result.draft.title, result.draft.body, self._clock()
                )
                log.info("draft incident rewritten", incident=str(incident_id), applied=done)
            else:
                log.info("draft kept its template text", reason=result.fallback_reason)
        except Exception:
            log.exception("draft rewrite failed", incident=str(incident_id))

    async def wait_rewrites(self) -> None:
        """Wait for the rewrites in flight (tests, shutdown)."""
        while self._rewrites:
            await asyncio.gather(*self._rewrites, return_exceptions=True)

    async def _flapping(self, monitor: Monitor, change: StateChange) -> Flapping:
        """Whether the monitor flaps, by replaying its recent stored changes, up to
        ``change``, through ``engine/flapping.py`` (so every worker reaches the same answer,
        however late the change is announced)."""
        recent = sorted(
            await self._store.state_changes(monitor.id, FLAP_HISTORY), key=lambda c: (c.at, c.id)
        )
        ids = [c.id for c in recent]
        if change.id in ids:  # changes stored after this one are not its history
            recent = recent[: ids.index(change.id) + 1]
        flap, event = FlapState(), None
        for past in recent:
            flap, event = observe(flap, past.at, past.to_status, self._flap_policy)
        started = event is not None and event.kind is FlapEventKind.STARTED
        return Flapping(flap.flapping, started, len(flap.changes))

    async def _alert(
        self,
        monitor: Monitor,
        change: StateChange,
        states: Sequence[RegionState],
        flap: Flapping,
    ) -> None:
        """Queue the operators' alert in the outbox: one row per channel per change, however
        many workers see it (the group key is the change's id). The change that starts a
        flapping episode sends one ``monitor.flapping`` alert instead."""
        message = alert_message(monitor, change, states)
        if message is None:
            return
        if flap.started:
            message = flapping_message(monitor, change, flap.changes)
        await self._store.enqueue(
            monitor.org_id, message.event, f"change:{change.id}", message_doc(message), change.at
        )


@dataclass(frozen=True, slots=True)
class Announcements:
    """A batch's stored and published changes, left to announce, with what they were
    decided on: the batch's monitors and the changed monitors' region states."""

    changes: Sequence[StateChange]
    monitors: Mapping[uuid.UUID, Monitor]
    batch: Sequence[CheckResult]
    region_states: Mapping[uuid.UUID, Sequence[RegionState]]


class Lookups:
    """Store reads that the announcements of one batch share: each organisation's
    maintenance windows and components, and the monitors looked up as parents."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._coverage: dict[uuid.UUID, tuple[list[Maintenance], list[Component]]] = {}
        self._monitors: dict[uuid.UUID, Monitor | None] = {}

    async def under_maintenance(self, monitor: Monitor, at: datetime) -> bool:
        """Whether an active maintenance window at ``at`` covers a component of ``monitor``
        (``incident_jobs.covered``)."""
        found = self._coverage.get(monitor.org_id)
        if found is None:
            windows = await self._store.list_maintenances(monitor.org_id)
            components = await self._store.list_components(monitor.org_id) if windows else []
            found = self._coverage[monitor.org_id] = (windows, components)
        return covered(monitor, at, *found)

    async def monitor(self, monitor_id: uuid.UUID) -> Monitor | None:
        if monitor_id not in self._monitors:
            found = await self._store.monitors_by_id([monitor_id])
            self._monitors[monitor_id] = found.get(monitor_id)
        return self._monitors[monitor_id]


@dataclass(frozen=True, slots=True)
class Flapping:
    flapping: bool
    started: bool  # this change started the episode
    changes: int  # in the window


def _evaluate(
    batch: Sequence[CheckResult],
    monitors: Mapping[uuid.UUID, Monitor],
    current: Mapping[uuid.UUID, Status],
    stored: list[RegionState],
    now: datetime,
    slow: set[uuid.UUID] = frozenset(),  # type: ignore[assignment]
) -> Evaluation:
    """Pure: the batch applied to the stored region states of the live monitors; an ``up``
    monitor in ``slow`` (latency over its P95/P99 thresholds) is ``degraded``."""
    states = {(s.monitor_id, s.region): s for s in stored}
    touched: set[tuple[uuid.UUID, str]] = set()
    for result in sorted(batch, key=lambda r: (r.started_at, r.id)):
        monitor = monitors.get(result.monitor_id)
        if monitor is None or result.monitor_id not in current:
            continue
        if result.region not in monitor.config.regions:
            continue
        key = (result.monitor_id, result.region)
        prev = states.get(key)
        # A replayed or out-of-order result must not count twice in a streak.
        if prev and prev.last_result_at and result.started_at <= prev.last_result_at:
            continue
        cfg = monitor.config
        states[key] = step(prev, result, cfg.failure_threshold, cfg.recovery_threshold)
        touched.add(key)
    statuses: dict[uuid.UUID, tuple[Status, datetime]] = {}
    changes: list[StateChange] = []
    for monitor_id in sorted({m for m, _ in touched}):
        config = monitors[monitor_id].config
        regional = [states[(monitor_id, r)] for r in config.regions if (monitor_id, r) in states]
        status = quorum(regional, now, stale_after(config.interval_s))
        if status is Status.UP and monitor_id in slow:
            status = Status.DEGRADED
        before = current[monitor_id]
        if status is not before:
            statuses[monitor_id] = (status, now)
            changes.append(
                StateChange(
                    id=new_id(),
                    monitor_id=monitor_id,
                    from_status=before,
                    to_status=status,
                    at=now,
                    reason=_reason(regional, status, monitor_id in slow),
                )
            )
    return Evaluation([states[k] for k in touched], statuses, changes)


def _reason(regional: Sequence[RegionState], status: Status, slow: bool = False) -> str:
    failing = [s for s in regional if s.status is Status.DOWN]
    errors = sorted({s.last_error for s in regional if s.last_error})
    text = f"{len(failing)} of {len(regional)} regions failing"
    if status is not Status.UP and errors:
        text += ": " + "; ".join(errors)[:500]
    if slow and status is Status.DEGRADED:
        text += "; latency over its P95/P99 threshold"
    return text
