"""The outbox dispatcher: claims due rows, sends each through its channel, marks the outcome.

At-least-once: a row is marked only after its provider answered, and a crash in between leaves
the lease to expire, after which the row is sent again with the same message id (the
idempotency key receivers see as ``webhook-id``, Twilio's idempotency token, the e-mail
Message-ID, PagerDuty's dedup_key is the incident's).

Outcomes: delivered -> ``sent``. A permanent error (404, 410, a rejected config) -> ``dead``
and the channel is disabled with the error shown to its owner. Anything else is retried with
exponential backoff and full jitter, or after the provider's ``Retry-After`` when it is longer,
until ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

import structlog

from statpulse.model import utcnow
from statpulse.notify.base import ConfigError, DeliveryError, HttpSender
from statpulse.notify.message import Message
from statpulse.store.contract import Store
from statpulse.store.sql_outbox import OutboxItem

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_s: float = 5.0
    cap_s: float = 3600.0
    max_attempts: int = 12  # ~9 hours of retries with the defaults
    lease_s: float = 60.0  # longer than any one send (HttpSender's timeout is 10 s)

    def delay(self, attempts: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter over ``base * 2**(attempts-1)`` (capped); never sooner than the
        provider's Retry-After."""
        backoff = rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempts - 1)))
        return min(self.cap_s, max(backoff, retry_after or 0.0))


def message_doc(message: Message) -> dict[str, Any]:
    """A message as stored in the outbox (no id: the row's id becomes the message id)."""
    doc = message.payload()["data"]
    doc.pop("id")
    return dict(doc)


def message_from_doc(message_id: str, doc: Mapping[str, Any]) -> Message:
    known = {f.name for f in fields(Message)}
    values = {k: v for k, v in doc.items() if k in known}
    values["id"] = message_id
    values["occurred_at"] = datetime.fromisoformat(doc["occurred_at"])
    values["components"] = tuple(doc.get("components") or ())
    values["regions"] = tuple(doc.get("regions") or ())
    return Message(**values)


class Dispatcher:
    def __init__(
        self,
        store: Store,
        http: HttpSender,
        notifiers: Mapping[str, Any],
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = utcnow,
        rng: random.Random | None = None,
        batch: int = 50,
    ) -> None:
        self._store = store
        self._http = http
        self._notifiers = notifiers
        self._policy = policy or RetryPolicy()
        self._clock = clock
        self._rng = rng or random.Random()
        self._batch = batch

    async def run_once(self) -> int:
        """Claim and deliver one batch of due rows concurrently; returns how many were claimed."""
        lease = timedelta(seconds=self._policy.lease_s)
        items = await self._store.claim_outbox(self._clock(), lease, self._batch)
        await asyncio.gather(*(self.deliver(item) for item in items))
        return len(items)

    async def drain(self) -> int:
        """Deliver until nothing is due; returns the rows handled."""
        total = 0
        while claimed := await self.run_once():
            total += claimed
        return total

    async def deliver(self, item: OutboxItem) -> None:
        channel = await self._store.get_channel(None, item.channel_id)
        if channel is None:
            return  # deleted meanwhile: its rows went with it
        message = message_from_doc(str(item.id), item.message)
        notifier = self._notifiers.get(channel.kind)
        try:
            if notifier is None:
                raise DeliveryError(f"unknown channel kind {channel.kind!r}", permanent=True)
            if not channel.enabled:
                raise DeliveryError("channel is disabled", permanent=True)
            await notifier.send(message, channel.config, self._http)
        except (DeliveryError, ConfigError) as exc:
            await self._failed(item, channel.id, exc)
            return
        await self._store.mark_sent(item.id, self._clock())
        log.info("notification sent", channel=str(channel.id), kind=channel.kind, row=str(item.id))

    async def _failed(
        self, item: OutboxItem, channel_id: uuid.UUID, exc: DeliveryError | ConfigError
    ) -> None:
        now = self._clock()
        permanent = isinstance(exc, ConfigError) or exc.permanent
        text = str(exc)
        if permanent:
            await self._store.mark_dead(item.id, text)
            if not (isinstance(exc, DeliveryError) and text == "channel is disabled"):
                await self._store.channel_failed(channel_id, text, now, disable=True)
            log.warning("notification failed for good", channel=str(channel_id), error=text)
            return
        await self._store.channel_failed(channel_id, text, now, disable=False)
        if item.attempts >= self._policy.max_attempts:
            await self._store.mark_dead(item.id, f"gave up after {item.attempts} attempts: {text}")
            return
        retry_after = exc.retry_after if isinstance(exc, DeliveryError) else None
        delay = self._policy.delay(item.attempts, retry_after, self._rng)
        await self._store.mark_retry(item.id, now + timedelta(seconds=delay), text)
        log.info("notification will be retried", channel=str(channel_id), delay_s=round(delay, 1))
