"""Incident state machine and Statuspage mappings (pure: no I/O, ``now`` passed in).

States: ``investigating``, ``identified``, ``monitoring`` (the *open* states), ``resolved`` and
``postmortem``. As on Atlassian Statuspage, steps may be skipped: an open incident may move to
any other open state or straight to ``resolved``. ``resolved`` may move to ``postmortem``, or be
*reopened* to ``investigating`` (the problem came back soon after: one incident, not two).
``postmortem`` is final. Staying in the same state is allowed (a further update, same status).

``transition`` raises ``InvalidTransition`` (a ValueError) naming both states otherwise.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from statpulse.model import Status


class IncidentState(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


class Impact(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class ComponentStatus(StrEnum):
    """Statuspage's component statuses."""

    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"


class Override(StrEnum):
    """What an admin may set a component to by hand; it wins over checks and schedules."""

    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"


def override_status(override: Override) -> ComponentStatus:
    """The Statuspage component status an override shows."""
    return _OVERRIDE_STATUS[override]


_OVERRIDE_STATUS = {
    Override.DEGRADED: ComponentStatus.DEGRADED_PERFORMANCE,
    Override.PARTIAL_OUTAGE: ComponentStatus.PARTIAL_OUTAGE,
    Override.MAJOR_OUTAGE: ComponentStatus.MAJOR_OUTAGE,
    Override.MAINTENANCE: ComponentStatus.UNDER_MAINTENANCE,
}


OPEN = frozenset({IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.MONITORING})

_ALLOWED: dict[IncidentState, frozenset[IncidentState]] = {
    **{s: OPEN | {IncidentState.RESOLVED} for s in OPEN},
    IncidentState.RESOLVED: frozenset(
        {IncidentState.RESOLVED, IncidentState.POSTMORTEM, IncidentState.INVESTIGATING}
    ),
    IncidentState.POSTMORTEM: frozenset({IncidentState.POSTMORTEM}),
}


class InvalidTransition(ValueError):
    def __init__(self, current: IncidentState, new: IncidentState) -> None:
        super().__init__(f"status: an incident cannot move from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: IncidentState, new: IncidentState) -> bool:
    return new in _ALLOWED[current]


def transition(current: IncidentState, new: IncidentState) -> IncidentState:
    """Return ``new`` when the move is allowed; else raise ``InvalidTransition``."""
    if not can_transition(current, new):
        raise InvalidTransition(current, new)
    return new


def time_to_public_update(started_at: datetime, published_at: datetime) -> timedelta:
    """TTPU: how long customers waited for the first public word (never negative)."""
    return max(published_at - started_at, timedelta(0))


def auto_publish_due(
    draft_created_at: datetime, now: datetime, auto_publish_after_s: int | None
) -> bool:
    """Whether an unpublished draft should be published now; None disables auto-publishing."""
    if auto_publish_after_s is None:
        return False
    return now - draft_created_at >= timedelta(seconds=auto_publish_after_s)


# Statuspage's page indicator is named after the worst impact ("none" .. "critical").
_INDICATOR = {i: i.value for i in Impact}


def indicator(impact: Impact) -> str:
    """Statuspage ``status.indicator`` for an incident impact."""
    return _INDICATOR[impact]


def worst_indicator(impacts: list[Impact]) -> str:
    """The page indicator over unresolved incidents' impacts (``none`` when there are none)."""
    order = list(Impact)
    return indicator(max(impacts, key=order.index, default=Impact.NONE))


def component_status(
    status: Status | ComponentStatus, failing_regions: int = 0, total_regions: int = 0
) -> ComponentStatus:
    """Statuspage component status for a monitor status or an admin override.

    A ``down`` monitor is ``major_outage`` when every region with a result fails, else
    ``partial_outage`` (down by quorum while some regions are up). ``paused`` and ``unknown``
    show ``operational``: we have no evidence of a problem to publish.
    """
    if isinstance(status, ComponentStatus):
        return status
    if status is Status.DOWN:
        all_down = total_regions == 0 or failing_regions >= total_regions
        return ComponentStatus.MAJOR_OUTAGE if all_down else ComponentStatus.PARTIAL_OUTAGE
    if status is Status.DEGRADED:
        return ComponentStatus.DEGRADED_PERFORMANCE
    if status is Status.MAINTENANCE:
        return ComponentStatus.UNDER_MAINTENANCE
    return ComponentStatus.OPERATIONAL
