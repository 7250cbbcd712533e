"""Flapping detection (pure: no I/O, times passed in).

A monitor is *flapping* when more than ``max_changes`` state changes fall inside one sliding
window of ``window_s`` seconds (so the default, 5 in 600 s, starts flapping on the 6th change).
While flapping, the caller suppresses notifications for individual flips: ``FlapState.flapping``
says so. Exactly one ``flapping_started`` event is returned when flapping begins and one
``flapping_ended`` when the monitor has had no change for ``quiet_s`` seconds (default
``window_s``). ``observe`` returns the event caused by a change; ``settle`` ends flapping
without a new change (call it from a periodic job). The ``ended`` event is stamped at the
instant the quiet period elapsed, not at the time ``settle`` ran, so it is the same however
often the job runs. A "change" whose status equals the last one is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from statpulse.model import Status


@dataclass(frozen=True, slots=True)
class FlapPolicy:
    window_s: int = 600
    max_changes: int = 5
    quiet_s: int | None = None
    """Seconds without a change that end flapping; None means ``window_s``."""

    @property
    def quiet(self) -> timedelta:
        return timedelta(seconds=self.window_s if self.quiet_s is None else self.quiet_s)


class FlapEventKind(StrEnum):
    STARTED = "flapping_started"
    ENDED = "flapping_ended"


@dataclass(frozen=True, slots=True)
class FlapEvent:
    kind: FlapEventKind
    at: datetime
    status: Status
    """The monitor's status when the event happened (for ``ended``: the status it settled on)."""


@dataclass(frozen=True, slots=True)
class FlapState:
    changes: tuple[datetime, ...] = ()
    """Times of the changes still inside the window, oldest first."""
    flapping: bool = False
    last_status: Status | None = None
    last_change_at: datetime | None = None


def settle(
    state: FlapState, now: datetime, policy: FlapPolicy
) -> tuple[FlapState, FlapEvent | None]:
    """End flapping if no change happened for the quiet period before ``now``.

    Returns the new state and a ``flapping_ended`` event (stamped when the quiet period
    elapsed), or the state unchanged and None.
    """
    if not state.flapping or state.last_change_at is None or state.last_status is None:
        return state, None
    calm_at = state.last_change_at + policy.quiet
    if now < calm_at:
        return state, None
    calm = FlapState(last_status=state.last_status, last_change_at=state.last_change_at)
    return calm, FlapEvent(FlapEventKind.ENDED, calm_at, state.last_status)


def observe(
    state: FlapState, change_at: datetime, status: Status, policy: FlapPolicy
) -> tuple[FlapState, FlapEvent | None]:
    """Record that the monitor changed to ``status`` at ``change_at``.

    Returns the new state and at most one event: ``flapping_started`` when this change makes
    the window exceed ``max_changes``, ``flapping_ended`` when the monitor had been quiet long
    enough before this change (this change is then an ordinary, notifiable flip).
    """
    if status is state.last_status:
        return state, None
    state, ended = settle(state, change_at, policy)
    if ended is not None:
        # The quiet period cleared the history: this change starts a fresh count.
        return FlapState((change_at,), False, status, change_at), ended
    horizon = change_at - timedelta(seconds=policy.window_s)
    changes = (*(t for t in state.changes if t > horizon), change_at)
    starts = not state.flapping and len(changes) > policy.max_changes
    new = FlapState(changes, state.flapping or starts, status, change_at)
    return new, FlapEvent(FlapEventKind.STARTED, change_at, status) if starts else None
