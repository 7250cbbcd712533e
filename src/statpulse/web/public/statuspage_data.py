"""Atlassian Statuspage v2-compatible documents of a status page (pure: rows in, dicts out,
``now`` passed in; no I/O, no clock reads).

The shapes and key names are Statuspage's public ``/api/v2`` ones, so its widgets, status
aggregators and client libraries read a StatPulse page unchanged.

Decisions (where Statuspage's model and ours differ):

* **Component status** (``component_state.component_state``, shared with the HTML page), in
  order of precedence: an admin override (shown as set), then an active occurrence of a
  maintenance listing the component (``under_maintenance``), then the monitor's status
  through ``engine.incidents.component_status`` (``down`` is ``major_outage`` when every fresh
  region fails, else ``partial_outage``; ``paused``/``unknown`` and components without a
  monitor are ``operational``).
* **Component groups** are components with ``group: true``, ``components`` (member ids) and
  the worst status of their members; members carry the group's id in ``group_id``. The list
  holds each group (by position) followed by its members, then the ungrouped components.
* **Which incidents a page shows**: only *published* incidents (drafts never, also filtered
  here as a second guard) of the page's organisation that affect the page: an incident whose
  ``components`` include one of the page's components, or whose monitor is the monitor of one
  of them. An incident naming neither components nor a monitor is organisation-wide and shows
  on every page of the organisation. Maintenances likewise: listing a component of the page, or
  listing none (organisation-wide notice; it then changes no component's status).
* **Overall indicator** (``status.indicator``): the worst of the unresolved incidents' impacts
  (``engine.incidents.worst_indicator``) and of the components' states: ``degraded_performance``
  and ``partial_outage`` are ``minor``, ``major_outage`` is ``major``, and ``critical`` when
  every component of the page is in ``major_outage``; ``under_maintenance`` is ``none``.
  Descriptions follow Statuspage: none -> "All Systems Operational" (or "Service Under
  Maintenance" while a component is under maintenance), minor -> "Minor Service Outage",
  major -> "Partial System Outage", critical -> "Major System Outage".
* **Scheduled maintenances**: one entry per maintenance for its current occurrence
  (``in_progress``), else its next one (``scheduled``), else ``completed`` (a one-off window in
  the past; a finished recurring window has no ``scheduled_for``). ``verifying`` is never
  produced (there is no verification step). Their timeline (``incident_updates``) is
  synthesised from the window: the announcement, the start and the end, with stable ids.
* **Timestamps** are UTC ISO 8601 with milliseconds and ``Z``. Nothing in a document is the
  render time: ``page.updated_at`` is the latest change shown (a monitor's status change, an
  override, a maintenance boundary or edit, an incident update), so an unchanged page gives
  the same body, hence the same ETag.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from statpulse.engine import maintenance as mw
from statpulse.engine.incidents import (
    OPEN,
    ComponentStatus,
    Impact,
    IncidentState,
    worst_indicator,
)
from statpulse.model import Component, Monitor, RegionState, StatusPage
from statpulse.store.sql_groups import ComponentGroup
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import ComponentOverride, Maintenance
from statpulse.web.public.component_state import component_state, maintenance_starts, worst

Doc = dict[str, Any]

LIMIT = 50
"""Statuspage's lists (incidents.json, scheduled-maintenances.json) hold the 50 most recent."""
TIME_ZONE = "Etc/UTC"
MAINTENANCE_IMPACT = "maintenance"

_COMPONENT_IMPACT: dict[ComponentStatus, Impact] = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MINOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.MAJOR,
}
DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}
UNDER_MAINTENANCE = "Service Under Maintenance"


class MaintenanceState:
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class PageRows:
    """Everything the documents of one page are made of, as read from the store."""

    page: StatusPage
    url: str
    """The public address of the page (``.../s/{slug}``)."""
    components: Sequence[tuple[Component, Monitor | None]]
    """In display order (``store.page_components``)."""
    region_states: Sequence[RegionState] = ()
    overrides: Sequence[ComponentOverride] = ()
    maintenances: Sequence[Maintenance] = ()
    incidents: Sequence[Incident] = ()
    """The organisation's incidents, newest first; drafts and other pages' are left out here."""
    groups: Sequence[ComponentGroup] = ()
    """The page's component groups by position (``store.list_groups``)."""


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _latest(moments: Iterable[datetime | None]) -> datetime | None:
    return max((m for m in moments if m is not None), default=None)


@dataclass(frozen=True, slots=True)
class _Occurrence:
    status: str
    scheduled_for: datetime | None
    scheduled_until: datetime | None


def _occurrence(window: mw.MaintenanceWindow, now: datetime) -> _Occurrence | None:
    """The occurrence to show; None for a window that cannot be computed (stored windows are
    validated, but a time zone may vanish from the system's database): left out, not a 500."""
    try:
        current = mw.active(window, now)
        upcoming = mw.next_occurrences(window, now, 1) if current is None else []
    except (ValueError, KeyError):
        return None
    if current is not None:
        return _Occurrence(MaintenanceState.IN_PROGRESS, *current)
    if upcoming:
        return _Occurrence(MaintenanceState.SCHEDULED, *upcoming[0])
    if window.kind is mw.WindowKind.ONE_OFF:
        return _Occurrence(MaintenanceState.COMPLETED, window.start, window.end)
    return _Occurrence(MaintenanceState.COMPLETED, None, None)


class StatuspageView:
    """The documents of one page as of ``now``; each public method is one endpoint's body."""

    def __init__(self, rows: PageRows, now: datetime) -> None:
        self._rows = rows
        self._now = now
        self._page_id = str(rows.page.id)
        self._component_ids = {c.id for c, _ in rows.components}
        self._overrides = {
            o.component_id: o for o in rows.overrides if o.component_id in self._component_ids
        }
        self._maintenances = [
            (m, occ)
            for m in rows.maintenances
            if self._shows(m) and (occ := _occurrence(m.window, now)) is not None
        ]
        self._incidents = [i for i in rows.incidents if self._affects(i)]
        self._maintenance_starts = maintenance_starts(
            (m, occ.scheduled_for)
            for m, occ in self._maintenances
            if occ.status == MaintenanceState.IN_PROGRESS and occ.scheduled_for is not None
        )
        self._states: dict[uuid.UUID, ComponentStatus] = {}
        self._changed: dict[uuid.UUID, datetime] = {}
        for component, monitor in rows.components:
            self._states[component.id], self._changed[component.id] = self._component_state(
                component, monitor
            )
        self._components = self._listed()
        self._by_id = {c["id"]: c for c in self._components if not c["group"]}

    # which rows belong to the page

    def _affects(self, incident: Incident) -> bool:
        return affects_page(incident, self._rows.components)

    def _shows(self, m: Maintenance) -> bool:
        return not m.components or bool(self._component_ids.intersection(m.components))

    # components

    def _component_state(
        self, component: Component, monitor: Monitor | None
    ) -> tuple[ComponentStatus, datetime]:
        state = component_state(
            component,
            monitor,
            overrides=self._overrides,
            maintenance=self._maintenance_starts,
            region_states=self._rows.region_states,
            now=self._now,
        )
        return state.status, state.changed

    def _listed(self) -> list[Doc]:
        """Every group (by position) with its members, then the ungrouped components, each in
        the page's order; positions count from 1 in that order."""
        docs: list[Doc] = []
        grouped: set[uuid.UUID] = set()
        for group in self._rows.groups:
            members = [c for c, _ in self._rows.components if c.id in group.components]
            members = [c for c in members if c.id not in grouped]
            grouped.update(c.id for c in members)
            docs.append(self._group(len(docs) + 1, group, members))
            for c in members:
                docs.append(self._component(len(docs) + 1, c, group.id))
        for c, _ in self._rows.components:
            if c.id not in grouped:
                docs.append(self._component(len(docs) + 1, c))
        return docs

    def _group(self, position: int, group: ComponentGroup, members: Sequence[Component]) -> Doc:
        changed = _latest([group.created_at, *(self._changed[c.id] for c in members)])
        return {
            "id": str(group.id),
            "name": group.name,
            "status": worst(self._states[c.id] for c in members).value,
            "created_at": iso(group.created_at),
            "updated_at": iso(changed),
            "position": position,
            "description": None,
            "showcase": False,
            "start_date": None,
            "group_id": None,
            "page_id": self._page_id,
            "group": True,
            "only_show_if_degraded": False,
            "components": [str(c.id) for c in members],
        }

    def _component(
        self, position: int, component: Component, group_id: uuid.UUID | None = None
    ) -> Doc:
        return {
            "id": str(component.id),
            "name": component.name,
            "status": self._states[component.id].value,
            "created_at": iso(component.created_at),
            "updated_at": iso(self._changed[component.id]),
            "position": position,
            "description": component.description or None,
            "showcase": True,
            "start_date": component.created_at.astimezone(UTC).date().isoformat(),
            "group_id": str(group_id) if group_id else None,
            "page_id": self._page_id,
            "group": False,
            "only_show_if_degraded": False,
        }

    def _components_of(self, ids: Iterable[uuid.UUID], monitor_id: uuid.UUID | None) -> list[Doc]:
        wanted = set(ids)
        return [
            self._by_id[str(c.id)]
            for c, m in self._rows.components
            if c.id in wanted or (monitor_id is not None and m is not None and m.id == monitor_id)
        ]

    # incidents

    def _incident(self, incident: Incident) -> Doc:
        updates = incident.updates
        first = updates[0]["at"] if updates else incident.started_at
        last = _latest([incident.published_at, *(u["at"] for u in updates)])
        monitoring = [u["at"] for u in updates if u["status"] == IncidentState.MONITORING]
        components = self._components_of(incident.components, incident.monitor_id)
        return {
            "id": str(incident.id),
            "name": incident.title,
            "status": incident.status,
            "created_at": iso(first),
            "updated_at": iso(last or first),
            "monitoring_at": iso(monitoring[-1]) if monitoring else None,
            "resolved_at": iso(incident.resolved_at),
            "impact": incident.impact,
            "shortlink": f"{self._rows.url}#incident-{incident.id}",
            "started_at": iso(incident.started_at),
            "page_id": self._page_id,
            "incident_updates": [
                _update(incident.id, str(u["id"]), str(u["status"]), str(u["body"]), u["at"])
                for u in reversed(updates)  # newest first, as Statuspage lists them
            ],
            "components": components,
        }

    def _open(self, incident: Incident) -> bool:
        return incident.resolved_at is None and incident.status in OPEN

    # maintenances

    def _maintenance(self, m: Maintenance, occ: _Occurrence) -> Doc:
        components = self._components_of(m.components, None)
        timeline: list[tuple[str, str, datetime]] = [
            (MaintenanceState.SCHEDULED, m.body, m.created_at)
        ]
        started = occ.scheduled_for if occ.status != MaintenanceState.SCHEDULED else None
        if started is not None:
            body = "Scheduled maintenance is currently in progress."
            timeline.append((MaintenanceState.IN_PROGRESS, body, started))
        resolved = occ.scheduled_until if occ.status == MaintenanceState.COMPLETED else None
        if resolved is not None:
            body = "The scheduled maintenance has been completed."
            timeline.append((MaintenanceState.COMPLETED, body, resolved))
        updated = _latest([m.updated_at, started, resolved]) or m.updated_at
        return {
            "id": str(m.id),
            "name": m.title,
            "status": occ.status,
            "created_at": iso(m.created_at),
            "updated_at": iso(updated),
            "monitoring_at": None,
            "resolved_at": iso(resolved),
            "impact": MAINTENANCE_IMPACT,
            "shortlink": f"{self._rows.url}#maintenance-{m.id}",
            "started_at": iso(started or occ.scheduled_for),
            "page_id": self._page_id,
            "incident_updates": [
                _update(m.id, str(uuid.uuid5(m.id, f"{status}:{iso(at)}")), status, body, at)
                for status, body, at in reversed(timeline)
            ],
            "components": components,
            "scheduled_for": iso(occ.scheduled_for),
            "scheduled_until": iso(occ.scheduled_until),
        }

    def _maintenances_where(self, *statuses: str) -> list[tuple[Maintenance, _Occurrence]]:
        return [(m, o) for m, o in self._maintenances if o.status in statuses]

    # the page and its status

    def _page(self) -> Doc:
        changes: list[datetime | None] = [self._rows.page.created_at, *self._changed.values()]
        for m, occ in self._maintenances:
            changes.append(m.updated_at)
            changes.extend(
                t for t in (occ.scheduled_for, occ.scheduled_until) if t and t <= self._now
            )
        for i in self._incidents:
            changes.extend([i.published_at, *(u["at"] for u in i.updates)])
        page = self._rows.page
        return {
            "id": str(page.id),
            "name": page.title,
            "url": self._rows.url,
            "time_zone": TIME_ZONE,
            "updated_at": iso(_latest(changes)),
        }

    def _status(self) -> Doc:
        impacts = [Impact(i.impact) for i in self._incidents if self._open(i) and _known(i.impact)]
        states = list(self._states.values())
        impacts.extend(_COMPONENT_IMPACT[s] for s in states)
        if states and all(s is ComponentStatus.MAJOR_OUTAGE for s in states):
            impacts.append(Impact.CRITICAL)
        indicator = worst_indicator(impacts)
        description = DESCRIPTIONS[indicator]
        if indicator == "none" and ComponentStatus.UNDER_MAINTENANCE in states:
            description = UNDER_MAINTENANCE
        return {"indicator": indicator, "description": description}

    # the endpoints

    def status(self) -> Doc:
        return {"page": self._page(), "status": self._status()}

    def components(self) -> Doc:
        return {"page": self._page(), "components": self._components}

    def incidents(self) -> Doc:
        recent = self._incidents[:LIMIT]
        return {"page": self._page(), "incidents": [self._incident(i) for i in recent]}

    def unresolved_incidents(self) -> Doc:
        found = [self._incident(i) for i in self._incidents if self._open(i)]
        return {"page": self._page(), "incidents": found}

    def scheduled_maintenances(self) -> Doc:
        ordered = sorted(self._maintenances, key=_scheduled_desc)[:LIMIT]
        docs = [self._maintenance(m, o) for m, o in ordered]
        return {"page": self._page(), "scheduled_maintenances": docs}

    def upcoming_maintenances(self) -> Doc:
        found = sorted(self._maintenances_where(MaintenanceState.SCHEDULED), key=_scheduled_asc)
        docs = [self._maintenance(m, o) for m, o in found]
        return {"page": self._page(), "scheduled_maintenances": docs}

    def active_maintenances(self) -> Doc:
        found = sorted(
            self._maintenances_where(MaintenanceState.IN_PROGRESS, MaintenanceState.VERIFYING),
            key=_scheduled_asc,
        )
        docs = [self._maintenance(m, o) for m, o in found]
        return {"page": self._page(), "scheduled_maintenances": docs}

    def summary(self) -> Doc:
        shown = sorted(
            self._maintenances_where(
                MaintenanceState.SCHEDULED, MaintenanceState.IN_PROGRESS, MaintenanceState.VERIFYING
            ),
            key=_scheduled_asc,
        )
        return {
            "page": self._page(),
            "components": self._components,
            "incidents": [self._incident(i) for i in self._incidents if self._open(i)],
            "scheduled_maintenances": [self._maintenance(m, o) for m, o in shown],
            "status": self._status(),
        }


def affects_page(
    incident: Incident, components: Sequence[tuple[Component, Monitor | None]]
) -> bool:
    """Whether the page of ``components`` shows ``incident`` (never a draft)."""
    if incident.published_at is None:
        return False
    if not incident.components and incident.monitor_id is None:
        return True
    return any(
        c.id in incident.components or (m is not None and m.id == incident.monitor_id)
        for c, m in components
    )


def _known(impact: str) -> bool:
    return impact in {i.value for i in Impact}


def _update(parent: uuid.UUID, update_id: str, status: str, body: str, at: datetime) -> Doc:
    return {
        "id": update_id,
        "status": status,
        "body": body,
        "incident_id": str(parent),
        "created_at": iso(at),
        "updated_at": iso(at),
        "display_at": iso(at),
        # Per-update component changes are not recorded; the incident's own ``components``
        # list says what it affects.
        "affected_components": None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


_FAR = datetime.max.replace(tzinfo=UTC)
_NEVER = datetime.min.replace(tzinfo=UTC)


def _scheduled_asc(pair: tuple[Maintenance, _Occurrence]) -> tuple[datetime, str]:
    return pair[1].scheduled_for or _FAR, str(pair[0].id)


def _scheduled_desc(pair: tuple[Maintenance, _Occurrence]) -> tuple[float, str]:
    when = pair[1].scheduled_for or _NEVER
    return -(when - _NEVER).total_seconds(), str(pair[0].id)
