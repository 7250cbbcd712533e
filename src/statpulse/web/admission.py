"""Admission control: a bound on requests doing database work at once, and a fast "not now".

Without it, every upload of 10,000 runners waits for one of the store's pool connections,
queues for the pool's 30 s timeout and fails with a 500 (measured: bench/ingest.py). With it, at
most ``limit`` requests use the store; a request that does not get a slot within ``wait_s`` (or
finds ``max_waiting`` others already waiting) is answered 503 with a ``Retry-After`` at once,
and the runner sends the same batch again later (result ids make the replay idempotent).

``limit`` defaults to twice the store's pool capacity (``pool_capacity``): enough to keep every
connection busy while the next requests parse their bodies, small enough that none waits long
for a connection. With ``statpulse serve --workers N`` every process serves the runner API and
has its own ``Admission``: each gets 1/N of that limit (at least 1), so that all of them
together keep no more uploads in database work than one process would (the database, or
PgBouncer's pool in front of it, is shared; the processes' pools are not the limit).

``Retry-After`` grows with the overload. Every refused request costs the server a TLS read and a
``json.loads``, so 10,000 runners told to come back within 1-3 s would keep it busy with
refusals alone. Once a second the spread is re-estimated by Little's law: the runners waiting
to retry are about (refusals/s) x (mean wait told), and the server admits about (admissions/s),
so they need (waiting / admissions/s) seconds; waits are drawn uniformly up to that spread
(halfway smoothed), never below ``retry_after_s`` and never above ``max_retry_after_s``. Once
the spread has grown past ``retry_after_s``, the draws start at half of it: a runner told to
come back in 1 s when thousands are queued before it would only be refused again (measured with
10,000 runners: refusals were most of the requests, and their TLS reads and JSON parsing took
the CPU that new connections' handshakes needed).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

DEFAULT_WAIT_S = 0.5
DEFAULT_RETRY_AFTER_S = (1.0, 3.0)
MAX_RETRY_AFTER_S = 60.0
SQLITE_CAPACITY = 5
"""SQLite commits one writer at a time: more connections only wait on its lock."""


class Overloaded(Exception):
    """No slot in time: answer 503 with ``Retry-After: retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"overloaded: retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


def pool_capacity(engine: Any) -> int:
    """Connections the SQLAlchemy ``engine``'s pool can hand out at once (size + overflow).

    Pools without a size (``NullPool``, ``StaticPool``) and SQLite count as ``SQLITE_CAPACITY``.
    """
    sync = getattr(engine, "sync_engine", engine)
    if sync.dialect.name == "sqlite":
        return SQLITE_CAPACITY
    pool = sync.pool
    size = getattr(pool, "size", None)
    if not callable(size):
        return SQLITE_CAPACITY
    overflow = max(0, int(getattr(pool, "_max_overflow", 0)))
    return max(1, int(size()) + overflow)


class Admission:
    """At most ``limit`` holders at once; waits at most ``wait_s`` for a slot.

    ``retry_after_s``: the (low, high) range a refused request is told to wait when the
    overload is light, drawn uniformly (jitter, so refused runners do not come back on the same
    tick) and rounded up to whole seconds (``Retry-After`` takes an integer); ``high`` grows
    with the overload up to ``max_retry_after_s`` (see the module's docstring). ``rng`` and
    ``clock`` (monotonic seconds): injected for tests.
    """

    def __init__(
        self,
        limit: int,
        *,
        wait_s: float = DEFAULT_WAIT_S,
        max_waiting: int | None = None,
        retry_after_s: tuple[float, float] = DEFAULT_RETRY_AFTER_S,
        max_retry_after_s: float = MAX_RETRY_AFTER_S,
        rng: Callable[[float, float], float] = random.uniform,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ValueError("limit: at least 1")
        self.limit = limit
        self.wait_s = wait_s
        self.max_waiting = max_waiting if max_waiting is not None else 4 * limit
        self._retry_after = retry_after_s
        self._max_retry_after = max(max_retry_after_s, retry_after_s[1])
        self._rng = rng
        self._clock = clock
        self._slots = asyncio.Semaphore(limit)
        self.active = 0
        self.waiting = 0
        self.refused = 0
        self.admitted = 0
        self.spread_s = retry_after_s[1]
        """The current upper bound of the waits told (grows with the overload)."""
        self._window = (clock(), 0, 0)  # start, admitted then, refused then

    @classmethod
    def for_engine(
        cls, engine: Any, factor: int = 2, *, workers: int = 1, **options: Any
    ) -> Admission:
        """``factor`` x the pool capacity of a SQLAlchemy engine, shared out between the
        ``workers`` processes that serve the same database (each gets its part, at least 1)."""
        if workers < 1:
            raise ValueError("workers: at least 1")
        return cls(max(1, factor * pool_capacity(engine) // workers), **options)

    def retry_after(self) -> int:
        """Seconds to tell a refused request to wait (whole, at least 1)."""
        self._update_spread()
        return max(1, math.ceil(self._rng(self._floor(), self.spread_s)))

    def _floor(self) -> float:
        """The shortest wait told: ``retry_after_s[0]``, or half the spread once it grew."""
        low, high = self._retry_after
        return low if self.spread_s <= high else max(low, self.spread_s / 2)

    def _update_spread(self) -> None:
        now = self._clock()
        start, admitted0, refused0 = self._window
        span = now - start
        if span < 1.0:
            return
        admitted_rate = (self.admitted - admitted0) / span
        refused_rate = (self.refused - refused0) / span
        high = self._retry_after[1]
        waiting = refused_rate * (self._floor() + self.spread_s) / 2  # x the mean wait told
        target = waiting / max(admitted_rate, 1.0)
        smoothed = (self.spread_s + target) / 2
        self.spread_s = min(self._max_retry_after, max(high, smoothed))
        self._window = (now, self.admitted, self.refused)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold a slot for the body of the ``async with``; raises ``Overloaded`` instead of
        waiting longer than ``wait_s`` (or at all, when ``max_waiting`` others wait)."""
        if self._slots.locked() and self.waiting >= self.max_waiting:
            raise self._refuse()
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):
                await self._slots.acquire()
        except TimeoutError:
            raise self._refuse() from None
        finally:
            self.waiting -= 1
        self.active += 1
        self.admitted += 1
        try:
            yield
        finally:
            self.active -= 1
            self._slots.release()

    def _refuse(self) -> Overloaded:
        self.refused += 1
        return Overloaded(self.retry_after())
