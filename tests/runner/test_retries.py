"""Retries inside one run, and the per-host bound on checks in flight."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import pytest
from aiohttp import web

from statpulse.model import CheckSpec, new_id
from statpulse.probes import ProbeContext
from statpulse.runner.check import run_check
from statpulse.runner.hostlimits import HostLimits, host_key

AT = datetime(2026, 11, 23, tzinfo=UTC)


class Flaky:
    """Fails the first ``failures`` requests with 503, then answers 200; tracks concurrency."""

    def __init__(self, failures: int = 0, delay_s: float = 0.0) -> None:
        self.failures = failures
        self.delay_s = delay_s
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        return web.Response(status=503 if self.calls <= self.failures else 200)


Serve = Callable[[Flaky], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []

    async def start(flaky: Flaky) -> str:
        app = web.Application()
        app.router.add_get("/", flaky.handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}/"

    yield start
    for runner in runners:
        await runner.cleanup()


def _spec(url: str, retries: int = 0) -> CheckSpec:
    return CheckSpec(new_id(), "http", url, 10, 2.0, retries=retries, retry_delay_s=0.01)


async def test_a_retry_that_succeeds_makes_the_run_healthy(serve: Serve) -> None:
    flaky = Flaky(failures=2)
    url = await serve(flaky)
    async with ProbeContext() as ctx:
        result = await run_check(_spec(url, retries=2), ctx, region="eu", scheduled_at=AT)
    assert result.ok
    assert result.attempts == 3
    assert flaky.calls == 3


async def test_retries_exhausted_report_the_last_failure(serve: Serve) -> None:
    flaky = Flaky(failures=10)
    url = await serve(flaky)
    async with ProbeContext() as ctx:
        result = await run_check(_spec(url, retries=1), ctx, region="eu", scheduled_at=AT)
    assert not result.ok
    assert result.attempts == 2
    assert result.error_message == "[STATUS] (503) < 400"
    assert flaky.calls == 2


async def test_no_retries_means_one_attempt(serve: Serve) -> None:
    flaky = Flaky(failures=1)
    url = await serve(flaky)
    async with ProbeContext() as ctx:
        result = await run_check(_spec(url), ctx, region="eu", scheduled_at=AT)
    assert not result.ok and result.attempts == 1


async def test_checks_against_one_host_stay_within_the_bound(serve: Serve) -> None:
    flaky = Flaky(delay_s=0.05)
    url = await serve(flaky)
    limits = HostLimits(per_host=3)
    async with ProbeContext() as ctx:
        results = await asyncio.gather(
            *(
                run_check(_spec(url), ctx, region="eu", scheduled_at=AT, limits=limits)
                for _ in range(12)
            )
        )
    assert all(r.ok for r in results)
    assert flaky.calls == 12
    assert flaky.peak == 3


@pytest.mark.parametrize(
    ("kind", "target", "key"),
    [
        ("http", "https://API.example.com:8443/x", "api.example.com"),
        ("tcp", "db.internal:5432", "db.internal"),
        ("tcp", "[::1]:80", "::1"),
        ("tls", "example.com:443", "example.com"),
    ],
)
def test_host_key_is_the_host_a_check_connects_to(kind: str, target: str, key: str) -> None:
    assert host_key(CheckSpec(new_id(), kind, target, 10, 1.0)) == key


def test_host_limits_reject_a_zero_bound() -> None:
    with pytest.raises(ValueError, match="per_host"):
        HostLimits(0)
