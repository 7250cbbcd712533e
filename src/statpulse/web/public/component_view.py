"""One component's page: ``/s/{slug}/components/{component_id}``.

Its state (and regions) as the status page shows it, its uptime over the last
:data:`HISTORY_DAYS` UTC days as a calendar heatmap, its response time (p50 and p95 of ok checks)
per day over those days and per hour over the last 24 hours, each chart with a data table as its
text alternative, and the published incidents that concerned it in those days. Works without
JavaScript: the charts are SVG drawn on the server (``svg_charts.py``).

Served like the status page itself (``routes.py``): through the render cache (key
``("component", slug, id)``, beside the page's ``(slug, before)`` keys), with the same headers
(CSP, Cache-Control, ETag, gzip). 404 for an unknown page, a malformed id, or a component
that is not on this page (another page's, or on no page at all), alike.

An incident concerned the component when it is published, names the component or its monitor,
or names neither (organisation-wide, as the status page shows it), and was open at some time in
the window: started in it, resolved in it, or still open.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from statpulse.engine.rollups import Resolution, floor_to
from statpulse.engine.sketch import LatencySketch
from statpulse.i18n import DEFAULT_LANGUAGE, translate
from statpulse.model import Component, DayUptime, Monitor, StatusPage, utcnow
from statpulse.store.contract import Store
from statpulse.store.sql_incidents import Incident
from statpulse.web.deps import services
from statpulse.web.errors import not_found
from statpulse.web.public.data import BATCH, HISTORY_DAYS, MAX_SCAN, PageComponents, page_view
from statpulse.web.public.incidents_view import IncidentView, incident_view, is_active
from statpulse.web.public.routes import _page, _page_response, _render_cache, _templates
from statpulse.web.public.statuspage_data import affects_page
from statpulse.web.public.svg_charts import (
    LatencyPoint,
    calendar_heatmap,
    format_count,
    format_ms,
    long_date,
    response_time_chart,
    short_date,
)
from statpulse.web.public.view import ComponentView, day_uptime_pct, format_pct, last_days
from statpulse.web.public.view import uptime_pct as total_uptime_pct
from statpulse.web.services import Services

__all__ = ["HOURS", "ComponentDetail", "component_detail", "router"]

router = APIRouter(tags=["public"], include_in_schema=False)

HOURS = 24
"""Hourly response time over this many hours (the current one included)."""


@dataclass(frozen=True, slots=True)
class ComponentDetail:
    """What ``component.html`` shows. ``days`` and ``daily`` cover the same UTC days (oldest
    first); ``hourly`` the last :data:`HOURS` hours; ``incidents`` are newest first; ``lang``
    is the page's language (of the tables' dates and numbers)."""

    slug: str
    page_title: str
    component: ComponentView
    daily: Sequence[LatencyPoint]
    hourly: Sequence[LatencyPoint]
    incidents: Sequence[IncidentView]
    updated_at: datetime
    lang: str = DEFAULT_LANGUAGE

    @property
    def days(self) -> Sequence[DayUptime]:
        return self.component.days

    def uptime_rows(self) -> list[tuple[str, str, str, str]]:
        """(date, uptime, failed checks, checks) per day with data, newest first, for the
        heatmap's table; days without data are left out (the table says how many)."""
        rows = []
        for day in reversed(self.days):
            pct = day_uptime_pct(day)
            if pct is not None:
                failed = max(day.checks - day.ok, 0)
                lang = self.lang
                when = long_date(date.fromisoformat(day.day), lang)
                checks = format_count(day.checks, lang)
                rows.append((when, format_pct(pct, lang), format_count(failed, lang), checks))
        return rows

    def latency_rows(self, hourly: bool) -> list[tuple[str, str, str]]:
        """(bucket, p50, p95) per bucket with data, newest first, for a chart's table."""
        rows = []
        for p in reversed(self.hourly if hourly else self.daily):
            if p.p50_ms is None and p.p95_ms is None:
                continue
            lang = self.lang
            day = p.at.date()
            when = f"{short_date(day, lang)} {p.at:%H}:00" if hourly else long_date(day, lang)
            rows.append((when, format_ms(p.p50_ms, lang), format_ms(p.p95_ms, lang)))
        return rows


async def component_detail(
    store: Store, page: StatusPage, component_id: uuid.UUID, now: datetime, *, lang: str = "en"
) -> ComponentDetail | None:
    """The component's page as of ``now``; None when it is not on ``page``. ``lang``: the
    page's language (of the regions text and the tables' dates and numbers)."""
    pairs = await store.page_components(page.id)
    found = next(((c, m) for c, m in pairs if c.id == component_id), None)
    if found is None:
        return None
    monitor = found[1]
    # State and regions exactly as the status page words them (one more read of the pairs).
    states = await page_view(store, page, now, with_history=False, lang=lang)
    view = next((v for v in states.components if v.id == str(component_id)), None)
    if view is None:  # removed from the page between the two reads
        return None
    today = now.astimezone(UTC).date()
    first = datetime.combine(today - timedelta(days=HISTORY_DAYS - 1), time(), UTC)
    tomorrow = datetime.combine(today + timedelta(days=1), time(), UTC)
    this_hour = floor_to(now, Resolution.HOUR)
    hours = [this_hour - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]
    midnights = [first + timedelta(days=i) for i in range(HISTORY_DAYS)]
    rows: list[DayUptime] = []
    daily: list[LatencyPoint] = [LatencyPoint(at, None, None) for at in midnights]
    hourly: list[LatencyPoint] = [LatencyPoint(at, None, None) for at in hours]
    if monitor is not None:
        rows = (await store.daily_uptime([monitor.id], first, tomorrow)).get(monitor.id, [])
        by_day = await store.bucket_sketches(monitor.id, Resolution.DAY, first, tomorrow)
        by_hour = await store.bucket_sketches(
            monitor.id, Resolution.HOUR, hours[0], this_hour + timedelta(hours=1)
        )
        daily = [_point(at, by_day) for at in midnights]
        hourly = [_point(at, by_hour) for at in hours]
    days = last_days(rows, today=today, n=HISTORY_DAYS)
    return ComponentDetail(
        slug=page.slug,
        page_title=page.title,
        component=replace(view, days=days, uptime_pct=total_uptime_pct(days)),
        daily=daily,
        hourly=hourly,
        incidents=await _incidents(store, page, pairs, found, first),
        updated_at=now,
        lang=lang,
    )


def _point(at: datetime, sketches: dict[datetime, LatencySketch]) -> LatencyPoint:
    sketch = sketches.get(at)
    if sketch is None:
        return LatencyPoint(at, None, None)
    p50, p95 = sketch.quantiles((0.5, 0.95))
    return LatencyPoint(at, p50, p95)


async def _incidents(
    store: Store,
    page: StatusPage,
    pairs: PageComponents,
    mine: tuple[Component, Monitor | None],
    since: datetime,
) -> list[IncidentView]:
    """Published incidents of the component open at some time since ``since``, newest first,
    reading at most ``MAX_SCAN`` of the organisation's incidents (as the status page does)."""
    only = [mine]
    found: list[IncidentView] = []
    before: tuple[datetime, uuid.UUID] | None = None
    scanned = 0
    while scanned < MAX_SCAN:
        batch: list[Incident] = await store.incident_page(page.org_id, BATCH, before, drafts=False)
        scanned += len(batch)
        for incident in batch:
            in_window = incident.started_at >= since or (
                incident.resolved_at is not None and incident.resolved_at >= since
            )
            if (in_window or is_active(incident)) and affects_page(incident, only):
                shown = incident_view(incident, pairs)
                if shown is not None:
                    found.append(shown)
        if len(batch) < BATCH:
            break
        before = (batch[-1].started_at, batch[-1].id)
    return found


@router.get("/s/{slug}/components/{component_id}", response_class=HTMLResponse)
async def component_page(slug: str, component_id: str, request: Request) -> Response:
    """The component's page (see the module docstring); 304 when ``If-None-Match`` matches."""
    try:
        wanted = uuid.UUID(component_id)
    except ValueError:
        raise not_found("component") from None
    svc = services(request)
    cache = await _render_cache(request, svc)
    # The canonical spelling: other spellings of one id share the entry.
    entry = await cache.get(("component", slug, str(wanted)), lambda: _render(svc, slug, wanted))
    status, headers, body = _page_response(
        entry, request.headers.get("if-none-match"), request.headers.get("accept-encoding")
    )
    return Response(body, status, headers)


async def _render(svc: Services, slug: str, component_id: uuid.UUID) -> bytes:
    page = await _page(svc, slug)
    appearance = await svc.store.get_page_appearance(page.id)
    lang = appearance.language
    detail = await component_detail(svc.store, page, component_id, utcnow(), lang=lang)
    if detail is None:
        raise not_found("component")
    c = detail.component
    html = _templates.get_template("component.html").render(
        appearance=appearance,
        lang=lang,
        page=page,  # base.html links the page's theme.css and favicon
        detail=detail,
        c=c,
        heatmap=calendar_heatmap(c.days, label=c.name, uid=c.id, lang=lang),
        daily_chart=response_time_chart(
            detail.daily,
            label=c.name,
            period=translate(lang, "daily over the last %(n)s days", n=HISTORY_DAYS),
            uid=f"d{c.id}",
            lang=lang,
        ),
        hourly_chart=response_time_chart(
            detail.hourly,
            label=c.name,
            period=translate(lang, "hourly over the last %(n)s hours", n=HOURS),
            hourly=True,
            uid=f"h{c.id}",
            lang=lang,
        ),
    )
    return html.encode()
