"""Builds the public view of a status page from the store (the one place both the HTML page,
its live stream and the public JSON API get their data), and the incidents and maintenances
the HTML page shows (:func:`page_notices`, :func:`public_incident`; which ones belong to a page
is decided in ``incidents_view``)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from statpulse.engine.evaluate import stale_after
from statpulse.engine.incidents import ComponentStatus
from statpulse.engine.regions import RegionView, region_views
from statpulse.i18n import DEFAULT_LANGUAGE, translate
from statpulse.model import Component, DayUptime, Monitor, RegionState, Status, StatusPage
from statpulse.store.contract import Store
from statpulse.store.sql_groups import ComponentGroup
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import ComponentOverride, Maintenance
from statpulse.web.public.component_state import (
    ComponentState,
    Source,
    active_maintenances,
    component_state,
    maintenance_starts,
)
from statpulse.web.public.incidents_view import (
    IncidentView,
    Notices,
    incident_view,
    is_active,
    maintenance_views,
)
from statpulse.web.public.statuspage_data import affects_page
from statpulse.web.public.view import ComponentView, GroupView, PageView, last_days, uptime_pct

HISTORY_DAYS = 90
HISTORY_PAGE = 10
"""Resolved incidents per page of the status page's history."""
BATCH = 100
MAX_SCAN = 1000
"""Published incidents of the organisation read per request at most: an unresolved incident
older than the newest 1000 is not listed as active (a store query for open incidents would
lift this; ``statuspage.py`` has the same bound)."""

PageComponents = Sequence[tuple[Component, Monitor | None]]


@dataclass(frozen=True, slots=True)
class PageFrame:
    """What a page's state is made of besides its monitors' live state: the components with
    their monitors (as read), the organisation's overrides and maintenance windows, and the
    page's component groups (empty when not read)."""

    pairs: PageComponents
    overrides: Mapping[uuid.UUID, ComponentOverride]
    maintenances: Sequence[Maintenance]
    groups: Sequence[ComponentGroup] = ()


async def read_frame(store: Store, page: StatusPage, *, with_groups: bool = True) -> PageFrame:
    return PageFrame(
        pairs=await store.page_components(page.id),
        overrides={o.component_id: o for o in await store.list_overrides(page.org_id)},
        maintenances=await store.list_maintenances(page.org_id),
        groups=await store.list_groups(page.id) if with_groups else (),
    )


async def page_view(
    store: Store,
    page: StatusPage,
    now: datetime,
    *,
    with_history: bool = True,
    lang: str = DEFAULT_LANGUAGE,
    frame: PageFrame | None = None,
) -> PageView:
    """The page as of ``now``: components in order, their current status and, unless
    ``with_history`` is false (the live stream needs only states), 90 days of daily uptime and
    the component groups. ``lang`` is the page's language, for the regions text. With a
    ``frame`` (``read_frame``; the live stream keeps one, groups included, and brings its
    monitors' statuses up to date from the live events), only the region states of
    multi-region monitors are read, and the groups are the frame's.

    The status is ``component_state`` (override, then maintenance, then the monitor with its
    regions), the same as the Statuspage JSON's."""
    if frame is None:
        frame = await read_frame(store, page, with_groups=with_history)
    pairs = frame.pairs
    today = now.astimezone(UTC).date()
    daily = {}
    if with_history:
        start = datetime.combine(today - timedelta(days=HISTORY_DAYS - 1), time(), UTC)
        end = datetime.combine(today + timedelta(days=1), time(), UTC)
        monitor_ids = [m.id for _, m in pairs if m is not None]
        daily = await store.daily_uptime(monitor_ids, start, end)
    multi = [m for _, m in pairs if m is not None and len(m.config.regions) > 1]
    states = await store.region_states([m.id for m in multi]) if multi else []
    overrides = frame.overrides
    maintenance = maintenance_starts(active_maintenances(frame.maintenances, now))
    groups = frame.groups
    group_of = {cid: g.id for g in reversed(groups) for cid in g.components}
    components = []
    for component, monitor in pairs:
        days: tuple[DayUptime, ...] = ()
        if with_history:
            rows = daily.get(monitor.id, []) if monitor else []
            days = last_days(rows, today=today, n=HISTORY_DAYS)
        state = component_state(
            component,
            monitor,
            overrides=overrides,
            maintenance=maintenance,
            region_states=states,
            now=now,
        )
        group_id = group_of.get(component.id)
        components.append(
            ComponentView(
                id=str(component.id),
                name=component.name,
                description=component.description,
                status=_shown(state, monitor),
                days=days,
                uptime_pct=uptime_pct(days),
                regions=_regions(monitor, states, now, lang) if monitor in multi else None,
                partial=state.status is ComponentStatus.PARTIAL_OUTAGE,
                group=str(group_id) if group_id else None,
            )
        )
    by_id = {c.id: c for c in components}
    return PageView(
        slug=page.slug,
        title=page.title,
        description=page.description,
        components=components,
        updated_at=now,
        groups=[
            GroupView(
                id=str(g.id),
                name=g.name,
                components=[
                    by_id[str(c)] for c in g.components if by_id[str(c)].group == str(g.id)
                ],
            )
            for g in groups
        ],
    )


_SHOWN = {
    ComponentStatus.OPERATIONAL: Status.UP,
    ComponentStatus.DEGRADED_PERFORMANCE: Status.DEGRADED,
    ComponentStatus.PARTIAL_OUTAGE: Status.DOWN,
    ComponentStatus.MAJOR_OUTAGE: Status.DOWN,
    ComponentStatus.UNDER_MAINTENANCE: Status.MAINTENANCE,
}


def _shown(state: ComponentState, monitor: Monitor | None) -> Status:
    """The page's status for ``state``: the monitor's own status when the monitor decided
    (so "Paused" and "No data" stay visible where Statuspage says ``operational``), else the
    override's or maintenance's; a partial outage is DOWN with ``ComponentView.partial``."""
    if state.source is Source.MONITOR:
        if monitor is None:
            return Status.UNKNOWN
        if monitor.status in (Status.PAUSED, Status.UNKNOWN):
            return monitor.status
    return _SHOWN[state.status]


def _regions(monitor: Monitor, states: Sequence[RegionState], now: datetime, lang: str) -> str:
    mine = [s for s in states if s.monitor_id == monitor.id]
    cfg = monitor.config
    return regions_text(region_views(cfg.regions, mine, now, stale_after(cfg.interval_s)), lang)


def regions_text(views: Sequence[RegionView], lang: str = DEFAULT_LANGUAGE) -> str:
    """``"2 of 5 regions failing"`` (of the fresh ones), plus the stale and missing counts, in
    ``lang``; in English the words of ``engine.regions.summary``."""
    fresh = [v for v in views if v.freshness == "fresh"]
    failing = sum(1 for v in fresh if v.status is Status.DOWN)
    text = translate(
        lang, "%(failing)s of %(total)s regions failing", failing=failing, total=len(fresh)
    )
    stale = sum(1 for v in views if v.freshness == "stale")
    missing = sum(1 for v in views if v.freshness == "missing")
    if stale:
        text += translate(lang, ", %(n)s stale", n=stale)
    if missing:
        text += translate(lang, ", %(n)s missing", n=missing)
    return text


async def public_incident(
    store: Store, page: StatusPage, components: PageComponents, incident_id: uuid.UUID
) -> IncidentView | None:
    """The incident as the page shows it; None when the organisation has no such incident,
    it is a draft, or it concerns none of the page's components."""
    incident = await store.get_incident(page.org_id, incident_id)
    return incident_view(incident, components) if incident is not None else None


async def history_cursor(
    store: Store, page: StatusPage, components: PageComponents, incident_id: uuid.UUID
) -> tuple[datetime, uuid.UUID] | None:
    """The ``before`` position of the page's history after ``incident_id``; None unless it is
    a published incident of the page (a draft's id reveals nothing, not even its existence)."""
    incident = await store.get_incident(page.org_id, incident_id)
    if incident is None or not affects_page(incident, components):
        return None
    return incident.started_at, incident.id


async def page_notices(
    store: Store,
    page: StatusPage,
    components: PageComponents,
    now: datetime,
    before: tuple[datetime, uuid.UUID] | None = None,
) -> Notices:
    """Active incidents (all of them, newest first), one page of :data:`HISTORY_PAGE` resolved
    incidents starting after ``before`` (the newest when None), and the maintenances in
    progress and upcoming at ``now``. Drafts are never read (``drafts=False``) and filtered
    again by ``incident_view``."""
    wanted = HISTORY_PAGE + 1  # one more tells whether an older page exists
    if before is None:
        active, history = await _scan(store, page, components, None, wanted, all_active=True)
    else:
        active, _ = await _scan(store, page, components, None, 0, all_active=True)
        _, history = await _scan(store, page, components, before, wanted, all_active=False)
    older = str(history[HISTORY_PAGE - 1].id) if len(history) > HISTORY_PAGE else None
    maintenances = await store.list_maintenances(page.org_id)
    running, upcoming = maintenance_views(maintenances, components, now)
    return Notices(
        active=_views(active, components),
        history=_views(history[:HISTORY_PAGE], components),
        older=older,
        paged=before is not None,
        maintenance_active=running,
        maintenance_upcoming=upcoming,
    )


async def _scan(
    store: Store,
    page: StatusPage,
    components: PageComponents,
    before: tuple[datetime, uuid.UUID] | None,
    resolved_wanted: int,
    *,
    all_active: bool,
) -> tuple[list[Incident], list[Incident]]:
    """(active, resolved) published incidents of the page after ``before``, newest first,
    reading at most :data:`MAX_SCAN` rows: up to ``resolved_wanted`` resolved ones and, with
    ``all_active``, every active one (else the scan stops once enough resolved ones are in)."""
    active: list[Incident] = []
    resolved: list[Incident] = []
    scanned = 0
    while scanned < MAX_SCAN:
        batch = await store.incident_page(page.org_id, BATCH, before, drafts=False)
        scanned += len(batch)
        for incident in batch:
            if not affects_page(incident, components):
                continue
            if is_active(incident):
                active.append(incident)
            elif len(resolved) < resolved_wanted:
                resolved.append(incident)
        if len(batch) < BATCH or (not all_active and len(resolved) >= resolved_wanted):
            break
        before = (batch[-1].started_at, batch[-1].id)
    return active, resolved


def _views(incidents: Sequence[Incident], components: PageComponents) -> list[IncidentView]:
    return [v for i in incidents if (v := incident_view(i, components)) is not None]
