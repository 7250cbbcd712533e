"""The demo's target service on loopback: healthy, slow, failing and flapping endpoints.

These are real HTTP endpoints answering real checks; nothing about the monitors is faked.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from aiohttp import web

FLAP_PERIOD_S = 40
SLOW_MS = (450, 750)


async def healthy(_request: web.Request) -> web.Response:
    return web.json_response({"status": "UP", "service": "website"})


async def slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(random.uniform(*SLOW_MS) / 1000)
    return web.json_response({"status": "UP", "service": "search"})


async def failing(_request: web.Request) -> web.Response:
    return web.json_response(
        {"status": "DOWN", "service": "billing", "error": "database connection pool exhausted"},
        status=503,
    )


def flap_is_up(now: float) -> bool:
    """Up for FLAP_PERIOD_S seconds, then down for as long, on the wall clock."""
    return int(now // FLAP_PERIOD_S) % 2 == 0


async def flapping(_request: web.Request) -> web.Response:
    if flap_is_up(time.time()):
        return web.json_response({"status": "UP", "service": "webhooks"})
    return web.json_response({"status": "DOWN", "service": "webhooks"}, status=502)


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/healthy", healthy)
    app.router.add_get("/slow", slow)
    app.router.add_get("/failing", failing)
    app.router.add_get("/flapping", flapping)
    return app


@dataclass
class RunningTarget:
    runner: web.AppRunner
    base_url: str

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_target(host: str = "127.0.0.1", port: int = 0) -> RunningTarget:
    """Serve the demo target; ``port=0`` picks a free port (see ``base_url``)."""
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    return RunningTarget(runner, f"http://{host}:{bound_port}")
