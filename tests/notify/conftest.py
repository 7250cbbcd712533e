"""A recording HTTP server on 127.0.0.1 port 0 standing in for the SaaS providers: it records
what it receives and answers what a test tells it to (a status, headers, a body, or a stall)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from statpulse.notify.base import HttpSender
from statpulse.notify.message import Message


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    stall: bool = False


@dataclass
class Recorder:
    """``url`` is the server's base URL; ``received`` what came in; queue answers with
    ``answer``, otherwise each request gets 200 ``{"ok": true}``."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, status: int = 200, body: Any = None, **kwargs: Any) -> None:
        self.replies.append(Reply(status, body, **kwargs))

    @property
    def last(self) -> Received:
        return self.received[-1]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.received.append(
            Received(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                await request.read(),
            )
        )
        reply = self.replies.pop(0) if self.replies else Reply(body={"ok": True})
        if reply.stall:
            await self.release.wait()
        body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        return web.Response(status=reply.status, body=body, headers=reply.headers)


@pytest.fixture
async def server() -> AsyncIterator[Recorder]:
    recorder = Recorder()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", recorder.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    recorder.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    await web.SockSite(runner, sock).start()
    yield recorder
    recorder.release.set()
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[HttpSender]:
    async with HttpSender(timeout=2.0) as sender:
        yield sender


WHEN = datetime(2026, 11, 23, 12, 30, tzinfo=UTC)


@pytest.fixture
def make_message() -> Callable[..., Message]:
    def make(**changes: Any) -> Message:
        fields: dict[str, Any] = {
            "id": "msg_01",
            "event": "incident.opened",
            "title": "API is down",
            "text": "Checks fail in 3 of 5 regions.",
            "occurred_at": WHEN,
            "severity": "major",
            "status": "investigating",
            "url": "https://status.example.com/incidents/inc_7",
            "incident_id": "inc_7",
            "monitor_id": "mon_3",
            "monitor_name": "API",
            "components": ("API",),
            "regions": ("eu-west", "us-east"),
            "org": "acme",
        }
        fields.update(changes)
        return Message(**fields)

    return make
