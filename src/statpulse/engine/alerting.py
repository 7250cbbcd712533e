"""The per-monitor alert decision (pure: no I/O, ``now`` comes with the input).

``decide(state, signal, policy)`` takes the monitor's quorum status (region thresholds already
applied upstream) and returns the new ``AlertState`` plus a ``Decision``: the effective status,
the Statuspage component status to display, and the alert events to send. Rules, in order:

* latency: an ``up`` monitor whose latency window is degraded counts as ``degraded``;
* confirmation: a ``down`` must persist for ``confirm_s`` seconds (0: at once) before it counts;
  until then the previously confirmed status stands;
* display: an admin override wins (shown as set: an explicit human statement beats checks and
  schedules), then an active maintenance window (``maintenance``), then the confirmed status
  (``down`` shows ``major_outage`` when every region fails, else ``partial_outage``);
* alerts: ``status_changed`` when the confirmed status (only ``up``/``degraded``/``down``;
  ``unknown`` and ``paused`` are no evidence) differs from the last one alerted, unless
  suppressed by maintenance, an override or flapping. Suppressed changes are not lost: when the
  suppression ends, one ``status_changed`` reports where the monitor is now, if that differs;
* flapping (see ``flapping.py``): confirmed changes outside maintenance and override feed the
  detector; ``flapping_started`` / ``flapping_ended`` are sent once each per episode;
* override: setting, changing or clearing it sends one ``override_set`` / ``override_cleared``
  (the clear carries the current checked status, which becomes the last alerted one);
* TLS: one ``tls_expiring`` per certificate per ``tls_warn_days`` threshold crossed (crossing
  several at once sends one, for the smallest); deferred during maintenance.

Each event stands for one state change, so a stream of identical inputs alerts at most once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from statpulse.engine.flapping import FlapPolicy, FlapState, observe, settle
from statpulse.engine.incidents import ComponentStatus, component_status
from statpulse.engine.maintenance import MaintenanceWindow, active
from statpulse.model import Status

_ALERTABLE = (Status.UP, Status.DEGRADED, Status.DOWN)


class Override(StrEnum):
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    MAINTENANCE = "maintenance"


_OVERRIDE_STATUS = {
    Override.DEGRADED: (Status.DEGRADED, ComponentStatus.DEGRADED_PERFORMANCE),
    Override.PARTIAL_OUTAGE: (Status.DOWN, ComponentStatus.PARTIAL_OUTAGE),
    Override.MAJOR_OUTAGE: (Status.DOWN, ComponentStatus.MAJOR_OUTAGE),
    Override.MAINTENANCE: (Status.MAINTENANCE, ComponentStatus.UNDER_MAINTENANCE),
}


class AlertKind(StrEnum):
    STATUS_CHANGED = "status_changed"
    FLAPPING_STARTED = "flapping_started"
    FLAPPING_ENDED = "flapping_ended"
    OVERRIDE_SET = "override_set"
    OVERRIDE_CLEARED = "override_cleared"
    TLS_EXPIRING = "tls_expiring"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    kind: AlertKind
    monitor_id: uuid.UUID
    at: datetime
    status: str  # what the event announces: a Status or Override value
    previous: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Certificate:
    id: str
    """Stable per certificate (e.g. its SHA-256 fingerprint): a renewed one starts afresh."""
    not_after: datetime


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    confirm_s: int = 0
    flap: FlapPolicy = field(default_factory=FlapPolicy)
    tls_warn_days: tuple[int, ...] = (14,)


@dataclass(frozen=True, slots=True)
class Signal:
    monitor_id: uuid.UUID
    now: datetime
    status: Status
    failing_regions: int = 0
    total_regions: int = 0
    latency_degraded: bool = False
    override: Override | None = None
    maintenance: Sequence[MaintenanceWindow] = ()
    certificate: Certificate | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    confirmed: Status = Status.UNKNOWN
    candidate: Status = Status.UNKNOWN
    candidate_since: datetime | None = None
    alerted: Status = Status.UP
    flap: FlapState = field(default_factory=FlapState)
    override: Override | None = None
    tls_cert: str | None = None
    tls_warned: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    status: Status
    display: ComponentStatus
    events: tuple[AlertEvent, ...]


def _confirm(state: AlertState, status: Status, now: datetime, confirm_s: int) -> AlertState:
    since = state.candidate_since if status is state.candidate else None
    since = since or now
    held = status is Status.DOWN and now - since < timedelta(seconds=confirm_s)
    confirmed = state.confirmed if held else status
    return replace(state, confirmed=confirmed, candidate=status, candidate_since=since)


def _tls(state: AlertState, sig: Signal, policy: AlertPolicy) -> tuple[AlertState, int | None]:
    cert = sig.certificate
    if cert is None:
        return state, None
    warned = state.tls_warned if cert.id == state.tls_cert else ()
    left = cert.not_after - sig.now
    crossed = [d for d in policy.tls_warn_days if left <= timedelta(days=d) and d not in warned]
    state = replace(state, tls_cert=cert.id, tls_warned=tuple(sorted({*warned, *crossed})))
    return state, min(crossed) if crossed else None


def decide(state: AlertState, sig: Signal, policy: AlertPolicy) -> tuple[AlertState, Decision]:
    """The new state and this round's decision (see the module docstring)."""
    now, events = sig.now, []

    def emit(kind: AlertKind, status: str, previous: str | None = None, detail: str = "") -> None:
        events.append(AlertEvent(kind, sig.monitor_id, now, status, previous, detail))

    slow = sig.status is Status.UP and sig.latency_degraded
    checked = Status.DEGRADED if slow else sig.status
    before = state.confirmed
    state = _confirm(state, checked, now, policy.confirm_s)
    in_maintenance = any(active(w, now) for w in sig.maintenance)

    flap, ended = settle(state.flap, now, policy.flap)
    if ended is not None:
        emit(AlertKind.FLAPPING_ENDED, ended.status)
    changed = state.confirmed is not before and state.confirmed in _ALERTABLE
    if changed and not in_maintenance and sig.override is None:
        flap, started = observe(flap, now, state.confirmed, policy.flap)
        if started is not None:  # settle() ran first, so this can only be "started"
            emit(AlertKind.FLAPPING_STARTED, started.status)
    elif changed:
        # Not counted as a flip, but the next change is measured from where it really is.
        flap = replace(flap, last_status=state.confirmed)
    state = replace(state, flap=flap)
    news = state.confirmed in _ALERTABLE and state.confirmed is not state.alerted

    if sig.override != state.override:
        if sig.override is None:
            emit(AlertKind.OVERRIDE_CLEARED, state.confirmed, state.override)
            if state.confirmed in _ALERTABLE:
                state = replace(state, alerted=state.confirmed)
        else:
            emit(AlertKind.OVERRIDE_SET, sig.override, state.override)
        state = replace(state, override=sig.override)
    elif not (in_maintenance or flap.flapping or sig.override) and news:
        emit(AlertKind.STATUS_CHANGED, state.confirmed, state.alerted)
        state = replace(state, alerted=state.confirmed)

    if not in_maintenance:
        state, days = _tls(state, sig, policy)
        if days is not None and sig.certificate is not None:
            expiry = sig.certificate.not_after.isoformat()
            emit(
                AlertKind.TLS_EXPIRING,
                state.confirmed,
                None,
                f"expires {expiry}, within {days} days",
            )

    if sig.override is not None:
        status, display = _OVERRIDE_STATUS[sig.override]
    elif in_maintenance:
        status, display = Status.MAINTENANCE, ComponentStatus.UNDER_MAINTENANCE
    else:
        status = state.confirmed
        display = component_status(status, sig.failing_regions, sig.total_regions)
    return state, Decision(status, display, tuple(events))
