"""The result bus on Redis Streams: one stream, one consumer group, any number of evaluators.

Publishing is one ``XADD`` per batch (field ``b``: a compact JSON list of
``wire.result_to_dict``), trimmed to about ``max_len`` entries. Each evaluator process reads
with ``XREADGROUP``, so an entry goes to one consumer of the group.

Delivery is at-least-once. The contract of ``batches()``: *processing a batch is the time
between receiving it and asking for the next one*. An entry is acknowledged (``XACK``) only
when the iterator is resumed, so a process killed mid-batch leaves it pending, and a live
consumer takes it over with ``XAUTOCLAIM`` once it has been idle for ``claim_idle_ms``. A
claimed batch may be evaluated twice, so evaluation must be idempotent (it is: a result not
newer than a region's last result is skipped).

Known limits, each costing delay or a repeat, never a silent loss while the backlog stays under
``max_len`` entries (trimming deletes the oldest entries even when they are still pending):

- entries read together (up to ``batch_entries``) but not yet yielded when ``close()`` comes
  stay pending and are claimed by another consumer after ``claim_idle_ms``;
- if processing the entries of one read takes longer than ``claim_idle_ms``, the later ones
  may be claimed and processed by another consumer too.

See https://redis.io/docs/latest/develop/data-types/streams/ (consumer groups, XAUTOCLAIM).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from statpulse.model import CheckResult
from statpulse.wire import WireError, result_from_dict, result_to_dict

log = structlog.get_logger(__name__)

FIELD = b"b"
_MAX_BACKOFF_S = 5.0

Entry = tuple[bytes, Sequence[CheckResult] | None]
"""A stream entry id and its batch (``None``: the entry could not be decoded)."""


def connect(url: str) -> Redis:
    """A client that retries a command a few times on a dropped connection (a pooled connection
    the server closed, a Redis restart) before raising. Replies stay bytes, so one bad payload
    cannot break a whole read."""
    return Redis.from_url(
        url, retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1), retry_on_error=[OSError]
    )


def default_consumer_name() -> str:
    """``hostname-pid-random``: unique per process, readable in ``XINFO CONSUMERS``."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class RedisStreamBus:
    """A ``ResultBus`` on a Redis stream and consumer group.

    Call ``start()`` before use in every process, publishers included: it creates the group
    (and the stream) if missing, so nothing published before the first evaluator runs is
    skipped. A group created on an existing stream starts from its first entry.

    One instance serves one ``batches()`` iterator at a time; run more consumers as more
    instances (a process each, or several in one process with distinct ``consumer`` names).
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = "statpulse:results",
        group: str = "evaluators",
        consumer: str | None = None,
        max_len: int = 1_000_000,
        claim_idle_ms: int = 30_000,
        block_ms: int = 1000,
        batch_entries: int = 16,
        close_timeout_s: float = 10.0,
    ) -> None:
        self.stream = stream
        self.group = group
        self.consumer = consumer or default_consumer_name()
        self._redis = connect(url)
        self._max_len = max_len
        self._claim_idle_ms = claim_idle_ms
        self._block_ms = block_ms
        self._batch_entries = batch_entries
        self._close_timeout_s = close_timeout_s
        self._claim_cursor: bytes | str = "0-0"
        self._unacked: bytes | None = None
        self._read: asyncio.Future[list[Entry]] | None = None
        self._iterating = False
        self._iteration_done = asyncio.Event()
        self._closing = False
        self._closed = False
        self.poisoned = 0
        """Entries that could not be decoded (logged, acknowledged and skipped)."""
        self.claimed = 0
        """Entries taken over from other (dead or slow) consumers."""

    async def start(self) -> None:
        """Create the consumer group (and the stream) unless it exists.

        Raises ``redis.exceptions.RedisError`` (``ConnectionError`` when Redis is unreachable).
        """
        try:
            await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def publish(self, batch: Sequence[CheckResult]) -> None:
        """Append ``batch`` as one stream entry; an empty batch is not published.

        Raises ``redis.exceptions.RedisError`` when Redis does not take it: the caller has not
        handed the batch over (ingest then reports the failure instead of acknowledging).
        """
        if not batch:
            return
        payload = json.dumps([result_to_dict(r) for r in batch], separators=(",", ":"))
        await self._redis.xadd(
            self.stream, {FIELD: payload}, maxlen=self._max_len, approximate=True
        )

    async def batches(self) -> AsyncIterator[Sequence[CheckResult]]:
        """This consumer's batches, until ``close()``.

        A yielded batch is acknowledged when the next one is asked for (see the module's
        docstring); ``ack_pending()`` acknowledges it without asking. Redis errors are logged
        and retried with a backoff; they never end the iteration.
        """
        if self._iterating:
            raise RuntimeError("RedisStreamBus serves one batches() iterator at a time")
        self._iterating = True
        self._iteration_done.clear()
        try:
            backoff = 0.1
            last_claim = 0.0
            need_group = False
            while not self._closing:
                try:
                    if need_group:
                        await self.start()
                        need_group = False
                    entries: list[Entry] = []
                    now = time.monotonic()
                    if now - last_claim >= self._claim_idle_ms / 2000:
                        last_claim = now
                        entries = await self._claim()
                        if self._claim_cursor not in ("0-0", b"0-0"):
                            last_claim = 0.0  # more to scan: go on next turn
                    if not entries:
                        entries = await self._read_new()
                        if not entries:
                            last_claim = 0.0  # idle: look for orphans on the next turn
                    backoff = 0.1
                except asyncio.CancelledError:
                    task = asyncio.current_task()
                    if self._closing and task is not None and not task.cancelling():
                        return  # close() interrupted a blocking read
                    raise
                except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                    log.warning(
                        "redis bus read failed; retrying",
                        error=f"{type(exc).__name__}: {exc}",
                        wait_s=backoff,
                    )
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, _MAX_BACKOFF_S)
                    continue
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    log.warning("redis bus group missing; recreating", stream=self.stream)
                    need_group = True
                    continue
                for entry_id, batch in entries:
                    if self._closing:
                        return
                    if batch is None:
                        await self._ack(entry_id)
                        continue
                    self._unacked = entry_id
                    yield batch
                    await self.ack_pending()
        finally:
            self._iterating = False
            self._read = None
            self._iteration_done.set()

    async def ack_pending(self) -> None:
        """Acknowledge the last yielded batch, if not yet done: call it when the consumer has
        processed a batch and will not ask for another (at shutdown)."""
        entry_id, self._unacked = self._unacked, None
        if entry_id is not None:
            await self._ack(entry_id)

    async def close(self) -> None:
        """End the iteration and close the connections.

        A blocking read is interrupted at once. A batch being processed gets up to
        ``close_timeout_s`` to finish: asking for the next batch acknowledges it and ends the
        iteration. After that, an unacknowledged batch stays pending for another consumer.
        The consumer is removed from the group when nothing is pending on it.
        """
        if self._closing:
            return
        self._closing = True
        if self._read is not None:
            self._read.cancel()
        if self._iterating:
            try:
                async with asyncio.timeout(self._close_timeout_s):
                    await self._iteration_done.wait()
            except TimeoutError:
                log.warning(
                    "redis bus closed with a batch unacknowledged", entry=_text(self._unacked)
                )
        try:
            pending = await self._redis.xpending_range(
                self.stream, self.group, "-", "+", 1, consumername=self.consumer
            )
            if not pending:
                await self._redis.xgroup_delconsumer(self.stream, self.group, self.consumer)
        except RedisError as exc:
            log.warning(
                "redis bus: could not remove consumer", error=f"{type(exc).__name__}: {exc}"
            )
        self._closed = True
        await self._redis.aclose()

    # -- internals ------------------------------------------------------------------------------

    async def _read_new(self) -> list[Entry]:
        if self._closing:
            return []
        # A task of its own, so that close() can interrupt a read blocked for ``block_ms``.
        # Shielded: redis-py may swallow a cancellation that lands as the reply arrives, and
        # awaiting the task directly would then lose the caller's cancellation (a timeout
        # around the iterator never fired; seen as a hung test). Cancelling the caller always
        # raises here; entries that read may have taken stay pending and are claimed again.
        read = self._read = asyncio.ensure_future(self._xreadgroup())
        try:
            return await asyncio.shield(read)
        except asyncio.CancelledError:
            read.cancel()
            raise
        finally:
            self._read = None

    async def _xreadgroup(self) -> list[Entry]:
        reply: Any = await self._redis.xreadgroup(
            self.group,
            self.consumer,
            {self.stream: ">"},
            count=self._batch_entries,
            block=self._block_ms,
        )
        if isinstance(reply, dict):  # RESP3 (``?protocol=3``): {stream: [records]}
            groups = [records for value in reply.values() for records in value]
        else:  # RESP2: [[stream, records]], or None when nothing came
            groups = [records for _stream, records in reply or []]
        return [
            self._decode(entry_id, fields) for records in groups for entry_id, fields in records
        ]

    async def _claim(self) -> list[Entry]:
        """Take over entries idle for ``claim_idle_ms`` on any consumer of the group."""
        reply: Any = await self._redis.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_time=self._claim_idle_ms,
            start_id=self._claim_cursor,
            count=self._batch_entries,
        )
        self._claim_cursor = reply[0]
        if len(reply) > 2 and reply[2]:
            # Trimmed away while pending: Redis drops them from the pending list itself.
            log.error("redis bus: pending entries were trimmed before processing", n=len(reply[2]))
        entries = [self._decode(entry_id, fields) for entry_id, fields in reply[1]]
        if entries:
            self.claimed += len(entries)
            log.info("redis bus claimed idle entries", n=len(entries), consumer=self.consumer)
        return entries

    def _decode(self, entry_id: bytes, fields: dict[bytes, bytes] | None) -> Entry:
        try:
            if fields is None:
                raise WireError("entry deleted")
            doc = json.loads(fields[FIELD])
            if not isinstance(doc, list):
                raise WireError("batch: expected a list")
            return entry_id, [result_from_dict(d, f"batch[{i}]") for i, d in enumerate(doc)]
        except (KeyError, ValueError, UnicodeDecodeError) as exc:  # WireError is a ValueError
            self.poisoned += 1
            log.error(
                "redis bus: undecodable entry skipped",
                entry=_text(entry_id),
                error=str(exc) or repr(exc),
            )
            return entry_id, None

    async def _ack(self, entry_id: bytes) -> None:
        if self._closed:
            log.warning("redis bus closed: entry left pending", entry=_text(entry_id))
            return
        try:
            await self._redis.xack(self.stream, self.group, entry_id)
        except RedisError as exc:
            # Not lost: it stays pending and is claimed (and processed again) later.
            log.warning(
                "redis bus ack failed", entry=_text(entry_id), error=f"{type(exc).__name__}: {exc}"
            )


def _text(entry_id: bytes | None) -> str | None:
    return None if entry_id is None else entry_id.decode(errors="replace")
