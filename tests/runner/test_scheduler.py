"""The scheduler loop in real time, with short intervals (the API's 10 s minimum does not
apply below it)."""

from __future__ import annotations

import asyncio
import time

from statpulse.metrics import Metrics
from statpulse.model import CheckSpec, new_id
from statpulse.runner.scheduler import Scheduler


def spec(interval: float, timeout: float = 1.0) -> CheckSpec:
    return CheckSpec(new_id(), "http", "http://127.0.0.1/", interval, timeout)  # type: ignore[arg-type]


def sample_count(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels or None)
    return value or 0.0


async def test_a_hanging_check_does_not_delay_other_monitors() -> None:
    fast, slow = spec(0.1), spec(0.1)
    runs: dict[object, list[float]] = {fast.monitor_id: [], slow.monitor_id: []}

    async def run_check(s: CheckSpec, scheduled_at: float) -> None:
        runs[s.monitor_id].append(time.time() - scheduled_at)
        if s is slow:
            await asyncio.sleep(10)

    metrics = Metrics()
    scheduler = Scheduler(run_check, metrics)
    scheduler.update([fast, slow])
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.65)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # The fast monitor kept its rate (~6 runs) while the slow one hung in its first check.
    assert len(runs[fast.monitor_id]) >= 4
    assert len(runs[slow.monitor_id]) == 1
    assert sample_count(metrics, "statpulse_checks_missed_total", reason="overlap") >= 4


async def test_cancelling_the_scheduler_cancels_checks_in_flight() -> None:
    cancelled = asyncio.Event()

    async def run_check(_s: CheckSpec, _at: float) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler = Scheduler(run_check, Metrics())
    scheduler.update([spec(0.05)])
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.12)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert cancelled.is_set()


async def test_updates_take_effect_without_waiting_for_the_old_timer() -> None:
    seen: list[object] = []

    async def run_check(s: CheckSpec, _at: float) -> None:
        seen.append(s.monitor_id)

    scheduler = Scheduler(run_check, Metrics())
    scheduler.update([spec(3600)])  # first run could be an hour away
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.01)
    quick = spec(0.05)
    scheduler.update([quick])
    await asyncio.sleep(0.2)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert quick.monitor_id in seen


async def test_lateness_is_recorded_for_every_run() -> None:
    async def run_check(_s: CheckSpec, _at: float) -> None:
        return None

    metrics = Metrics()
    scheduler = Scheduler(run_check, metrics)
    scheduler.update([spec(0.05), spec(0.05)])
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sample_count(metrics, "statpulse_scheduler_lateness_seconds_count") >= 8
