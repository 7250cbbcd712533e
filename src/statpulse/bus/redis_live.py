"""Live updates across processes: a ``Broadcaster`` whose events travel over Redis pub/sub.

Every engine process publishes its monitors' state changes to one channel and fans out what
it hears to its own page clients, so a client sees every process's changes. The message is
JSON ``{"monitor_id", "status", "origin"}``; ``origin`` names the sending instance, which has
already served its own subscribers directly (they keep getting its events while Redis is
down) and so skips its echo.

Pub/sub is fire-and-forget: events sent while a process is disconnected are lost to it. That
is the same trade as the drop-oldest queues: every event only makes a client re-read the
current state, so a lost one delays a page update, never corrupts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.bus.redis_streams import connect
from statpulse.model import Status

log = structlog.get_logger(__name__)

_MAX_BACKOFF_S = 5.0


class RedisBroadcaster(Broadcaster):
    """``Broadcaster`` (same ``publish``/``subscribe``/``subscriber_count``) over Redis.

    ``start()`` subscribes (raising ``redis.exceptions.RedisError`` when Redis is unreachable)
    and returns once the subscription is live; ``stop()`` sends what is queued (for up to
    ``flush_timeout_s``), then ends the background tasks and closes the connections. After a
    Redis error both tasks log, wait (0.1 s doubling to 5 s) and reconnect.
    """

    def __init__(
        self,
        url: str,
        *,
        channel: str = "statpulse:live",
        queue_size: int = 64,
        outbox_size: int = 1024,
        flush_timeout_s: float = 1.0,
    ) -> None:
        super().__init__(queue_size)
        self.channel = channel
        self._redis = connect(url)
        self._origin = secrets.token_hex(8)
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue(outbox_size)
        self._flush_timeout_s = flush_timeout_s
        self._tasks: list[asyncio.Task[None]] = []
        self.received = 0
        """Events from other instances fanned out here."""
        self.dropped = 0
        """Events not sent to Redis because the outbox was full (Redis slow or down)."""

    def publish(self, event: MonitorChanged) -> None:
        """Deliver to this process's subscribers now and queue the event for Redis; never
        blocks (when the outbox is full its oldest event is dropped)."""
        super().publish(event)
        message = json.dumps(
            {
                "monitor_id": str(event.monitor_id),
                "status": event.status.value,
                "at": event.at.isoformat() if event.at is not None else None,
                "origin": self._origin,
            },
            separators=(",", ":"),
        ).encode()
        if self._outbox.full():
            self._outbox.get_nowait()
            self._outbox.task_done()
            self.dropped += 1
        self._outbox.put_nowait(message)

    async def start(self) -> None:
        pubsub = await self._subscribe()
        self._tasks = [
            asyncio.create_task(self._receive(pubsub), name="live-receive"),
            asyncio.create_task(self._send(), name="live-send"),
        ]

    async def stop(self) -> None:
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._flush_timeout_s):
                    await self._outbox.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._redis.aclose()

    # -- background tasks -----------------------------------------------------------------------

    async def _subscribe(self) -> PubSub:
        """A pub/sub connection whose subscription the server has confirmed."""
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            async with asyncio.timeout(5):
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "subscribe":
                        return pubsub
        except BaseException:
            await _close(pubsub)
            raise

    async def _receive(self, pubsub: PubSub | None) -> None:
        backoff = 0.1
        try:
            while True:
                try:
                    if pubsub is None:
                        pubsub = await self._subscribe()
                        log.info("live updates: resubscribed to redis", channel=self.channel)
                        backoff = 0.1
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
                except (RedisError, OSError, TimeoutError) as exc:
                    log.warning(
                        "live updates: redis receive failed",
                        error=f"{type(exc).__name__}: {exc}",
                        wait_s=backoff,
                    )
                    if pubsub is not None:
                        with contextlib.suppress(RedisError, OSError):
                            await _close(pubsub)
                        pubsub = None
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    continue
                if message is not None and message["type"] == "message":
                    self._fan_out(message["data"])
        finally:
            if pubsub is not None:
                await _close(pubsub)

    def _fan_out(self, data: Any) -> None:
        try:
            doc = json.loads(data)
            if doc.get("origin") == self._origin:
                return  # our own subscribers had it at publish time
            at = doc.get("at")
            event = MonitorChanged(
                uuid.UUID(doc["monitor_id"]),
                Status(doc["status"]),
                datetime.fromisoformat(at) if at is not None else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("live updates: bad message skipped", error=f"{type(exc).__name__}: {exc}")
            return
        self.received += 1
        Broadcaster.publish(self, event)

    async def _send(self) -> None:
        while True:
            message = await self._outbox.get()
            backoff = 0.1
            while True:
                try:
                    await self._redis.publish(self.channel, message)
                    break
                except (RedisError, OSError) as exc:
                    log.warning(
                        "live updates: redis publish failed",
                        error=f"{type(exc).__name__}: {exc}",
                        wait_s=backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
            self._outbox.task_done()


async def _close(pubsub: PubSub) -> None:
    close: Callable[[], Awaitable[None]] = pubsub.aclose  # redis-py leaves it unannotated
    await close()
