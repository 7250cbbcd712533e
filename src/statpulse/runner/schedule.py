"""The fixed-rate schedule (pure: times are passed in, nothing sleeps here).

Each monitor runs at ``offset + k * interval`` (epoch seconds), where the offset is a stable hash
of its id spread over the interval: monitors never all fire on the same tick, and a monitor keeps
its phase across restarts and runners. Fixed rate, not fixed delay: a slow check does not push
the next run later. When the scheduler falls behind by whole intervals, the missed runs are
skipped and counted, never run in a burst.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from statpulse.model import CheckSpec


def start_offset(monitor_id: uuid.UUID, interval_s: float) -> float:
    """A deterministic offset in ``[0, interval_s)`` seconds, with microsecond resolution."""
    digest = hashlib.blake2b(monitor_id.bytes, digest_size=8).digest()
    span = max(1, round(interval_s * 1_000_000))
    return (int.from_bytes(digest, "big") % span) / 1_000_000


def first_due(now: float, interval_s: float, offset: float) -> float:
    """The first run time at or after ``now`` on the monitor's grid."""
    due = offset + math.ceil((now - offset) / interval_s) * interval_s
    # Float rounding can land one step short (e.g. now=5e-324 divides to 0).
    return due if due >= now else due + interval_s


@dataclass(frozen=True, slots=True)
class Due:
    spec: CheckSpec
    scheduled_at: float  # epoch seconds
    skipped: int  # earlier runs of this monitor that were skipped because we fell behind


class Schedule:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, uuid.UUID]] = []
        self._specs: dict[uuid.UUID, CheckSpec] = {}
        self._generation: dict[uuid.UUID, int] = {}
        self._counter = 0

    def __len__(self) -> int:
        return len(self._specs)

    def set(self, specs: Iterable[CheckSpec], now: float) -> None:
        """Replace the monitored set. Unchanged monitors keep their timing; a new monitor or a
        changed interval starts on its grid at the first run time after ``now``."""
        new = {s.monitor_id: s for s in specs}
        for monitor_id in self._specs.keys() - new.keys():
            del self._specs[monitor_id]
            del self._generation[monitor_id]
        for monitor_id, spec in new.items():
            old = self._specs.get(monitor_id)
            self._specs[monitor_id] = spec
            if old is None or old.interval_s != spec.interval_s:
                offset = start_offset(monitor_id, spec.interval_s)
                self._push(monitor_id, first_due(now, spec.interval_s, offset))

    def next_due(self) -> float | None:
        self._drop_stale()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[Due]:
        """Every run due at or before ``now``; each monitor's next run is re-armed."""
        out: list[Due] = []
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return out
            due, _, monitor_id = heapq.heappop(self._heap)
            spec = self._specs[monitor_id]
            interval = spec.interval_s
            behind = math.floor((now - due) / interval)
            scheduled = due + behind * interval
            self._push(monitor_id, scheduled + interval)
            out.append(Due(spec, scheduled, behind))

    def _push(self, monitor_id: uuid.UUID, due: float) -> None:
        self._counter += 1
        self._generation[monitor_id] = self._counter
        heapq.heappush(self._heap, (due, self._counter, monitor_id))

    def _drop_stale(self) -> None:
        # Entries of removed or rescheduled monitors are dropped lazily.
        heap = self._heap
        while heap and self._generation.get(heap[0][2]) != heap[0][1]:
            heapq.heappop(heap)
