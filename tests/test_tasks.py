"""Stopping background tasks for sure (statpulse/tasks.py), even when something inside them
swallows a cancellation, and the periodic loop that relies on it."""

from __future__ import annotations

import asyncio
import contextlib

from statpulse.engine.periodic import Periodic
from statpulse.tasks import cancel_and_wait


async def _swallows_once() -> None:
    with contextlib.suppress(asyncio.CancelledError):  # the bug: a cancellation lost
        await asyncio.sleep(3600)
    await asyncio.sleep(3600)


async def test_a_task_that_swallows_its_cancellation_is_stopped_anyway() -> None:
    task = asyncio.create_task(_swallows_once())
    await asyncio.sleep(0)
    async with asyncio.timeout(30):  # a hang fails here instead of hanging the suite
        await cancel_and_wait(task, retry_s=0.05)
    assert task.cancelled()


async def test_a_plain_task_and_a_failed_one_are_stopped_without_raising() -> None:
    plain = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    await cancel_and_wait(plain)
    assert plain.cancelled()

    async def fails() -> None:
        raise ValueError("boom")

    failed = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(failed)  # already done: its error is consumed, not re-raised
    assert isinstance(failed.exception(), ValueError)


async def test_a_periodic_job_that_swallows_a_cancellation_still_stops() -> None:
    runs = 0

    async def job() -> None:
        nonlocal runs
        runs += 1
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)

    periodic = Periodic("swallower", 3600, job)
    await periodic.start()
    await asyncio.sleep(0.01)
    async with asyncio.timeout(30):
        await periodic.stop()
    assert runs == 1
