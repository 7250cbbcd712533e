"""The heartbeat service: records pings to heartbeat monitors and sweeps silence into failures.

Pings and silence become ordinary ``CheckResult`` rows of region ``push``, handed to the normal
ingest path, so monitor states, uptime and status pages treat them like probe results. The
rules live in the pure ``engine.heartbeat``; this class adds the store, the clock and the loop.

Several processes may run the sweeper against one database: a failure is written only after a
conditional claim (``Store.claim_overdue``) succeeded, so it is written once. A claim whose
result could not be stored is not retried; the next deadline (one interval later) writes again.

A paused monitor's pings are accepted and answered but record nothing: no result, no ping time.
Resuming counts silence from the moment of the resume.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import structlog

from statpulse.engine.heartbeat import (
    HEARTBEAT_KIND,
    Signal,
    overdue,
    overdue_result,
    ping_result,
)
from statpulse.model import CheckResult, Monitor, utcnow
from statpulse.store.contract import Store
from statpulse.tasks import cancel_and_wait

log = structlog.get_logger(__name__)

Accept = Callable[[Sequence[CheckResult]], Awaitable[int]]
"""Stores a batch durably and hands it to evaluation (``Ingest.accept``)."""
Clock = Callable[[], datetime]

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_token() -> str:
    """An unguessable push token (192 random bits, URL-safe)."""
    return secrets.token_urlsafe(24)


class Heartbeats:
    def __init__(
        self, store: Store, accept: Accept, clock: Clock = utcnow, *, tick_s: float = 2.0
    ) -> None:
        """``tick_s``: how often the sweeper looks for silence (how late a failure may be)."""
        self._store = store
        self._accept = accept
        self._clock = clock
        self._tick_s = tick_s
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    # tokens
    async def tokens_for(self, monitors: Sequence[Monitor]) -> dict[uuid.UUID, str]:
        """The push token of each heartbeat monitor among ``monitors``. A heartbeat monitor
        without push state (just created, or its kind just changed) gets it now."""
        beats = [m for m in monitors if m.config.kind == HEARTBEAT_KIND]
        tokens = await self._store.push_tokens([m.id for m in beats])
        for m in beats:
            if m.id not in tokens:
                tokens[m.id] = await self._store.ensure_heartbeat(m.id, new_token(), self._clock())
        return tokens

    async def token_for(self, monitor: Monitor) -> str | None:
        """The push token of a heartbeat monitor (created when missing); None for other kinds."""
        return (await self.tokens_for([monitor])).get(monitor.id)

    async def rotate(self, org_id: uuid.UUID, monitor_id: uuid.UUID) -> str | None:
        """Give the monitor a new token (the old one stops working); None when it has none."""
        token = new_token()
        return token if await self._store.rotate_push_token(org_id, monitor_id, token) else None

    async def resumed(self, org_id: uuid.UUID, monitor_id: uuid.UUID) -> None:
        """Count silence from now: a resumed monitor gets a full interval and grace."""
        await self._store.restart_heartbeat(org_id, monitor_id, self._clock())

    # pings
    async def ping(self, token: str, signal: Signal, message: str | None = None) -> bool:
        """Record a ping and write its result; False when no heartbeat monitor owns ``token``.

        ``message`` (a failure's explanation) is stored, never logged.
        """
        if not _TOKEN.fullmatch(token):
            return False
        found = await self._store.heartbeat_by_token(token)
        if found is None:
            return False
        monitor, state = found
        if monitor.paused:
            return True
        now = self._clock()
        result = ping_result(monitor.id, state, signal, now, message)
        await self._store.record_ping(monitor.id, signal, now)
        if result is not None:
            await self._accept([result])
        log.debug("heartbeat ping", monitor_id=str(monitor.id), signal=signal.value)
        return True

    # the sweeper
    async def sweep(self) -> list[CheckResult]:
        """Write the failures due now (at most one per monitor); returns them."""
        now = self._clock()
        written: list[CheckResult] = []
        for monitor, state in await self._store.due_heartbeats():
            due = overdue(state, now, monitor.config.interval_s, monitor.config.grace_s)
            if due is None:
                continue
            if await self._store.claim_overdue(monitor.id, state.version, due.deadline):
                written.append(overdue_result(monitor.id, due, now))
        if written:
            await self._accept(written)
            log.info("heartbeats overdue", monitors=len(written))
        return written

    async def start(self) -> None:
        """Run the sweeper in the background until ``stop``."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="heartbeat-sweeper")

    async def stop(self) -> None:
        """Let a sweep in progress finish (so a claimed failure is stored), then stop."""
        if self._task is None:
            return
        self._stopping.set()
        try:
            async with asyncio.timeout(10):
                await asyncio.shield(self._task)
        except TimeoutError:
            await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("heartbeat sweep failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick_s):
                    await self._stopping.wait()
