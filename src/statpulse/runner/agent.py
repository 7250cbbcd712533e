"""A runner: keeps its assignments, schedules checks, uploads results.

It imports nothing from the engine or the web layer: assignments come from an
``AssignmentSource`` and results leave through a ``Send`` callable.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from statpulse.metrics import Metrics
from statpulse.model import CheckSpec
from statpulse.probes.base import ProbeContext
from statpulse.runner.check import run_check
from statpulse.runner.hostlimits import HostLimits
from statpulse.runner.scheduler import Scheduler
from statpulse.runner.uploader import Send, Uploader
from statpulse.security.egress import EgressPolicy

log = structlog.get_logger(__name__)


class AssignmentSource(Protocol):
    async def fetch(self) -> Sequence[CheckSpec]:
        """The checks this runner must run now."""


class Runner:
    def __init__(
        self,
        source: AssignmentSource,
        send: Send,
        metrics: Metrics,
        *,
        region: str,
        max_concurrent: int = 500,
        per_host: int = 32,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        refresh_interval_s: float = 30.0,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.region = region
        self._source = source
        self._metrics = metrics
        self._refresh_interval_s = refresh_interval_s
        self._refresh = asyncio.Event()
        self._probe_ctx = ProbeContext(egress=egress)
        self._limits = HostLimits(per_host)
        self._specs: Sequence[CheckSpec] | None = None
        self._counters: dict[tuple[str, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._uploader = Uploader(
            send, metrics, batch_size=batch_size, flush_interval_s=flush_interval_s
        )
        self._scheduler = Scheduler(self._check, metrics, max_concurrent=max_concurrent)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def scheduler(self) -> Scheduler:
        return self._scheduler

    def assignments_changed(self) -> None:
        """Ask for an immediate refresh of the assignments (cheap, coalesced)."""
        self._refresh.set()

    async def start(self) -> None:
        await self._load_assignments()
        self._tasks = [
            asyncio.create_task(self._uploader.run(), name="uploader"),
            asyncio.create_task(self._scheduler.run(), name="scheduler"),
            asyncio.create_task(self._watch_assignments(), name="assignments"),
        ]

    async def stop(self) -> None:
        # Scheduler first (no new results), then the uploader flushes what is buffered.
        for task in reversed(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._probe_ctx.close()

    async def _check(self, spec: CheckSpec, scheduled_at: float) -> None:
        result = await run_check(
            spec,
            self._probe_ctx,
            region=self.region,
            scheduled_at=datetime.fromtimestamp(scheduled_at, UTC),
            limits=self._limits,
        )
        outcome = "down" if not result.ok else "degraded" if result.degraded else "up"
        counter = self._counters.get((spec.kind, outcome))
        if counter is None:  # label lookups cost more than the increment: keep the children
            counter = self._counters[(spec.kind, outcome)] = self._metrics.checks.labels(
                kind=spec.kind, outcome=outcome
            )
        counter.inc()
        if result.latency_ms is not None:
            duration = self._durations.get(spec.kind)
            if duration is None:
                duration = self._durations[spec.kind] = self._metrics.check_duration.labels(
                    kind=spec.kind
                )
            duration.observe(result.latency_ms / 1000)
        self._uploader.submit(result)

    async def _load_assignments(self) -> None:
        specs = await self._source.fetch()
        if specs == self._specs:
            return
        self._specs = specs
        self._scheduler.update(specs)
        # The specs, their schedule entries and tasks live as long as the assignment: move them
        # out of the collector's sight, so full collections do not pause the loop for tens of
        # ms with 10,000 monitors (measured in bench/runner.py). What the previous freeze held
        # is handed back to the collector first, so replaced assignments are still collected.
        gc.unfreeze()
        gc.freeze()
        log.debug("assignments loaded", region=self.region, monitors=len(specs))

    async def _watch_assignments(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
            # races with the event being set, and stop() would then wait forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._refresh_interval_s):
                    await self._refresh.wait()
            self._refresh.clear()
            try:
                await self._load_assignments()
            except Exception:
                # Keep checking with the last assignments when the source is unavailable.
                log.exception("assignment refresh failed", region=self.region)
