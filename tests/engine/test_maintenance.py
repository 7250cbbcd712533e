from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statpulse.engine.maintenance import (
    MaintenanceWindow,
    TransitionKind,
    WindowKind,
    active,
    next_occurrences,
    transitions,
    validate,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


BERLIN = "Europe/Berlin"
TWO_H = 2 * 3600
WEEKLY = MaintenanceWindow(
    WindowKind.WEEKLY, BERLIN, weekdays=(6,), start_time=time(2), duration_s=TWO_H
)
RRULE = MaintenanceWindow(
    WindowKind.RRULE,
    BERLIN,
    rrule="DTSTART:20260104T020000\nRRULE:FREQ=WEEKLY;BYDAY=SU",
    duration_s=TWO_H,
)
CRON = MaintenanceWindow(WindowKind.CRON, BERLIN, cron="0 2 * * 0", duration_s=TWO_H)
ONE_OFF = MaintenanceWindow(WindowKind.ONE_OFF, start=utc(2026, 5, 1, 22), end=utc(2026, 5, 2, 1))
RECURRING = [WEEKLY, RRULE, CRON]


@pytest.mark.parametrize(
    ("window", "field"),
    [
        (
            MaintenanceWindow(WindowKind.CRON, "Mars/Olympus", cron="0 2 * * 0", duration_s=1),
            "timezone",
        ),
        (MaintenanceWindow(WindowKind.CRON, cron="0 2 * * 0", duration_s=0), "duration_s"),
        (MaintenanceWindow(WindowKind.CRON, cron="61 2 * * 0", duration_s=60), "cron"),
        (MaintenanceWindow(WindowKind.RRULE, rrule="RRULE:FREQ=DAILY", duration_s=60), "rrule"),
        (
            MaintenanceWindow(
                WindowKind.RRULE,
                rrule="DTSTART:20260101T000000\nRRULE:FREQ=SOMETIMES",
                duration_s=60,
            ),
            "rrule",
        ),
        (
            MaintenanceWindow(
                WindowKind.RRULE, rrule="DTSTART:20260101T000000Z\nRRULE:FREQ=DAILY", duration_s=60
            ),
            "rrule",
        ),
        (
            MaintenanceWindow(WindowKind.WEEKLY, weekdays=(), start_time=time(2), duration_s=60),
            "weekdays",
        ),
        (
            MaintenanceWindow(WindowKind.WEEKLY, weekdays=(7,), start_time=time(2), duration_s=60),
            "weekdays",
        ),
        (MaintenanceWindow(WindowKind.WEEKLY, weekdays=(1,), duration_s=60), "start_time"),
        (MaintenanceWindow(WindowKind.ONE_OFF, end=utc(2026, 1, 1)), "start"),
        (MaintenanceWindow(WindowKind.ONE_OFF, start=utc(2026, 1, 1)), "end"),
        (MaintenanceWindow(WindowKind.ONE_OFF, start=utc(2026, 1, 2), end=utc(2026, 1, 1)), "end"),
    ],
)
def test_validate_rejects_bad_window_naming_the_field(
    window: MaintenanceWindow, field: str
) -> None:
    with pytest.raises(ValueError, match=f"^{field}:"):
        validate(window)


@pytest.mark.parametrize("window", [*RECURRING, ONE_OFF])
def test_validate_accepts_good_windows(window: MaintenanceWindow) -> None:
    validate(window)


@pytest.mark.parametrize("window", RECURRING)
@pytest.mark.parametrize(
    ("sunday", "start_utc"),
    [
        (utc(2026, 3, 22), utc(2026, 3, 22, 1)),  # CET: 02:00 local is 01:00 UTC
        (utc(2026, 3, 29), utc(2026, 3, 29, 1)),  # spring gap: 02:00 does not exist -> 03:00 CEST
        (utc(2026, 4, 5), utc(2026, 4, 5, 0)),  # CEST: 02:00 local is 00:00 UTC
        (utc(2026, 10, 25), utc(2026, 10, 25, 0)),  # fall-back: first 02:00 (CEST)
        (utc(2026, 11, 1), utc(2026, 11, 1, 1)),  # CET again
    ],
)
def test_berlin_sunday_window_stays_at_local_two_across_dst(
    window: MaintenanceWindow, sunday: datetime, start_utc: datetime
) -> None:
    [occ] = next_occurrences(window, sunday - timedelta(hours=3), 1)
    assert occ == (start_utc, start_utc + timedelta(hours=2))


@pytest.mark.parametrize("window", RECURRING)
def test_active_returns_the_occurrence_containing_now(window: MaintenanceWindow) -> None:
    start = utc(2026, 4, 5, 0)
    assert active(window, start) == (start, start + timedelta(hours=2))
    assert active(window, start + timedelta(minutes=119)) == (start, start + timedelta(hours=2))


@pytest.mark.parametrize("window", RECURRING)
def test_active_is_none_outside_and_at_the_end(window: MaintenanceWindow) -> None:
    assert active(window, utc(2026, 4, 5, 2)) is None
    assert active(window, utc(2026, 4, 4, 23, 59)) is None
    assert active(window, utc(2026, 4, 8, 12)) is None


def test_one_off_window_is_active_between_start_and_end() -> None:
    assert active(ONE_OFF, utc(2026, 5, 1, 23)) == (utc(2026, 5, 1, 22), utc(2026, 5, 2, 1))
    assert active(ONE_OFF, utc(2026, 5, 2, 1)) is None


def test_next_occurrences_are_ascending_and_strictly_after() -> None:
    occs = next_occurrences(WEEKLY, utc(2026, 4, 5, 0), 3)
    assert [s for s, _ in occs] == [utc(2026, 4, 12), utc(2026, 4, 19), utc(2026, 4, 26)]


def test_next_occurrences_of_finite_rrule_stop_when_exhausted() -> None:
    window = MaintenanceWindow(
        WindowKind.RRULE, rrule="DTSTART:20260101T000000\nRRULE:FREQ=DAILY;COUNT=2", duration_s=60
    )
    assert len(next_occurrences(window, utc(2025, 1, 1), 10)) == 2


def test_rrule_exdate_skips_an_occurrence() -> None:
    window = MaintenanceWindow(
        WindowKind.RRULE,
        rrule="DTSTART:20260101T000000\nRRULE:FREQ=DAILY\nEXDATE:20260102T000000",
        duration_s=60,
    )
    starts = [s for s, _ in next_occurrences(window, utc(2025, 12, 31), 2)]
    assert starts == [utc(2026, 1, 1), utc(2026, 1, 3)]


def test_transitions_report_start_and_end_in_order() -> None:
    events = transitions(WEEKLY, utc(2026, 4, 4), utc(2026, 4, 6))
    assert [(e.kind, e.at) for e in events] == [
        (TransitionKind.STARTED, utc(2026, 4, 5, 0)),
        (TransitionKind.ENDED, utc(2026, 4, 5, 2)),
    ]


def test_transitions_are_half_open_on_until() -> None:
    assert transitions(WEEKLY, utc(2026, 4, 4), utc(2026, 4, 5, 0)) == []
    [event] = transitions(WEEKLY, utc(2026, 4, 5, 0), utc(2026, 4, 5, 1))
    assert event.kind is TransitionKind.STARTED


SPAN = (utc(2026, 3, 20), utc(2026, 4, 10))
INSIDE_SPAN = MaintenanceWindow(
    WindowKind.ONE_OFF, start=utc(2026, 3, 25, 10), end=utc(2026, 3, 25, 12)
)


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from([*RECURRING, ONE_OFF, INSIDE_SPAN]),
    st.lists(st.integers(min_value=0, max_value=21 * 86400), max_size=12),
)
def test_splitting_a_span_into_slices_yields_the_same_transitions(
    window: MaintenanceWindow, cuts_s: list[int]
) -> None:
    lo, hi = SPAN
    edges = [lo, *sorted({lo + timedelta(seconds=c) for c in cuts_s}), hi]
    sliced = [e for a, b in itertools.pairwise(edges) for e in transitions(window, a, b)]
    assert sliced == transitions(window, lo, hi)
