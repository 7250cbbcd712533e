"""The scheduler loop: sleeps to the next due time, starts checks, bounds concurrency.

Timers may fire early (uvloop, ~1 ms) or late: the loop sleeps to an absolute deadline on the
wall clock and simply re-sleeps when woken early. A check still running when its next run is due
makes that run ``missed`` (reason ``overlap``); a run skipped because the loop fell a whole
interval behind is ``missed`` with reason ``behind``. A slow target only holds its own task.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable

import structlog

from statpulse.metrics import Metrics
from statpulse.model import CheckSpec
from statpulse.runner.schedule import Due, Schedule

log = structlog.get_logger(__name__)

RunCheck = Callable[[CheckSpec, float], Awaitable[None]]
"""Runs one check of ``spec`` scheduled at the given epoch time."""


class Scheduler:
    def __init__(
        self,
        run_check: RunCheck,
        metrics: Metrics,
        *,
        max_concurrent: int = 500,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._run_check = run_check
        self._metrics = metrics
        self._clock = wall_clock
        self._schedule = Schedule()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._wake: asyncio.Future[None] | None = None

    @property
    def monitor_count(self) -> int:
        return len(self._schedule)

    def update(self, specs: Iterable[CheckSpec]) -> None:
        """Replace the set of checks; takes effect at once."""
        self._schedule.set(specs, self._clock())
        self._wakeup()

    async def run(self) -> None:
        """Run until cancelled; cancelling also cancels the checks in flight."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                for due in self._schedule.pop_due(self._clock()):
                    self._start(due)
                next_due = self._schedule.next_due()
                self._wake = loop.create_future()
                handle = None
                if next_due is not None:
                    delay = max(0.0, next_due - self._clock())
                    handle = loop.call_later(delay, self._wakeup)
                try:
                    await self._wake
                finally:
                    if handle is not None:
                        handle.cancel()
        finally:
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _wakeup(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    def _start(self, due: Due) -> None:
        if due.skipped:
            self._metrics.missed.labels(reason="behind").inc(due.skipped)
        monitor_id = due.spec.monitor_id
        if monitor_id in self._running:
            self._metrics.missed.labels(reason="overlap").inc()
            return
        task = asyncio.create_task(self._guarded(due))
        self._running[monitor_id] = task
        task.add_done_callback(lambda _t: self._running.pop(monitor_id, None))

    async def _guarded(self, due: Due) -> None:
        async with self._slots:
            self._metrics.lateness.observe(max(0.0, self._clock() - due.scheduled_at))
            try:
                await self._run_check(due.spec, due.scheduled_at)
            except Exception:
                # run_check turns target failures into results; this is a bug, keep scheduling.
                log.exception("check crashed", monitor_id=str(due.spec.monitor_id))
