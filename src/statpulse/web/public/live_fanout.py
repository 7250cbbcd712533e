"""One live payload per status page per change, shared by the page's connected clients.

Every client of ``/s/{slug}/events`` wakes on every live event (``bus/live.py``) and sends
the page's current state. Reading that state from the store once per client made a change cost
one read per connected client; ``LiveFanout.payload`` reads it once per page and hands the
same text to every client that asks for it, as long as the read started after the last live
event this process heard (``Broadcaster.sequence``), so no client gets a state older than the
change that woke it.

A client that did not wake on an event asks with a ``max_age_s``: on connecting (0: it shares
only a read in flight, so a reconnecting crowd costs one read) and on its heartbeat (a read
started within ``HEARTBEAT_SHARE_S``); those states carry no change, only the time of the
read.

What the payload depends on besides the state - the page's language (its appearance) - is read
through ``LiveFanout.settings``, a render cache that is not dropped on live events: only on a
committed write of this process to the appearance (``watch_writes``) and after
``SETTINGS_TTL_S``, as rendered pages are (``render_cache.py``), so a change costs no
appearance query.

The page's frame (components with their monitors, overrides, maintenance windows:
``data.read_frame``) is kept the same way by ``LiveFanout.frame``, dropped on a committed
write of this process to a table the page shows (``render_cache.PAGE_TABLES``) and after
``SETTINGS_TTL_S``. Its monitors' statuses are brought up to date from the events heard since
its read began (``Broadcaster.latest``: each event carries the new status and its time, and is
published after the change committed, so an event heard before the read began is in the read).
A change thus costs no query (but the region states of multi-region monitors) instead of four.
Monitor rows are not watched (the evaluator writes them on every change): an edit of a
monitor's regions shows in the live payload within ``SETTINGS_TTL_S``, as on the rendered page;
so does a change whose event was lost (Redis down), at the latest with the next heartbeat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
import uuid
import weakref
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.store.write_watch import watch_committed_writes
from statpulse.web.public.data import PageFrame
from statpulse.web.public.render_cache import DEFAULT_TTL_S, PAGE_TABLES, RenderCache

HEARTBEAT_SHARE_S = 1.0
"""A heartbeat shares a read started this recently (seconds)."""

SETTINGS_TTL_S = DEFAULT_TTL_S
"""How long a page setting read by ``LiveFanout.settings`` is used (seconds) when no write of
this process dropped it (another worker's write shows within this time)."""
SETTINGS_TABLES = frozenset({"page_appearance"})
"""Tables whose committed writes drop the cached settings."""

MAX_FRAMES = 1024
"""Frames kept at most (all are dropped at this count, so pages cannot grow it for ever)."""

Render = Callable[[], Awaitable[str]]
"""Reads the page's state and returns the text to send; may raise (nothing is shared then)."""


@dataclass(slots=True)
class _Read:
    sequence: int  # Broadcaster.sequence when the read started
    started: float  # clock() when it started
    task: asyncio.Task[str]


class LiveFanout:
    """Shared reads of the live payload, keyed by page (and whatever else the text depends
    on). ``reads`` counts the reads started."""

    def __init__(self, live: Broadcaster, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._live = live
        self._clock = clock
        self._reads: dict[Hashable, _Read] = {}
        self.reads = 0
        self.settings = RenderCache(ttl_s=SETTINGS_TTL_S, clock=clock)
        """Page settings the payload depends on (keyed by setting and page), as bytes."""
        self._watched: Engine | None = None
        self._frames: dict[Hashable, tuple[float, int, PageFrame]] = {}
        self._frames_generation = 0

    def watch_writes(self, engine: Engine) -> None:
        """Drop ``settings`` on a committed write to ``SETTINGS_TABLES``, and the frames on one
        to ``PAGE_TABLES``, through ``engine`` (an ``AsyncEngine``'s ``sync_engine``); one
        engine per fan-out, later calls are no-ops."""
        if self._watched is None:
            self._watched = engine
            self.settings.watch_writes(engine, SETTINGS_TABLES)
            watch_committed_writes(engine, PAGE_TABLES, self._drop_frames)

    async def frame(self, key: Hashable, read: Callable[[], Awaitable[PageFrame]]) -> PageFrame:
        """The frame of page ``key`` - cached, or ``read()`` (remembered unless a watched write
        committed while it ran) - with its monitors' statuses as the live events since its read
        began tell. Raises what ``read`` raised."""
        now = self._clock()
        found = self._frames.get(key)
        if found is not None and now - found[0] <= SETTINGS_TTL_S:
            _, sequence, frame = found
        else:
            generation, sequence = self._frames_generation, self._live.sequence
            frame = await read()
            if generation == self._frames_generation:
                if len(self._frames) >= MAX_FRAMES:
                    self._frames.clear()
                self._frames[key] = (now, sequence, frame)
        return _heard(frame, sequence, self._live.latest)

    def _drop_frames(self) -> None:
        self._frames_generation += 1
        self._frames.clear()

    async def payload(self, key: Hashable, render: Render, *, max_age_s: float = math.inf) -> str:
        """The text of ``render`` for ``key``, shared with the other callers for ``key``: from
        a read started after the last live event and, unless it is still in flight, at most
        ``max_age_s`` ago; otherwise from a new read (``render()``). Raises what ``render``
        raised. A caller that goes away does not cancel the read for the others."""
        now = self._clock()
        found = self._reads.get(key)
        if found is None or not self._shareable(found, now, max_age_s):
            task = asyncio.ensure_future(render())
            task.add_done_callback(_retrieve)
            found = self._reads[key] = _Read(self._live.sequence, now, task)
            self.reads += 1
        try:
            return await asyncio.shield(found.task)
        except Exception:
            if self._reads.get(key) is found:  # a failed read is not shared with later callers
                del self._reads[key]
            raise

    def _shareable(self, read: _Read, now: float, max_age_s: float) -> bool:
        if read.sequence != self._live.sequence:
            return False  # an event came after the read started: it may show the old state
        return not read.task.done() or now - read.started <= max_age_s


_FANOUTS: weakref.WeakKeyDictionary[Broadcaster, LiveFanout] = weakref.WeakKeyDictionary()


def fanout_for(live: Broadcaster) -> LiveFanout:
    """The fan-out of ``live`` (one per broadcaster, made on first use)."""
    found = _FANOUTS.get(live)
    if found is None:
        found = _FANOUTS[live] = LiveFanout(live)
    return found


def _retrieve(task: asyncio.Task[str]) -> None:
    """Mark a failed read's exception as seen when every caller went away."""
    if not task.cancelled():
        task.exception()


def _heard(
    frame: PageFrame, since: int, latest: Mapping[uuid.UUID, tuple[int, MonitorChanged]]
) -> PageFrame:
    """``frame`` with the status of each monitor that an event heard after ``since`` (a
    ``Broadcaster.sequence``) changed, unless the frame's own status is newer."""
    pairs = []
    changed = False
    for component, monitor in frame.pairs:
        heard = latest.get(monitor.id) if monitor is not None else None
        if monitor is not None and heard is not None and heard[0] > since:
            event = heard[1]
            known = monitor.status_changed_at
            if event.at is None or known is None or event.at >= known:
                monitor = dataclasses.replace(
                    monitor, status=event.status, status_changed_at=event.at or known
                )
                changed = True
        pairs.append((component, monitor))
    return dataclasses.replace(frame, pairs=pairs) if changed else frame
