from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.flapping import FlapEventKind, FlapPolicy, FlapState, observe, settle
from statpulse.model import Status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = FlapPolicy(window_s=600, max_changes=5)


def flip(n: int) -> Status:
    return Status.DOWN if n % 2 == 0 else Status.UP


def run(
    offsets_s: list[float], policy: FlapPolicy = POLICY
) -> tuple[FlapState, list[FlapEventKind]]:
    state, kinds = FlapState(), []
    for i, off in enumerate(offsets_s):
        state, event = observe(state, T0 + timedelta(seconds=off), flip(i), policy)
        if event:
            kinds.append(event.kind)
    return state, kinds


def test_five_changes_in_window_are_not_flapping() -> None:
    state, kinds = run([0, 10, 20, 30, 40])
    assert not state.flapping
    assert kinds == []


def test_sixth_change_in_window_starts_flapping_once() -> None:
    state, kinds = run([0, 10, 20, 30, 40, 50, 60, 70])
    assert state.flapping
    assert kinds == [FlapEventKind.STARTED]


def test_changes_spread_beyond_the_window_do_not_flap() -> None:
    state, kinds = run([i * 130 for i in range(20)])
    assert not state.flapping
    assert kinds == []


def test_repeated_status_is_not_a_change() -> None:
    state, _ = observe(FlapState(), T0, Status.DOWN, POLICY)
    again, event = observe(state, T0 + timedelta(seconds=5), Status.DOWN, POLICY)
    assert again == state
    assert event is None


def test_settle_ends_flapping_after_quiet_period_stamped_when_calm() -> None:
    state, _ = run([0, 10, 20, 30, 40, 50])
    early, none = settle(state, T0 + timedelta(seconds=649), POLICY)
    assert none is None
    assert early.flapping
    calm, event = settle(state, T0 + timedelta(hours=2), POLICY)
    assert not calm.flapping
    assert event is not None
    assert event.kind is FlapEventKind.ENDED
    assert event.at == T0 + timedelta(seconds=650)
    assert event.status is Status.UP


def test_change_after_quiet_period_ends_flapping_and_counts_afresh() -> None:
    state, _ = run([0, 10, 20, 30, 40, 50])
    state, event = observe(state, T0 + timedelta(seconds=700), Status.DOWN, POLICY)
    assert event is not None
    assert event.kind is FlapEventKind.ENDED
    assert not state.flapping
    assert state.changes == (T0 + timedelta(seconds=700),)


def test_settle_without_flapping_does_nothing() -> None:
    state, _ = run([0])
    assert settle(state, T0 + timedelta(days=1), POLICY) == (state, None)


def test_custom_quiet_period_is_used_for_ending() -> None:
    policy = FlapPolicy(window_s=600, max_changes=1, quiet_s=60)
    state, kinds = run([0, 1], policy)
    assert kinds == [FlapEventKind.STARTED]
    _, event = settle(state, T0 + timedelta(seconds=61), policy)
    assert event is not None
    assert event.at == T0 + timedelta(seconds=61)


@given(st.lists(st.floats(min_value=0, max_value=599), min_size=1, max_size=60))
def test_any_flips_inside_one_window_start_flapping_at_most_once(offsets: list[float]) -> None:
    _, kinds = run(sorted(offsets))
    assert kinds.count(FlapEventKind.STARTED) <= 1
    assert FlapEventKind.ENDED not in kinds


@given(st.lists(st.floats(min_value=0.001, max_value=2000), min_size=1, max_size=80))
def test_started_and_ended_events_alternate(gaps: list[float]) -> None:
    state, kinds, t = FlapState(), [], 0.0
    for i, gap in enumerate(gaps):
        t += gap
        state, event = observe(state, T0 + timedelta(seconds=t), flip(i), POLICY)
        if event:
            kinds.append(event.kind)
    expected = [FlapEventKind.STARTED, FlapEventKind.ENDED] * len(kinds)
    assert kinds == expected[: len(kinds)]
