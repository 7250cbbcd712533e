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
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from statpulse.bus.live import Broadcaster

HEARTBEAT_SHARE_S = 1.0
"""A heartbeat shares a read started this recently (seconds)."""

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
