"""The evaluation loop: stored result batches -> region states -> monitor states -> change rows."""

from __future__ import annotations

import asyncio
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
from statpulse.engine.incident_jobs import under_maintenance
from statpulse.engine.latency_window import LatencyPolicy, LatencyWindow
from statpulse.engine.latency_window import evaluate as latency_verdict
from statpulse.engine.narrative import Draft, Evidence, draft
from statpulse.engine.narrative_llm import Rewritten
from statpulse.engine.outcomes import alert_message, evidence, flapping_message
from statpulse.metrics import Metrics
from statpulse.model import (
    CheckResult,
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

log = structlog.get_logger(__name__)
# The optional model rewrite of a draft's text (engine/narrative_llm.py), session bound.
Rewrite = Callable[[Draft, Evidence], Awaitable[Rewritten]]
_EPSILON = timedelta(microseconds=1)  # the window includes results stamped exactly now
MAX_ANCESTORS = 20  # a deeper chain of parents is cut there
FLAP_HISTORY = 50  # stored changes replayed to tell whether a monitor is flapping


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
        """Consume batches until the bus closes; a failing batch is logged, not fatal."""
        async for batch in self._bus.batches():
            try:
                await self.process(batch)
            except Exception:
                log.exception("evaluation failed", batch_size=len(batch))

    async def process(self, batch: Sequence[CheckResult]) -> list[StateChange]:
        """Apply a batch; returns the monitor state changes it caused (already stored)."""
        ids = list({r.monitor_id for r in batch})
        monitors = await self._store.monitors_by_id(ids)
        now = self._clock()
        slow = await self._latency_degraded(monitors.values(), now)

        def decide(current: Mapping[uuid.UUID, Status], stored: list[RegionState]) -> Evaluation:
            return _evaluate(batch, monitors, current, stored, now, slow)

        # The read-modify-write of region states runs under the monitors' row locks, so two
        # workers with results of the same monitor never interleave (nor lose a streak).
        outcome = await self._store.evaluate_locked(ids, decide)
        changes = list(outcome.changes)
        for change in changes:  # pages first: the draft incident is not on their path
            self._live.publish(MonitorChanged(change.monitor_id, change.to_status))
        if not changes:
            return changes
        regional: dict[uuid.UUID, list[RegionState]] = {}
        for state in await self._store.region_states([c.monitor_id for c in changes]):
            regional.setdefault(state.monitor_id, []).append(state)
        for change in changes:
            monitor, states = monitors[change.monitor_id], regional.get(change.monitor_id, [])
            if change.to_status is Status.DOWN and monitor.config.confirm_s > 0:
                # IncidentJobs announces it once it has lasted confirm_s (engine/incident_jobs).
                log.info("down awaits confirmation", monitor_id=str(monitor.id))
            else:
                await self.announce(monitor, change, batch, states)
            self._metrics.state_changes.labels(to=change.to_status.value).inc()
            log.info(
                "monitor state changed",
                monitor_id=str(change.monitor_id),
                from_status=change.from_status.value,
                to_status=change.to_status.value,
                reason=change.reason,
            )
        return changes

    async def announce(
        self,
        monitor: Monitor,
        change: StateChange,
        batch: Sequence[CheckResult],
        states: Sequence[RegionState],
    ) -> None:
        """Tell people about ``change``: the customers' draft incident and the operators'
        alert, unless maintenance, a down parent or flapping holds it back. Idempotent: the
        draft is one per outage and the alert one per change per channel."""
        if await under_maintenance(self._store, monitor, change.at):
            log.info("change held back: maintenance", monitor_id=str(monitor.id))
        elif (root := await self._failing_root(monitor, change)) is not None:
            log.info(
                "change folded into its parent's outage", monitor_id=str(monitor.id), root=str(root)
            )
        elif (flap := await self._flapping(monitor)).flapping and not flap.started:
            # One alert said it is flapping; each flip would open or resolve a draft.
            log.info("flip not alerted: flapping", monitor_id=str(monitor.id))
        else:
            await self._incident(monitor, change, evidence(monitor, change, batch, states))
            await self._alert(monitor, change, states, flap)

    async def _failing_root(self, monitor: Monitor, change: StateChange) -> uuid.UUID | None:
        """For a change into a problem: the down ancestor this monitor's outage folds into
        (``engine/dependencies.py``), or None. Recovery is never folded: it resolves what the
        monitor's own outage opened, if anything."""
        if change.to_status is Status.UP or monitor.config.depends_on is None:
            return None
        parents: dict[uuid.UUID, uuid.UUID | None] = {monitor.id: monitor.config.depends_on}
        failing = {monitor.id}
        node: uuid.UUID | None = monitor.config.depends_on
        while node is not None and node not in parents and len(parents) < MAX_ANCESTORS:
            found = (await self._store.monitors_by_id([node])).get(node)
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

    async def _flapping(self, monitor: Monitor) -> Flapping:
        """Whether the monitor flaps, by replaying its recent stored changes through
        ``engine/flapping.py`` (so every worker reaches the same answer)."""
        recent = await self._store.state_changes(monitor.id, FLAP_HISTORY)
        flap, event = FlapState(), None
        for past in sorted(recent, key=lambda c: (c.at, c.id)):
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
