from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statpulse.engine.alerting import (
    AlertKind,
    AlertPolicy,
    AlertState,
    Certificate,
    Decision,
    Override,
    Signal,
    decide,
)
from statpulse.engine.flapping import FlapPolicy
from statpulse.engine.incidents import ComponentStatus
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.model import Status

MID = uuid.UUID(int=1)
T0 = datetime(2026, 6, 1, 12, tzinfo=UTC)
POLICY = AlertPolicy()
NIGHTLY = MaintenanceWindow(
    WindowKind.ONE_OFF, start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=20)
)


def sig(minute: float, status: Status, **kw: object) -> Signal:
    return Signal(MID, T0 + timedelta(minutes=minute), status, **kw)  # type: ignore[arg-type]


def run(
    signals: list[Signal], policy: AlertPolicy = POLICY, state: AlertState | None = None
) -> tuple[AlertState, list[Decision]]:
    state = state or AlertState()
    decisions = []
    for s in signals:
        state, d = decide(state, s, policy)
        decisions.append(d)
    return state, decisions


def kinds(decisions: list[Decision]) -> list[tuple[AlertKind, str]]:
    return [(e.kind, e.status) for d in decisions for e in d.events]


def test_new_monitor_coming_up_does_not_alert() -> None:
    _, ds = run([sig(0, Status.UP)])
    assert kinds(ds) == []
    assert ds[0].display is ComponentStatus.OPERATIONAL


def test_going_down_alerts_once_and_recovery_alerts_once() -> None:
    _, ds = run([sig(0, Status.UP), sig(1, Status.DOWN), sig(2, Status.DOWN), sig(3, Status.UP)])
    assert kinds(ds) == [(AlertKind.STATUS_CHANGED, "down"), (AlertKind.STATUS_CHANGED, "up")]
    assert ds[1].events[0].previous == "up"


def test_down_within_confirmation_window_does_not_alert() -> None:
    policy = AlertPolicy(confirm_s=120)
    _, ds = run([sig(0, Status.UP), sig(1, Status.DOWN), sig(2, Status.UP)], policy)
    assert kinds(ds) == []
    assert ds[1].status is Status.UP


def test_down_persisting_for_confirmation_window_alerts() -> None:
    policy = AlertPolicy(confirm_s=120)
    _, ds = run([sig(0, Status.UP), sig(1, Status.DOWN), sig(3, Status.DOWN)], policy)
    assert kinds(ds) == [(AlertKind.STATUS_CHANGED, "down")]
    assert ds[2].events[0].at == T0 + timedelta(minutes=3)


def test_latency_degraded_turns_up_into_degraded() -> None:
    _, ds = run([sig(0, Status.UP, latency_degraded=True)])
    assert ds[0].status is Status.DEGRADED
    assert ds[0].display is ComponentStatus.DEGRADED_PERFORMANCE


@pytest.mark.parametrize(
    ("failing", "total", "display"),
    [(2, 3, ComponentStatus.PARTIAL_OUTAGE), (3, 3, ComponentStatus.MAJOR_OUTAGE)],
)
def test_down_display_depends_on_failing_regions(
    failing: int, total: int, display: ComponentStatus
) -> None:
    _, ds = run([sig(0, Status.DOWN, failing_regions=failing, total_regions=total)])
    assert ds[0].display is display


def test_maintenance_shows_maintenance_and_suppresses_alerts() -> None:
    w = (NIGHTLY,)
    _, ds = run([sig(0, Status.UP, maintenance=w), sig(11, Status.DOWN, maintenance=w)])
    assert ds[1].status is Status.MAINTENANCE
    assert ds[1].display is ComponentStatus.UNDER_MAINTENANCE
    assert kinds(ds) == []


def test_still_down_after_maintenance_alerts_once_when_it_ends() -> None:
    w = (NIGHTLY,)
    _, ds = run([sig(11, Status.DOWN, maintenance=w), sig(21, Status.DOWN, maintenance=w)])
    assert kinds(ds) == [(AlertKind.STATUS_CHANGED, "down")]


def test_override_is_displayed_and_alerted_once_from_the_change() -> None:
    o = Override.MAJOR_OUTAGE
    _, ds = run([sig(0, Status.UP, override=o), sig(1, Status.DOWN, override=o)])
    assert [d.display for d in ds] == [ComponentStatus.MAJOR_OUTAGE] * 2
    assert kinds(ds) == [(AlertKind.OVERRIDE_SET, "major_outage")]


def test_clearing_override_alerts_once_with_the_checked_status() -> None:
    o = Override.DEGRADED
    _, ds = run(
        [sig(0, Status.UP, override=o), sig(1, Status.DOWN, override=o), sig(2, Status.DOWN)]
    )
    assert kinds(ds) == [(AlertKind.OVERRIDE_SET, "degraded"), (AlertKind.OVERRIDE_CLEARED, "down")]
    assert ds[2].display is ComponentStatus.MAJOR_OUTAGE


def test_override_wins_over_maintenance() -> None:
    _, ds = run([sig(11, Status.UP, maintenance=(NIGHTLY,), override=Override.PARTIAL_OUTAGE)])
    assert ds[0].display is ComponentStatus.PARTIAL_OUTAGE


def test_flapping_sends_started_then_ended_instead_of_each_flip() -> None:
    policy = AlertPolicy(flap=FlapPolicy(window_s=600, max_changes=3, quiet_s=300))
    flips = [sig(m, Status.DOWN if m % 2 == 0 else Status.UP) for m in range(1, 9)]
    _, ds = run([sig(0, Status.UP), *flips, sig(20, Status.UP)], policy)
    assert [k for k, _ in kinds(ds)] == [
        AlertKind.STATUS_CHANGED,
        AlertKind.STATUS_CHANGED,
        AlertKind.FLAPPING_STARTED,
        AlertKind.FLAPPING_ENDED,
    ]


CERT = Certificate("sha256:aa", T0 + timedelta(days=20))


def test_tls_warning_is_sent_once_per_threshold_crossing() -> None:
    policy = AlertPolicy(tls_warn_days=(14, 7))
    days = [0, 5, 6, 7, 12, 13, 14]
    _, ds = run([sig(d * 1440, Status.UP, certificate=CERT) for d in days], policy)
    tls = [(d.events[0].at - T0).days for d in ds if d.events]
    assert tls == [6, 13]


def test_tls_crossing_several_thresholds_at_once_warns_once() -> None:
    policy = AlertPolicy(tls_warn_days=(30, 14, 7))
    soon = Certificate("sha256:cc", T0 + timedelta(days=5))
    _, ds = run([sig(0, Status.UP, certificate=soon)] * 3, policy)
    assert [e.detail for d in ds for e in d.events] == [
        f"expires {soon.not_after.isoformat()}, within 7 days"
    ]


def test_renewed_certificate_warns_afresh() -> None:
    renewed = Certificate("sha256:bb", CERT.not_after)
    _, ds = run([sig(9000, Status.UP, certificate=c) for c in (CERT, CERT, renewed)])
    assert [len(d.events) for d in ds] == [1, 0, 1]


def test_tls_warning_waits_for_maintenance_to_end() -> None:
    kw: dict[str, object] = {"certificate": CERT, "maintenance": (NIGHTLY,)}
    _, ds = run(
        [sig(11, Status.UP, **kw), sig(21, Status.UP, **kw)], AlertPolicy(tls_warn_days=(30,))
    )
    assert [len(d.events) for d in ds] == [0, 1]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(list(Status)),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(list(Override))),
    st.sampled_from([(), (NIGHTLY,)]),
    st.integers(min_value=0, max_value=600),
    st.lists(st.floats(min_value=0, max_value=30), min_size=1, max_size=40),
)
def test_identical_statuses_never_alert_more_than_once(
    status: Status,
    slow: bool,
    override: Override | None,
    windows: tuple[MaintenanceWindow, ...],
    confirm_s: int,
    gaps: list[float],
) -> None:
    policy = AlertPolicy(confirm_s=confirm_s)
    minute, signals = 0.0, []
    for gap in gaps:
        minute += gap
        signals.append(
            sig(
                minute,
                status,
                latency_degraded=slow,
                override=override,
                maintenance=windows,
                failing_regions=1,
                total_regions=3,
            )
        )
    _, ds = run(signals, policy)
    assert len(kinds(ds)) <= 1
