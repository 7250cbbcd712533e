"""The current state of a component on a public page, decided in one place for the HTML page,
its live stream and the Statuspage-compatible JSON (pure: rows in, state out, ``now`` passed in).

Precedence: an admin override (shown as set), then an occurrence in progress of a maintenance
listing the component (``under_maintenance``), then the monitor's status through
``engine.incidents.component_status`` (``down`` is ``major_outage`` when every fresh region
fails, else ``partial_outage``; ``paused``/``unknown`` and no monitor are ``operational``).
``source`` says which of the three decided, so the HTML page can still say "Paused" or "No data"
where Statuspage's model has only ``operational``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from statpulse.engine import maintenance as mw
from statpulse.engine.evaluate import stale_after
from statpulse.engine.incidents import ComponentStatus, component_status, override_status
from statpulse.engine.regions import region_views
from statpulse.model import Component, Monitor, RegionState, Status
from statpulse.store.sql_maintenance import ComponentOverride, Maintenance


class Source(StrEnum):
    OVERRIDE = "override"
    MAINTENANCE = "maintenance"
    MONITOR = "monitor"


@dataclass(frozen=True, slots=True)
class ComponentState:
    status: ComponentStatus
    changed: datetime
    """When this state began: the override's ``set_at``, the maintenance occurrence's start,
    else the latest of the component's creation and its monitor's last status change."""
    source: Source


_SEVERITY = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    """The worst of ``statuses`` (a group's status); ``operational`` for none."""
    return max(statuses, key=_SEVERITY.__getitem__, default=ComponentStatus.OPERATIONAL)


def maintenance_starts(
    in_progress: Iterable[tuple[Maintenance, datetime]],
) -> dict[uuid.UUID, datetime]:
    """Component id -> start of the occurrence in progress that puts it under maintenance,
    from ``(maintenance, occurrence start)`` pairs; the first pair listing a component wins."""
    starts: dict[uuid.UUID, datetime] = {}
    for m, start in in_progress:
        for component_id in m.components:
            starts.setdefault(component_id, start)
    return starts


def active_maintenances(
    maintenances: Iterable[Maintenance], now: datetime
) -> list[tuple[Maintenance, datetime]]:
    """``(maintenance, occurrence start)`` of the maintenances in progress at ``now``; a window
    that cannot be computed (its time zone vanished) is left out rather than failing the page."""
    found: list[tuple[Maintenance, datetime]] = []
    for m in maintenances:
        try:
            current = mw.active(m.window, now)
        except (ValueError, KeyError):
            continue
        if current is not None:
            found.append((m, current[0]))
    return found


def region_counts(
    monitor: Monitor, region_states: Sequence[RegionState], now: datetime
) -> tuple[int, int]:
    """(failing, total) of the monitor's fresh regions; (0, 0) for one region."""
    cfg = monitor.config
    if len(cfg.regions) <= 1:
        return 0, 0
    mine = [s for s in region_states if s.monitor_id == monitor.id]
    views = region_views(cfg.regions, mine, now, stale_after(cfg.interval_s))
    fresh = [v for v in views if v.freshness == "fresh"]
    return sum(1 for v in fresh if v.status is Status.DOWN), len(fresh)


def component_state(
    component: Component,
    monitor: Monitor | None,
    *,
    overrides: Mapping[uuid.UUID, ComponentOverride],
    maintenance: Mapping[uuid.UUID, datetime],
    region_states: Sequence[RegionState],
    now: datetime,
) -> ComponentState:
    """The component's state: ``overrides`` by component id, ``maintenance`` from
    :func:`maintenance_starts`, ``region_states`` of the page's multi-region monitors."""
    override = overrides.get(component.id)
    if override is not None:
        return ComponentState(override_status(override.status), override.set_at, Source.OVERRIDE)
    started = maintenance.get(component.id)
    if started is not None:
        return ComponentState(ComponentStatus.UNDER_MAINTENANCE, started, Source.MAINTENANCE)
    changed = component.created_at
    if monitor is None:
        return ComponentState(ComponentStatus.OPERATIONAL, changed, Source.MONITOR)
    if monitor.status_changed_at is not None:
        changed = max(changed, monitor.status_changed_at)
    failing, total = region_counts(monitor, region_states, now)
    return ComponentState(component_status(monitor.status, failing, total), changed, Source.MONITOR)
