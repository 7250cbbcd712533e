"""View model of the incidents and maintenances on the public status page and on an
incident's own page (pure: rows in, view objects out, ``now`` passed in; no I/O).

Which rows a page shows is the rule of the Statuspage-compatible JSON
(``statuspage_data.affects_page``), so the HTML page, its JSON and its feeds agree:

* an incident shows when it is **published** (a draft, ``published_at`` None, never shows) and
  one of its ``components`` is on the page, or its ``monitor_id`` is the monitor of one of the
  page's components; an incident naming neither is organisation-wide and shows on every page
  of the organisation;
* a maintenance shows when it lists a component of the page, or none (organisation-wide).

Active incidents are the open ones (not resolved); the rest are the page's history. Update
bodies and maintenance texts are Markdown, rendered by :func:`markdown.render_markdown`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup

from statpulse.engine import maintenance as mw
from statpulse.engine.incidents import OPEN
from statpulse.i18n import N_
from statpulse.model import Component, Monitor
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import Maintenance
from statpulse.web.public.markdown import render_markdown
from statpulse.web.public.statuspage_data import affects_page

__all__ = [
    "IncidentView",
    "MaintenanceView",
    "Notices",
    "UpdateView",
    "impact_label",
    "incident_view",
    "is_active",
    "maintenance_views",
    "shows_maintenance",
    "update_label",
]

PageComponents = Sequence[tuple[Component, Monitor | None]]

_UPDATE_LABELS = {
    "investigating": N_("Investigating"),
    "identified": N_("Identified"),
    "monitoring": N_("Monitoring"),
    "resolved": N_("Resolved"),
    "postmortem": N_("Postmortem"),
}
_IMPACT_LABELS = {
    "none": N_("No impact"),
    "minor": N_("Minor impact"),
    "major": N_("Major impact"),
    "critical": N_("Critical impact"),
}


@dataclass(frozen=True, slots=True)
class UpdateView:
    status: str
    label: str
    body: Markup
    at: datetime


@dataclass(frozen=True, slots=True)
class IncidentView:
    """One published incident. ``updates`` are newest first (as Statuspage lists them)."""

    id: str
    title: str
    status: str
    label: str
    impact: str
    impact_label: str
    started_at: datetime
    resolved_at: datetime | None
    components: tuple[str, ...]
    """Names of the page's components it affects (empty: organisation-wide)."""
    updates: tuple[UpdateView, ...]

    @property
    def active(self) -> bool:
        return self.resolved_at is None and self.status in OPEN

    @property
    def latest(self) -> UpdateView | None:
        return self.updates[0] if self.updates else None


@dataclass(frozen=True, slots=True)
class MaintenanceView:
    """The current (``active``) or next occurrence of a maintenance window, in UTC."""

    id: str
    title: str
    body: Markup
    start: datetime
    end: datetime
    active: bool
    components: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notices:
    """What the status page shows besides its components."""

    active: Sequence[IncidentView] = ()
    history: Sequence[IncidentView] = ()
    """One page of resolved incidents, newest first."""
    older: str | None = None
    """The ``before`` cursor of the next (older) page of history; None on the last page."""
    paged: bool = False
    """Whether ``history`` is a later page (``?before=`` given): offer a way back."""
    maintenance_active: Sequence[MaintenanceView] = ()
    maintenance_upcoming: Sequence[MaintenanceView] = ()


def update_label(status: str) -> str:
    """The English words for an update's status: a message id the templates translate."""
    return _UPDATE_LABELS.get(status, status.capitalize())


def impact_label(impact: str) -> str:
    """The English words for an impact: a message id the templates translate."""
    return _IMPACT_LABELS.get(impact, impact.capitalize())


def is_active(incident: Incident) -> bool:
    """Open (investigating, identified, monitoring) and not resolved."""
    return incident.resolved_at is None and incident.status in OPEN


def _names(
    ids: Iterable[uuid.UUID], monitor_id: uuid.UUID | None, components: PageComponents
) -> tuple[str, ...]:
    wanted = set(ids)
    return tuple(
        c.name
        for c, m in components
        if c.id in wanted or (monitor_id is not None and m is not None and m.id == monitor_id)
    )


def incident_view(incident: Incident, components: PageComponents) -> IncidentView | None:
    """The public view of ``incident`` on the page of ``components``; None when the page
    must not show it (a draft, or an incident of other components only)."""
    if not affects_page(incident, components):
        return None
    updates = tuple(
        UpdateView(
            status=str(u["status"]),
            label=update_label(str(u["status"])),
            body=render_markdown(str(u["body"])),
            at=u["at"],
        )
        for u in reversed(incident.updates)
    )
    return IncidentView(
        id=str(incident.id),
        title=incident.title,
        status=incident.status,
        label=update_label(incident.status),
        impact=incident.impact,
        impact_label=impact_label(incident.impact),
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
        components=_names(incident.components, incident.monitor_id, components),
        updates=updates,
    )


def shows_maintenance(m: Maintenance, components: PageComponents) -> bool:
    return not m.components or any(c.id in m.components for c, _ in components)


def maintenance_views(
    maintenances: Iterable[Maintenance], components: PageComponents, now: datetime
) -> tuple[list[MaintenanceView], list[MaintenanceView]]:
    """(in progress, upcoming) maintenances of the page at ``now``, each sorted by start.

    A maintenance is in progress during an occurrence of its window, else upcoming when it has
    a next occurrence; a finished one-off window is neither. A window that cannot be computed
    (its time zone vanished from the system) is left out rather than failing the page."""
    active: list[MaintenanceView] = []
    upcoming: list[MaintenanceView] = []
    for m in maintenances:
        if not shows_maintenance(m, components):
            continue
        try:
            current = mw.active(m.window, now)
            following = mw.next_occurrences(m.window, now, 1) if current is None else []
        except (ValueError, KeyError):
            continue
        occurrence = current or (following[0] if following else None)
        if occurrence is None:
            continue
        view = MaintenanceView(
            id=str(m.id),
            title=m.title,
            body=render_markdown(m.body),
            start=occurrence[0],
            end=occurrence[1],
            active=current is not None,
            components=_names(m.components, None, components),
        )
        (active if view.active else upcoming).append(view)
    active.sort(key=lambda v: (v.start, v.id))
    upcoming.sort(key=lambda v: (v.start, v.id))
    return active, upcoming
