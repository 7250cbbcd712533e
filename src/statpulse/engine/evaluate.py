"""Monitor state from check results (pure: no I/O, ``now`` passed in).

Each result has a level: ``down`` (not ok), ``degraded`` (ok but a latency condition failed) or
``up``. A region's status moves to a new level only after enough consecutive results at that
level: ``failure_threshold`` to get worse (up -> degraded -> down), ``recovery_threshold`` to get
better. A region with no result yet is ``unknown`` and takes the first up/degraded result at once
(but still needs ``failure_threshold`` failures before ``down``).

The monitor's status is a quorum over its regions with a fresh result: ``down`` when strictly
more than half of them are down, ``degraded`` when any is down or degraded, else ``up``.
Regions with a stale or no result do not vote; with no voter the monitor is ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from statpulse.model import CheckResult, RegionState, Status

_RANK = {Status.UP: 0, Status.DEGRADED: 1, Status.DOWN: 2}


def result_level(result: CheckResult) -> Status:
    if not result.ok:
        return Status.DOWN
    return Status.DEGRADED if result.degraded else Status.UP


def required_streak(
    current: Status, level: Status, failure_threshold: int, recovery_threshold: int
) -> int:
    """Consecutive results at ``level`` needed to move a region from ``current`` to ``level``."""
    if current not in _RANK:
        return failure_threshold if level is Status.DOWN else 1
    if _RANK[level] > _RANK[current]:
        return failure_threshold
    return recovery_threshold


def step(
    prev: RegionState | None,
    result: CheckResult,
    failure_threshold: int,
    recovery_threshold: int,
) -> RegionState:
    """The region state after ``result``; ``prev`` is None for a region's first result."""
    level = result_level(result)
    current = prev.status if prev else Status.UNKNOWN
    streak = prev.streak + 1 if prev and prev.streak_level is level else 1
    status = current
    if level is not current and streak >= required_streak(
        current, level, failure_threshold, recovery_threshold
    ):
        status = level
    return RegionState(
        monitor_id=result.monitor_id,
        region=result.region,
        status=status,
        streak_level=level,
        streak=streak,
        last_result_at=result.started_at,
        last_error=result.error_message if level is not Status.UP else None,
    )


def is_fresh(state: RegionState, now: datetime, stale_after: timedelta) -> bool:
    return state.last_result_at is not None and now - state.last_result_at <= stale_after


def quorum(states: Iterable[RegionState], now: datetime, stale_after: timedelta) -> Status:
    """The monitor status voted by its regions' fresh states."""
    votes = [s.status for s in states if s.status in _RANK and is_fresh(s, now, stale_after)]
    if not votes:
        return Status.UNKNOWN
    down = votes.count(Status.DOWN)
    if down * 2 > len(votes):
        return Status.DOWN
    if down or Status.DEGRADED in votes:
        return Status.DEGRADED
    return Status.UP


def stale_after(interval_s: float) -> timedelta:
    """A region's result is stale after three missed intervals (plus a little slack)."""
    return timedelta(seconds=3 * interval_s + 5)
