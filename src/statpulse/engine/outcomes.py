"""What a monitor state change says to people (pure): the evidence for the customer-facing
draft incident, and the operators' alert message queued for the organisation's channels."""

from __future__ import annotations

from collections.abc import Sequence

from statpulse.engine.narrative import Evidence
from statpulse.model import CheckResult, Monitor, RegionState, StateChange, Status
from statpulse.notify.message import Message

_EVENTS = {
    Status.DOWN: "monitor.down",
    Status.DEGRADED: "monitor.degraded",
    Status.UP: "monitor.up",
}
_SEVERITY = {Status.DOWN: "major", Status.DEGRADED: "minor", Status.UP: "none"}


def failing_regions(states: Sequence[RegionState]) -> tuple[str, ...]:
    return tuple(sorted(s.region for s in states if s.status in (Status.DOWN, Status.DEGRADED)))


def evidence(
    monitor: Monitor,
    change: StateChange,
    batch: Sequence[CheckResult],
    states: Sequence[RegionState],
) -> Evidence:
    """The evidence of ``change``: the newest failing result of the monitor in ``batch`` gives
    the error class and status code; the region states give the spread."""
    failed = [r for r in batch if r.monitor_id == monitor.id and not r.ok]
    newest = max(failed, key=lambda r: r.started_at, default=None)
    down = tuple(sorted(s.region for s in states if s.status is Status.DOWN))
    return Evidence(
        components=(monitor.config.name,),
        affected_regions=down,
        total_regions=len(monitor.config.regions),
        error_class=newest.error_class if newest else None,
        started_at=change.at,
        status_code=newest.status_code if newest else None,
        message=(newest.error_message or "") if newest else "",
        degraded=change.to_status is Status.DEGRADED,
    )


def flapping_message(monitor: Monitor, change: StateChange, changes: int) -> Message:
    """The one alert that replaces a flapping monitor's flips until it calms down."""
    name = monitor.config.name
    return Message(
        id="",
        event="monitor.flapping",
        title=f"{name} is flapping",
        text=(
            f"{name} changed state {changes} times within the flapping window (now "
            f"{change.to_status.value}). Further flips are not alerted until it is stable."
        ),
        occurred_at=change.at,
        severity="minor",
        status=change.to_status.value,
        monitor_id=str(monitor.id),
        monitor_name=name,
        components=(name,),
    )


def alert_message(
    monitor: Monitor, change: StateChange, states: Sequence[RegionState]
) -> Message | None:
    """The operators' alert for ``change``, or None when it is not news: changes to or from
    ``unknown``/``paused``/``maintenance`` except into a problem, and a new monitor coming up."""
    event = _EVENTS.get(change.to_status)
    if event is None or (change.to_status is Status.UP and change.from_status not in _EVENTS):
        return None
    name = monitor.config.name
    return Message(
        id="",  # the outbox row's id becomes the message id (the idempotency key)
        event=event,
        title=f"{name} is {change.to_status.value}",
        text=f"{name}: {change.reason}.",
        occurred_at=change.at,
        severity=_SEVERITY[change.to_status],
        status=change.to_status.value,
        monitor_id=str(monitor.id),
        monitor_name=name,
        components=(name,),
        regions=failing_regions(states),
    )
