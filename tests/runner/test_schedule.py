"""The fixed-rate schedule on a fake clock (times are plain numbers)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.model import CheckSpec, new_id
from statpulse.runner.schedule import Schedule, first_due, start_offset


def spec(interval: int = 10, monitor_id: uuid.UUID | None = None) -> CheckSpec:
    return CheckSpec(
        monitor_id=monitor_id or new_id(),
        kind="http",
        target="http://127.0.0.1/",
        interval_s=interval,
        timeout_s=5,
    )


def test_offset_is_deterministic_and_inside_the_interval() -> None:
    monitor_id = new_id()
    assert start_offset(monitor_id, 10) == start_offset(monitor_id, 10)
    assert 0 <= start_offset(monitor_id, 10) < 10


def test_offsets_spread_over_the_interval() -> None:
    offsets = [start_offset(uuid.uuid4(), 10) for _ in range(2000)]
    buckets = [0] * 10
    for o in offsets:
        buckets[int(o)] += 1
    # Each 1 s bucket gets ~200; none is empty or holds a crowd.
    assert min(buckets) > 120 and max(buckets) < 280
    assert len(set(offsets)) > 1990


@given(st.floats(0, 1e9), st.integers(10, 3600), st.floats(0, 0.999))
def test_first_due_is_on_the_grid_and_not_in_the_past(
    now: float, interval: int, frac: float
) -> None:
    offset = frac * interval
    due = first_due(now, interval, offset)
    assert now <= due < now + interval + 1e-6
    k = (due - offset) / interval
    assert abs(k - round(k)) < 1e-6


def test_runs_at_a_fixed_rate_on_the_monitors_grid() -> None:
    s = spec(10)
    schedule = Schedule()
    schedule.set([s], now=1000.0)
    offset = start_offset(s.monitor_id, 10)
    runs = []
    while (due := schedule.next_due()) is not None and due < 1100:
        runs.extend(d.scheduled_at for d in schedule.pop_due(due + 0.003))  # wake 3 ms late
    assert runs == pytest.approx([1000 + offset + 10 * k for k in range(len(runs))])
    assert len(runs) == 10


def test_a_late_wakeup_does_not_shift_later_runs() -> None:
    s = spec(10)
    schedule = Schedule()
    schedule.set([s], now=0.0)
    first = schedule.next_due()
    assert first is not None
    schedule.pop_due(first + 4.0)  # the check started 4 s late (fixed delay would drift)
    assert schedule.next_due() == pytest.approx(first + 10)


def test_falling_behind_skips_runs_instead_of_bursting() -> None:
    s = spec(10)
    schedule = Schedule()
    schedule.set([s], now=0.0)
    first = schedule.next_due()
    assert first is not None
    due = schedule.pop_due(first + 35)
    assert len(due) == 1
    assert due[0].skipped == 3
    assert due[0].scheduled_at == pytest.approx(first + 30)
    assert schedule.next_due() == pytest.approx(first + 40)


def test_nothing_is_due_before_its_time() -> None:
    schedule = Schedule()
    schedule.set([spec(10)], now=0.0)
    first = schedule.next_due()
    assert first is not None
    assert schedule.pop_due(first - 0.0005) == []


def test_set_keeps_timing_of_unchanged_monitors_and_drops_removed_ones() -> None:
    a, b = spec(10), spec(10)
    schedule = Schedule()
    schedule.set([a, b], now=0.0)
    due_a = start_offset(a.monitor_id, 10)
    schedule.set([a], now=5.0)
    assert len(schedule) == 1
    due = schedule.pop_due(100.0)
    assert [d.spec.monitor_id for d in due] == [a.monitor_id]
    assert due[0].scheduled_at == pytest.approx(due_a + 10 * ((100.0 - due_a) // 10))


def test_changing_the_interval_reschedules() -> None:
    a = spec(10)
    schedule = Schedule()
    schedule.set([a], now=0.0)
    slower = CheckSpec(a.monitor_id, a.kind, a.target, 60, a.timeout_s)
    schedule.set([slower], now=0.0)
    assert schedule.next_due() == pytest.approx(start_offset(a.monitor_id, 60))
    assert len(schedule.pop_due(1000.0)) == 1


def test_many_monitors_are_each_due_once_per_interval() -> None:
    specs = [spec(10) for _ in range(500)]
    schedule = Schedule()
    schedule.set(specs, now=0.0)
    seen = [d.spec.monitor_id for d in schedule.pop_due(10.0)]
    assert sorted(seen) == sorted(s.monitor_id for s in specs)
