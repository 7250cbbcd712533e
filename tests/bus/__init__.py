"""Tests of the bus implementations; the Redis ones use the real server.

``STATPULSE_TEST_REDIS_URL`` (default redis://127.0.0.1:6379/0). When the server is unreachable
the Redis tests are skipped with a loud reason, except in CI (``CI=true``), where they fail,
as ``tests/conftest.py`` does for PostgreSQL. Every test uses its own keys (a uuid in the name)
and deletes them, so the suite can share the server with other runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlencode, urlsplit

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

REDIS_URL = os.environ.get("STATPULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@asynccontextmanager
async def redis_keys(prefix: str) -> AsyncIterator[tuple[Redis, str]]:
    """A client of the test server and a fresh key name; the key is deleted afterwards.

    Skips the test (fails it under ``CI=true``) when the server does not answer.
    """
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            reason = f"Redis unreachable at {REDIS_URL} ({exc}); set STATPULSE_TEST_REDIS_URL"
            if IN_CI:
                pytest.fail(f"CI=true and {reason}", pytrace=False)
            pytest.skip(f"SKIPPING REDIS TESTS: {reason}")
        key = f"statpulse:test:{prefix}:{uuid.uuid4().hex}"
        try:
            yield client, key
        finally:
            await client.delete(key)
    finally:
        await client.aclose()


def with_query(url: str, **params: str) -> str:
    """``url`` with more query parameters (redis-py reads client options from the query)."""
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class Outage:
    """A TCP relay to the Redis server that the test can cut: ``url`` goes through it.

    ``cut()`` drops every relayed connection and refuses new ones until ``restore()``, as a
    Redis restart or a network partition would.
    """

    def __init__(self, target: str = REDIS_URL) -> None:
        parsed = urlsplit(target)
        self._target = (parsed.hostname or "127.0.0.1", parsed.port or 6379)
        self._path = parsed.path
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self._path}"

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}
        pipes = [
            asyncio.create_task(_pipe(reader, up_writer)),
            asyncio.create_task(_pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
                self._tasks.discard(pipe)
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)
                with contextlib.suppress(OSError):
                    await w.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
