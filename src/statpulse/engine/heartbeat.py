"""Heartbeat (push) monitors: what a ping means and when silence is a failure.

Pure: no I/O, ``now`` is passed in. The service that applies this is ``engine.heartbeats``.

A heartbeat monitor expects a *completion ping* (success or fail) every ``interval_s`` and
tolerates ``grace_s`` of lateness, as healthchecks.io does. Silence is counted from the last
completion ping, or from ``since_at`` (creation or resume) when that is later:

- **silence**: the first deadline is ``base + interval + grace``; while still silent, another
  deadline follows every ``interval`` (so the monitor stays down with fresh results);
- **start without completion**: a ``/start`` after the last completion must be followed by a
  completion within ``grace``; its deadline is ``start + grace`` (once per start).

At ``now`` the due failure is the one for the latest deadline that has passed, and only when that
deadline is later than the last one written (``last_overdue_at``): a sweeper that runs often
writes one failure per deadline, and one that was stopped for a while writes one, not a burst.

Results carry the time they were made (the ping's arrival or the sweep) as ``started_at``, and
the region ``push``; so each evaluation sees a fresh result and the evaluator's staleness rule
(three intervals) never turns a heartbeat monitor ``unknown``: between pings nothing is
evaluated and the status holds, and during silence the sweeper's results come every interval.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from statpulse.model import CheckResult, ErrorClass, new_id
from statpulse.store.contract import HEARTBEAT_KIND, PUSH_REGION, HeartbeatState, Signal

__all__ = [
    "HEARTBEAT_KIND",
    "MAX_MESSAGE_CHARS",
    "PUSH_REGION",
    "HeartbeatState",
    "Overdue",
    "Signal",
    "format_duration",
    "overdue",
    "overdue_result",
    "ping_message",
    "ping_result",
    "signal_for_exit_code",
]

MAX_MESSAGE_CHARS = 1000
"""A failure ping's message (its body) is kept up to this many characters."""


@dataclass(frozen=True, slots=True)
class Overdue:
    """A failure the sweeper owes: ``deadline`` is the moment that passed (and the claim key)."""

    deadline: datetime
    message: str


def silence_base(state: HeartbeatState) -> datetime:
    """When the current silence began: the last completion ping, or ``since_at`` if later."""
    completions = [t for t in (state.last_success_at, state.last_fail_at) if t is not None]
    return max([state.since_at, *completions])


def pending_start(state: HeartbeatState) -> datetime | None:
    """The ``/start`` (since ``since_at``) that no completion ping has followed yet, if any."""
    start = state.last_start_at
    if start is None or start < state.since_at:
        return None
    completions = [t for t in (state.last_success_at, state.last_fail_at) if t is not None]
    return None if completions and start <= max(completions) else start


def overdue(
    state: HeartbeatState, now: datetime, interval_s: float, grace_s: float
) -> Overdue | None:
    """The failure due at ``now``, or None. See the module docstring for the rules."""
    period = timedelta(seconds=interval_s)
    grace = timedelta(seconds=grace_s)
    base = silence_base(state)
    candidates: list[Overdue] = []
    first = base + period + grace
    if now >= first:
        deadline = first + ((now - first) // period) * period
        candidates.append(
            Overdue(
                deadline,
                f"no ping for {format_duration(now - base)} "
                f"(expected every {format_duration(period)}, grace {format_duration(grace)})",
            )
        )
    start = pending_start(state)
    if start is not None and now >= start + grace:
        candidates.append(
            Overdue(
                start + grace, f"started {format_duration(now - start)} ago, no completion ping"
            )
        )
    if not candidates:
        return None
    due = max(candidates, key=lambda o: o.deadline)
    if state.last_overdue_at is not None and due.deadline <= state.last_overdue_at:
        return None
    return due


def ping_result(
    monitor_id: uuid.UUID,
    state: HeartbeatState,
    signal: Signal,
    now: datetime,
    message: str | None = None,
) -> CheckResult | None:
    """The result a ping at ``now`` makes; None for ``start`` (a start is not an outcome).

    A success after a pending start carries the run's duration as ``latency_ms``.
    """
    if signal is Signal.START:
        return None
    if signal is Signal.SUCCESS:
        start = pending_start(state)
        latency = (now - start) / timedelta(milliseconds=1) if start and start <= now else None
        return CheckResult(new_id(), monitor_id, PUSH_REGION, now, now, latency, ok=True)
    return CheckResult(
        new_id(),
        monitor_id,
        PUSH_REGION,
        now,
        now,
        None,
        ok=False,
        # The job itself reported that it is unhealthy, as a failed condition would.
        error_class=ErrorClass.ASSERTION,
        error_message=message or "failure reported by ping",
    )


def overdue_result(monitor_id: uuid.UUID, due: Overdue, now: datetime) -> CheckResult:
    """The failing result for ``due``, written by the sweeper at ``now``."""
    return CheckResult(
        new_id(),
        monitor_id,
        PUSH_REGION,
        scheduled_at=due.deadline,
        started_at=now,
        latency_ms=None,
        ok=False,
        error_class=ErrorClass.TIMEOUT,
        error_message=due.message,
    )


def signal_for_exit_code(code: int) -> Signal:
    """0 is a success, 1-255 a failure (as a shell's exit status); raises ValueError else."""
    if not 0 <= code <= 255:
        raise ValueError(f"exit status must be 0-255, got {code}")
    return Signal.SUCCESS if code == 0 else Signal.FAIL


def ping_message(body: bytes, exit_code: int | None = None) -> str | None:
    """A failure's message from a ping's body (UTF-8, invalid bytes replaced) and exit status,
    at most ``MAX_MESSAGE_CHARS`` characters; None when there is nothing to say."""
    text = body.decode("utf-8", errors="replace").strip()
    if exit_code is not None:
        text = f"exit status {exit_code}" + (f": {text}" if text else "")
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text or None


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_duration(value: timedelta) -> str:
    """``3m 10s``, ``1h 5m``, ``2d``, ``0s``: the largest unit and the next one, if not zero
    (whole seconds, rounded down; negative durations count as zero)."""
    seconds = max(0, int(value.total_seconds()))
    for i, (name, size) in enumerate(_UNITS):
        if seconds >= size:
            text = f"{seconds // size}{name}"
            if i + 1 < len(_UNITS):
                next_name, next_size = _UNITS[i + 1]
                if rest := (seconds % size) // next_size:
                    text += f" {rest}{next_name}"
            return text
    return "0s"
