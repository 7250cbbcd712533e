"""The uploader batches results and retries a failed send without losing or reordering."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from statpulse.metrics import Metrics
from statpulse.model import CheckResult, new_id
from statpulse.runner.uploader import Uploader

AT = datetime(2026, 11, 23, tzinfo=UTC)


def result() -> CheckResult:
    return CheckResult(new_id(), new_id(), "local", AT, AT, 1.0, True)


async def test_results_are_sent_in_batches_of_the_configured_size() -> None:
    batches: list[int] = []

    async def send(batch: Sequence[CheckResult]) -> None:
        batches.append(len(batch))

    up = Uploader(send, Metrics(), batch_size=10, flush_interval_s=0.05)
    task = asyncio.create_task(up.run())
    for _ in range(25):
        up.submit(result())
    async with asyncio.timeout(10):
        while sum(batches) < 25:
            await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert sum(batches) == 25
    assert max(batches) == 10


async def test_a_failed_send_is_retried_and_nothing_is_lost() -> None:
    received: list[CheckResult] = []
    failures = 2

    async def send(batch: Sequence[CheckResult]) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("engine unavailable")
        received.extend(batch)

    metrics = Metrics()
    up = Uploader(send, metrics, batch_size=100, flush_interval_s=0.01)
    sent = [result() for _ in range(5)]
    for r in sent:
        up.submit(r)
    task = asyncio.create_task(up.run())
    async with asyncio.timeout(10):
        while len(received) < len(sent):
            await asyncio.sleep(0.01)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert received == sent
    assert metrics.registry.get_sample_value("statpulse_result_upload_errors_total") == 2


async def test_stopping_flushes_what_is_buffered() -> None:
    received: list[CheckResult] = []

    async def send(batch: Sequence[CheckResult]) -> None:
        received.extend(batch)

    up = Uploader(send, Metrics(), batch_size=1000, flush_interval_s=60)
    task = asyncio.create_task(up.run())
    await asyncio.sleep(0)
    up.submit(result())
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(received) == 1
