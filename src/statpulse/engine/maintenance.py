"""Maintenance windows (pure: no I/O, no clock reads; instants are passed in).

A window is one of four kinds, each with an IANA ``timezone``:

* ``one_off``: ``start`` and ``end``, timezone-aware instants;
* ``weekly``: ``weekdays`` (0 = Monday) at local ``start_time`` for ``duration_s``;
* ``rrule``: an RFC 5545 text with a floating (zone-less) ``DTSTART`` line and ``RRULE`` /
  ``RDATE`` / ``EXDATE`` lines, read with ``dateutil.rrule.rrulestr``, plus ``duration_s``;
* ``cron``: a cron expression (croniter) plus ``duration_s``.

Recurring starts are computed as local wall-clock times and only then placed in the zone, so
"Sundays 02:00 Europe/Berlin" starts at 02:00 local in winter and in summer. A local start that
does not exist (the spring-forward gap) keeps the offset from before the gap: 02:30 becomes
03:30 summer time; an ambiguous one (autumn fall-back) is its first occurrence (summer time).
``duration_s`` is elapsed time, so a 2 h window across a DST change lasts 2 real hours.
Every returned instant is UTC. Occurrences are half-open ``[start, end)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from dateutil.rrule import rruleset, rrulestr

# The most a local start can move in UTC terms relative to its neighbours (DST shifts are at
# most 2 h anywhere); scans start and stop this far beyond the instants asked about.
_SLACK = timedelta(hours=3)
_DTSTART = re.compile(r"^DTSTART(?P<params>;[^:]*)?:(?P<value>\S+)$", re.MULTILINE | re.I)


class WindowKind(StrEnum):
    ONE_OFF = "one_off"
    WEEKLY = "weekly"
    RRULE = "rrule"
    CRON = "cron"


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    kind: WindowKind
    timezone: str = "UTC"
    start: datetime | None = None
    end: datetime | None = None
    weekdays: tuple[int, ...] = ()
    start_time: time | None = None
    rrule: str | None = None
    cron: str | None = None
    duration_s: int = 0


class TransitionKind(StrEnum):
    STARTED = "started"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class Transition:
    kind: TransitionKind
    at: datetime
    occurrence: tuple[datetime, datetime]


def _rule(text: str) -> rruleset:
    """Parse an RRULE text; raises ValueError naming ``rrule``."""
    match = _DTSTART.search(text)
    if match is None:
        # Without DTSTART dateutil would read the clock.
        raise ValueError("rrule: a DTSTART line is required")
    if "TZID" in (match["params"] or "").upper() or match["value"].upper().endswith("Z"):
        raise ValueError("rrule: DTSTART must be a local time without zone; set timezone")
    try:
        rule = rrulestr(text, forceset=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"rrule: {exc}") from exc
    assert isinstance(rule, rruleset)
    return rule


def validate(window: MaintenanceWindow) -> None:
    """Return None when ``window`` is usable; else raise ValueError whose message starts with
    the offending field (``timezone``, ``start``, ``end``, ``weekdays``, ``start_time``,
    ``rrule``, ``cron``, ``duration_s``)."""
    try:
        ZoneInfo(window.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: unknown time zone {window.timezone!r}") from exc
    if window.kind is WindowKind.ONE_OFF:
        if window.start is None or window.start.tzinfo is None:
            raise ValueError("start: a timezone-aware instant is required")
        if window.end is None or window.end.tzinfo is None:
            raise ValueError("end: a timezone-aware instant is required")
        if window.end <= window.start:
            raise ValueError("end: must be after start")
        return
    if window.duration_s <= 0:
        raise ValueError("duration_s: must be a positive number of seconds")
    if window.kind is WindowKind.WEEKLY:
        if not window.weekdays or any(d not in range(7) for d in window.weekdays):
            raise ValueError("weekdays: one or more of 0 (Monday) .. 6 (Sunday) required")
        if window.start_time is None or window.start_time.tzinfo is not None:
            raise ValueError("start_time: a local time without zone is required")
    elif window.kind is WindowKind.RRULE:
        _rule(window.rrule or "")
    elif window.kind is WindowKind.CRON and not croniter.is_valid(window.cron or ""):
        raise ValueError(f"cron: invalid cron expression {window.cron!r}")


def _local_starts(window: MaintenanceWindow, after: datetime) -> Iterator[datetime]:
    """Naive local start times at or after naive local ``after``, ascending."""
    if window.kind is WindowKind.WEEKLY:
        assert window.start_time is not None
        day = after.date()
        while True:
            start = datetime.combine(day, window.start_time)
            if day.weekday() in window.weekdays and start >= after:
                yield start
            day += timedelta(days=1)
    elif window.kind is WindowKind.RRULE:
        yield from _rule(window.rrule or "").xafter(after, inc=True)
    else:
        it = croniter(window.cron or "", after - timedelta(seconds=1))
        while True:
            start = it.get_next(datetime)
            if start >= after:
                yield start


def _occurrences(window: MaintenanceWindow, lo: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Occurrences (UTC) roughly in start order, covering every one that ends after ``lo``;
    a start may precede an earlier-yielded one by up to ``_SLACK``."""
    if window.kind is WindowKind.ONE_OFF:
        assert window.start is not None
        assert window.end is not None
        yield window.start.astimezone(UTC), window.end.astimezone(UTC)
        return
    tz, length = ZoneInfo(window.timezone), timedelta(seconds=window.duration_s)
    local_lo = (lo - length - _SLACK).astimezone(tz).replace(tzinfo=None)
    for local in _local_starts(window, local_lo):
        start = local.replace(tzinfo=tz).astimezone(UTC)
        yield start, start + length


def _between(
    window: MaintenanceWindow, lo: datetime, hi: datetime
) -> list[tuple[datetime, datetime]]:
    """Occurrences overlapping ``[lo, hi)``, sorted by start."""
    found = []
    for start, end in _occurrences(window, lo):
        if start >= hi + _SLACK:
            break
        if start < hi and end > lo:
            found.append((start, end))
    return sorted(found)


def active(window: MaintenanceWindow, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence containing ``now`` as UTC ``(start, end)``, or None. If occurrences
    overlap, the one that started first."""
    hits = _between(window, now, now + timedelta(microseconds=1))
    return hits[0] if hits else None


def next_occurrences(
    window: MaintenanceWindow, after: datetime, limit: int
) -> list[tuple[datetime, datetime]]:
    """Up to ``limit`` occurrences starting strictly after ``after``, ascending, in UTC."""
    found: list[tuple[datetime, datetime]] = []
    for occ in _occurrences(window, after):
        if len(found) >= limit and occ[0] > found[limit - 1][0] + _SLACK:
            break
        if occ[0] > after:
            found = sorted([*found, occ])
    return found[:limit]


def transitions(window: MaintenanceWindow, since: datetime, until: datetime) -> list[Transition]:
    """Every ``started`` and ``ended`` event whose instant lies in ``[since, until)``, in time
    order (an end before a start at the same instant). Consecutive slices therefore report each
    event exactly once."""
    events = []
    for occ in _between(window, since - timedelta(microseconds=1), until):
        for kind, at in ((TransitionKind.STARTED, occ[0]), (TransitionKind.ENDED, occ[1])):
            if since <= at < until:
                events.append(Transition(kind, at, occ))
    return sorted(events, key=lambda e: (e.at, e.kind is TransitionKind.STARTED, e.occurrence))
