"""An in-process cache of rendered public pages (``/s/{slug}``, keyed by slug and query).

An entry holds the HTML, its gzip encoding (compressed once per render: compressing on every
request is most of a cached page's CPU) and a weak ETag (a hash of the HTML; weak because the
identity and gzip bodies are the same representation in two encodings).

An entry is dropped:

- on any live ``MonitorChanged`` event (``bus/live.py``). The cache subscribes to the process's
  ``Broadcaster``; with Redis that broadcaster hears every worker's changes
  (``bus/redis_live.py``), so every worker invalidates. Events are read lazily, at the next
  lookup, so the cache needs no task of its own;
- on a committed write, by this process, to a table the page shows (``PAGE_TABLES``: incidents,
  maintenances, components, pages...), seen through SQLAlchemy's engine events
  (``watch_writes``), so an edit shows on the next request of this process;
- after ``ttl_s`` (default 5 s), so what neither announces (another worker's incident edit,
  time-based text such as a maintenance window starting) shows within that time. The page's
  "Last updated" is the time of the render, so it stays truthful: at most ``ttl_s`` old.

Misses are single-flight: concurrent requests for the same key wait for one render.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from contextlib import AsyncExitStack
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.store.write_watch import watch_committed_writes

DEFAULT_TTL_S = 5.0
DEFAULT_MAX_ENTRIES = 1024
GZIP_LEVEL = 9  # once per render, so the smallest body is worth it
PAGE_TABLES = frozenset(
    {
        "status_pages",
        "components",
        "page_components",
        "component_overrides",
        "incidents",
        "incident_updates",
        "maintenances",
        "custom_domains",
        "page_appearance",
        "component_groups",
        "component_group_members",
    }
)
"""Tables whose writes change a rendered page. Not ``monitors``: a status change comes as a
``MonitorChanged`` event, and the evaluator writes monitor rows far more often than they change."""

Render = Callable[[], Awaitable[bytes]]
"""Renders the page; may raise (an ``ApiError`` 404, say): nothing is cached then."""


@dataclass(frozen=True, slots=True)
class Rendered:
    body: bytes
    gzipped: bytes
    etag: str  # W/"<hash>", quoted as sent in the ETag header


def rendered(body: bytes) -> Rendered:
    """The entry for ``body``: its gzip encoding and ETag."""
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    return Rendered(body, gzip.compress(body, GZIP_LEVEL, mtime=0), f'W/"{digest}"')


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 13.1.2) of an ``If-None-Match`` header with ``etag``."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == opaque for tag in if_none_match.split(","))


class RenderCache:
    """``get(key, render)`` returns the cached entry for ``key`` or renders it (once however
    many requests wait). ``renders`` counts the renders that completed."""

    def __init__(
        self,
        *,
        ttl_s: float = DEFAULT_TTL_S,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.renders = 0
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Rendered]] = {}
        self._inflight: dict[Hashable, asyncio.Task[Rendered]] = {}
        self._generation = 0
        self._events: asyncio.Queue[MonitorChanged] | None = None
        self._stack = AsyncExitStack()

    async def watch(self, live: Broadcaster) -> None:
        """Invalidate on ``live``'s events from now on (until ``close``)."""
        self._events = await self._stack.enter_async_context(live.subscribe())

    def watch_writes(self, engine: Engine, tables: frozenset[str] = PAGE_TABLES) -> None:
        """Invalidate when a transaction on ``engine`` (an ``AsyncEngine``'s ``sync_engine``)
        that wrote to one of ``tables`` commits (until ``close``)."""
        self._stack.callback(watch_committed_writes(engine, tables, self.invalidate))

    async def close(self) -> None:
        await self._stack.aclose()
        self._events = None

    def invalidate(self) -> None:
        """Drop every entry; a render in flight is not cached either, and later requests do
        not wait for it (it may have read the state before the change)."""
        self._generation += 1
        self._entries.clear()
        self._inflight.clear()

    def fresh(self, key: Hashable) -> Rendered | None:
        """The entry for ``key`` if it is cached and fresh (no render)."""
        self._drain_events()
        found = self._entries.get(key)
        if found is None:
            return None
        if self._clock() < found[0]:
            return found[1]
        del self._entries[key]
        return None

    async def get(self, key: Hashable, render: Render) -> Rendered:
        found = self.fresh(key)
        if found is not None:
            return found
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fill(key, render))
            task.add_done_callback(_retrieve)
            self._inflight[key] = task
        # Shielded: a waiter that goes away (client disconnected) does not cancel the others'.
        return await asyncio.shield(task)

    async def _fill(self, key: Hashable, render: Render) -> Rendered:
        generation = self._generation
        try:
            entry = rendered(await render())
        finally:
            if self._inflight.get(key) is asyncio.current_task():
                del self._inflight[key]
        self.renders += 1
        self._drain_events()  # a change during the render: it may have read the old state
        if generation == self._generation:
            if len(self._entries) >= self.max_entries:
                del self._entries[next(iter(self._entries))]  # the oldest insertion
            self._entries[key] = (self._clock() + self.ttl_s, entry)
        return entry

    def _drain_events(self) -> None:
        events = self._events
        if events is None or events.empty():
            return
        while not events.empty():
            events.get_nowait()
        self.invalidate()


def _retrieve(task: asyncio.Task[Rendered]) -> None:
    """Mark a failed render's exception as seen when every waiter went away."""
    if not task.cancelled():
        task.exception()
