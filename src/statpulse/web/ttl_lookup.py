"""A small TTL cache in front of a store lookup on the request path (custom-domain routing,
private-page rules): a hit costs a dict read; a miss, or an entry older than ``ttl_s``, asks
the store once and remembers the answer, ``None`` included (an unknown name is asked about at
most once per ``ttl_s``). Bounded: at ``max_entries`` the whole cache is dropped, so a flood of
random keys cannot grow it for ever. ``invalidate`` drops everything (this process's writes);
other processes catch up within ``ttl_s``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlLookup(Generic[V]):
    def __init__(
        self,
        load: Callable[[str], Awaitable[V | None]],
        *,
        ttl_s: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl, self._max, self._clock = ttl_s, max_entries, clock
        self._cache: dict[str, tuple[float, V | None]] = {}

    async def get(self, key: str) -> V | None:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = await self._load(key)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = (now + self._ttl, found)
        return found

    def invalidate(self) -> None:
        self._cache.clear()
