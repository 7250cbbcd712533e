from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.engine.incidents import (
    OPEN,
    ComponentStatus,
    Impact,
    IncidentState,
    InvalidTransition,
    auto_publish_due,
    component_status,
    indicator,
    time_to_public_update,
    transition,
    worst_indicator,
)
from statpulse.model import Status

S = IncidentState
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.INVESTIGATING, S.IDENTIFIED),
        (S.INVESTIGATING, S.MONITORING),
        (S.INVESTIGATING, S.RESOLVED),
        (S.MONITORING, S.INVESTIGATING),
        (S.IDENTIFIED, S.IDENTIFIED),
        (S.RESOLVED, S.POSTMORTEM),
        (S.RESOLVED, S.INVESTIGATING),
    ],
)
def test_allowed_transition_returns_the_new_state(current: S, new: S) -> None:
    assert transition(current, new) is new


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (S.INVESTIGATING, S.POSTMORTEM),
        (S.MONITORING, S.POSTMORTEM),
        (S.RESOLVED, S.IDENTIFIED),
        (S.RESOLVED, S.MONITORING),
        (S.POSTMORTEM, S.INVESTIGATING),
        (S.POSTMORTEM, S.RESOLVED),
    ],
)
def test_forbidden_transition_raises_naming_both_states(current: S, new: S) -> None:
    with pytest.raises(InvalidTransition, match=f"from {current} to {new}"):
        transition(current, new)


@given(st.sampled_from(sorted(OPEN)), st.sampled_from(list(S)))
def test_open_incident_may_skip_to_any_open_state_or_resolved(current: S, new: S) -> None:
    if new is S.POSTMORTEM:
        with pytest.raises(InvalidTransition):
            transition(current, new)
    else:
        assert transition(current, new) is new


def test_ttpu_is_time_from_start_to_first_publication() -> None:
    assert time_to_public_update(T0, T0 + timedelta(minutes=4)) == timedelta(minutes=4)


def test_ttpu_is_never_negative() -> None:
    assert time_to_public_update(T0, T0 - timedelta(seconds=1)) == timedelta(0)


@pytest.mark.parametrize(
    ("age_s", "after_s", "due"),
    [(299, 300, False), (300, 300, True), (10_000, None, False), (0, 0, True)],
)
def test_auto_publish_due_after_the_configured_delay(
    age_s: int, after_s: int | None, due: bool
) -> None:
    assert auto_publish_due(T0, T0 + timedelta(seconds=age_s), after_s) is due


@pytest.mark.parametrize("impact", list(Impact))
def test_indicator_is_named_after_the_impact(impact: Impact) -> None:
    assert indicator(impact) == impact.value


def test_page_indicator_is_the_worst_impact() -> None:
    assert worst_indicator([Impact.MINOR, Impact.CRITICAL, Impact.MAJOR]) == "critical"
    assert worst_indicator([]) == "none"


@pytest.mark.parametrize(
    ("status", "failing", "total", "expected"),
    [
        (Status.UP, 0, 3, ComponentStatus.OPERATIONAL),
        (Status.DEGRADED, 1, 3, ComponentStatus.DEGRADED_PERFORMANCE),
        (Status.DOWN, 2, 3, ComponentStatus.PARTIAL_OUTAGE),
        (Status.DOWN, 3, 3, ComponentStatus.MAJOR_OUTAGE),
        (Status.DOWN, 0, 0, ComponentStatus.MAJOR_OUTAGE),
        (Status.MAINTENANCE, 0, 3, ComponentStatus.UNDER_MAINTENANCE),
        (Status.PAUSED, 0, 0, ComponentStatus.OPERATIONAL),
        (Status.UNKNOWN, 0, 0, ComponentStatus.OPERATIONAL),
        (ComponentStatus.PARTIAL_OUTAGE, 0, 3, ComponentStatus.PARTIAL_OUTAGE),
    ],
)
def test_monitor_status_maps_to_statuspage_component_status(
    status: Status | ComponentStatus, failing: int, total: int, expected: ComponentStatus
) -> None:
    assert component_status(status, failing, total) is expected
