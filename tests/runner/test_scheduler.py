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


async def _run_for(scheduler: Scheduler, seconds: float) -> None:
    task = asyncio.create_task(scheduler.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_runs_start_on_time_and_never_early() -> None:
    lateness: list[float] = []

    async def run_check(_s: CheckSpec, at: float) -> None:
        lateness.append(time.time() - at)

    scheduler = Scheduler(run_check, Metrics())
    scheduler.update([spec(0.25) for _ in range(200)])
    await _run_for(scheduler, 0.8)
    assert len(lateness) >= 400
    assert min(lateness) >= 0
    # Generous for a loaded CI machine; the benchmark measures the real figures.
    assert sorted(lateness)[len(lateness) // 2] < 0.005


async def test_an_injected_clock_uses_the_loop_timers_and_is_never_early() -> None:
    lateness: list[float] = []

    async def run_check(_s: CheckSpec, at: float) -> None:
        lateness.append(time.time() - at)

    scheduler = Scheduler(run_check, Metrics(), wall_clock=lambda: time.time())
    scheduler.update([spec(0.1) for _ in range(20)])
    await _run_for(scheduler, 0.45)
    assert len(lateness) >= 60
    assert min(lateness) >= 0


async def test_work_in_flight_is_bounded_and_waiting_runs_start_when_a_slot_frees() -> None:
    in_flight = peak = started = 0

    async def run_check(_s: CheckSpec, _at: float) -> None:
        nonlocal in_flight, peak, started
        in_flight += 1
        started += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1

    metrics = Metrics()
    scheduler = Scheduler(run_check, metrics, max_concurrent=2)
    scheduler.update([spec(0.2) for _ in range(10)])
    await _run_for(scheduler, 0.5)
    assert peak == 2
    # Ten runs per interval at 10 ms each fit two slots: they waited, none was skipped.
    assert started >= 20
    assert sample_count(metrics, "statpulse_checks_missed_total", reason="overload") == 0


async def test_runs_that_cannot_start_in_time_are_skipped_not_run_late() -> None:
    async def run_check(_s: CheckSpec, _at: float) -> None:
        await asyncio.sleep(0.3)  # holds the only slot far longer than the lateness bound

    metrics = Metrics()
    scheduler = Scheduler(run_check, metrics, max_concurrent=1, max_lateness_s=0.05)
    scheduler.update([spec(0.1) for _ in range(5)])
    await _run_for(scheduler, 0.5)
    assert sample_count(metrics, "statpulse_checks_missed_total", reason="overload") >= 1
    started = sample_count(metrics, "statpulse_scheduler_lateness_seconds_count")
    on_time = sample_count(metrics, "statpulse_scheduler_lateness_seconds_bucket", le="0.05")
    assert 1 <= started <= 2
    assert on_time == started


async def test_a_blocked_loop_skips_the_runs_it_held_up_instead_of_bursting() -> None:
    blocker = spec(0.25)
    lateness: list[float] = []
    blocked = False

    async def run_check(s: CheckSpec, at: float) -> None:
        nonlocal blocked
        if s is blocker:
            if not blocked:
                blocked = True
                time.sleep(0.3)  # a saturated loop, in one piece
        else:
            lateness.append(time.time() - at)

    metrics = Metrics()
    scheduler = Scheduler(run_check, metrics, max_lateness_s=0.1)
    scheduler.update([blocker, *(spec(0.2) for _ in range(20))])
    await _run_for(scheduler, 0.8)
    assert blocked
    assert max(lateness) < 0.1
    # Each monitor had one or two runs due during the 0.3 s block: none ran late.
    missed = sum(
        sample_count(metrics, "statpulse_checks_missed_total", reason=reason)
        for reason in ("overload", "behind")
    )
    assert missed >= 20


async def test_a_saturated_loop_lowers_the_limit_on_checks_in_flight_then_it_recovers() -> None:
    blocker = spec(0.3)
    blocked = False
    limits: list[int] = []

    async def run_check(s: CheckSpec, _at: float) -> None:
        nonlocal blocked
        limits.append(scheduler.limit)
        if s is blocker:
            if not blocked:
                blocked = True
                time.sleep(0.1)  # the loop is late for every wake-up meanwhile
            return
        await asyncio.sleep(0.15)

    scheduler = Scheduler(run_check, Metrics(), max_concurrent=100)
    scheduler.update([blocker, *(spec(0.1) for _ in range(30))])
    await _run_for(scheduler, 0.8)
    assert blocked
    assert min(limits) < 100  # cut to 90 % of the checks in flight after the late wake-up
    assert limits[-1] > min(limits)  # and raised again by punctual wake-ups
