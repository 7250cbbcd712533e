"""SVG badges of a status page for README files, in shields.io's "flat" style.

* ``/s/{slug}/badge/status.svg``: the page's overall state, by the rule of the page's banner
  (``view.PageView.banner``): operational, degraded, partial outage (some but not all components
  down), major outage, maintenance; "no data" while nothing is known.
* ``/s/{slug}/components/{component_id}/badge/uptime.svg?days=30``: uptime over the last
  ``days`` UTC days including today, from the day rollups, computed as the page's 90-day bars
  compute theirs (``view.last_days`` + ``view.uptime_pct``, shown by ``view.format_pct``).
* ``/s/{slug}/components/{component_id}/badge/response.svg?days=1``: p95 latency of ok checks
  over the last ``days`` x 24 h, from the stats API's reader (``reports.ranges.range_stats``).

Every badge takes ``?label=`` to replace its left-hand text. Unknown slug, unknown or malformed
component id, or a component of another page: 404 in the API's error shape; ``days`` outside
1..90: 422 in that shape, naming ``days``.

Text widths are estimated from Verdana 11 px advance widths (as shields.io measures), since the
server cannot measure fonts; ``textLength`` makes the viewer fit the text to that width, so a
missing Verdana still lines up. All text is XML-escaped; the response carries a CSP that forbids
scripts and external loads, in case the SVG is opened as a document.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response
from markupsafe import escape

from statpulse.model import Component, Monitor, Status, StatusPage, utcnow
from statpulse.reports.ranges import range_stats
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import not_found
from statpulse.web.public.cors import PUBLIC_CORS
from statpulse.web.public.data import page_view
from statpulse.web.public.view import format_pct, last_days, overall_status, uptime_pct

router = APIRouter(tags=["public"], include_in_schema=False)

HEADERS = {
    **PUBLIC_CORS,
    "Cache-Control": "public, max-age=60",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}
MAX_DAYS = 90
LABEL_MAX = 64

GREEN, LIGHT_GREEN, YELLOW, ORANGE, RED, BLUE, GREY = (
    "#4c1",
    "#97ca00",
    "#dfb317",
    "#fe7d37",
    "#e05d44",
    "#007ec6",
    "#9f9f9f",
)
LABEL_COLOUR = "#555"

Days = Annotated[int, Query(ge=1, le=MAX_DAYS, description="1..90")]
Label = Annotated[str | None, Query(max_length=LABEL_MAX)]


class PageState(StrEnum):
    OPERATIONAL = "operational"
    DEGRADED = "degraded"
    PARTIAL_OUTAGE = "partial outage"
    MAJOR_OUTAGE = "major outage"
    MAINTENANCE = "maintenance"
    NO_DATA = "no data"


STATE_COLOURS: dict[PageState, str] = {
    PageState.OPERATIONAL: GREEN,
    PageState.DEGRADED: YELLOW,
    PageState.PARTIAL_OUTAGE: ORANGE,
    PageState.MAJOR_OUTAGE: RED,
    PageState.MAINTENANCE: BLUE,
    PageState.NO_DATA: GREY,
}
# (at least this, colour), best first; below the last: red. 99 and 95 are the uptime bars' lines.
UPTIME_COLOURS = ((99.9, GREEN), (99.0, LIGHT_GREEN), (95.0, ORANGE))
# (below this many ms, colour), fastest first; at or above the last: red.
RESPONSE_COLOURS = ((200.0, GREEN), (500.0, LIGHT_GREEN), (1000.0, YELLOW), (2000.0, ORANGE))

# Advance widths (px) of printable ASCII in Verdana 11 px, from " " (0x20) to "~" (0x7e).
_ASCII_WIDTHS = (
    (3.87, 4.33, 5.05, 9.0, 7.0, 11.84, 7.99, 2.95, 4.99, 4.99, 7.0, 9.0, 4.0, 4.99, 4.0, 4.99)
    + (7.0,) * 10
    + (4.99, 4.99, 9.0, 9.0, 9.0, 6.0, 11.0)
    + (7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.62, 5.0, 7.62, 6.12, 9.27)
    + (8.23, 8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54)
    + (4.99, 4.99, 4.99, 9.0, 7.0, 7.0)
    + (6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.7)
    + (6.96, 6.68, 6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 8.98, 6.51, 6.51, 5.78)
    + (6.98, 4.99, 6.98, 9.0)
)
_DEFAULT_WIDTH = 7.0  # other characters: as a digit
_WIDE_WIDTH = 11.0  # East Asian wide and full-width characters
_PADDING = 10.0  # 5 px either side of each half's text
# Characters XML 1.0 does not allow (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def text_width(text: str) -> float:
    """Estimated rendered width in px of ``text`` in Verdana 11 px."""
    width = 0.0
    for char in text:
        code = ord(char)
        if 0x20 <= code <= 0x7E:
            width += _ASCII_WIDTHS[code - 0x20]
        elif unicodedata.combining(char) or unicodedata.category(char) in ("Cc", "Cf"):
            continue
        elif unicodedata.east_asian_width(char) in ("W", "F"):
            width += _WIDE_WIDTH
        else:
            width += _DEFAULT_WIDTH
    return width


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids, which no escaping can carry."""
    return _NOT_XML.sub("", text)


def badge(label: str, value: str, colour: str) -> str:
    """A flat badge ``label | value`` with the value half in ``colour`` (a ``#rgb``/``#rrggbb``
    literal, not user input). Its accessible name and tooltip are ``"label: value"``."""
    label, value = _clean(label), _clean(value)
    lw, vw = text_width(label), text_width(value)
    left, right = round(lw + _PADDING), round(vw + _PADDING)
    total = left + right
    name = escape(f"{label}: {value}")
    # Text is drawn at 10x and scaled by .1: whole numbers give sub-pixel positions.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img"'
        f' aria-label="{name}"><title>{name}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb"'
        ' stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="{LABEL_COLOUR}"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{total}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif"'
        ' text-rendering="geometricPrecision" font-size="110">'
        f"{_text(label, left * 5, lw)}{_text(value, left * 10 + right * 5, vw)}</g></svg>"
    )


def _text(text: str, x: float, width: float) -> str:
    length = round(width * 10)
    body = escape(text)
    return (
        f'<text aria-hidden="true" x="{x}" y="150" fill="#010101" fill-opacity=".3"'
        f' transform="scale(.1)" textLength="{length}">{body}</text>'
        f'<text x="{x}" y="140" transform="scale(.1)" fill="#fff" textLength="{length}">'
        f"{body}</text>"
    )


def page_state(statuses: Iterable[Status]) -> PageState:
    """The overall state of components with ``statuses``, by the banner's rule: the worst
    status (``view.overall_status``), where an outage of some but not all components with a
    known state is partial."""
    statuses = list(statuses)
    overall = overall_status(statuses)
    if overall is Status.DOWN:
        known = [s for s in statuses if s not in (Status.PAUSED, Status.UNKNOWN)]
        partial = any(s is not Status.DOWN for s in known)
        return PageState.PARTIAL_OUTAGE if partial else PageState.MAJOR_OUTAGE
    return {
        Status.UP: PageState.OPERATIONAL,
        Status.DEGRADED: PageState.DEGRADED,
        Status.MAINTENANCE: PageState.MAINTENANCE,
    }.get(overall, PageState.NO_DATA)


def uptime_colour(pct: float | None) -> str:
    if pct is None:
        return GREY
    return next((colour for floor, colour in UPTIME_COLOURS if pct >= floor), RED)


def response_colour(p95_ms: float | None) -> str:
    if p95_ms is None:
        return GREY
    return next((colour for ceiling, colour in RESPONSE_COLOURS if p95_ms < ceiling), RED)


def _svg(label: str, value: str, colour: str) -> Response:
    return Response(badge(label, value, colour), media_type="image/svg+xml", headers=HEADERS)


async def _page(svc: ServicesDep, slug: str) -> StatusPage:
    page = await svc.store.get_page(slug)
    if page is None:
        raise not_found("status page")
    return page


async def _component(
    svc: ServicesDep, slug: str, component_id: str
) -> tuple[Component, Monitor | None]:
    """The component of the page ``slug`` with id ``component_id``; 404 otherwise (also for a
    malformed id: to a reader of the URL it names no component)."""
    page = await _page(svc, slug)
    try:
        wanted = uuid.UUID(component_id)
    except ValueError:
        raise not_found("component") from None
    for component, monitor in await svc.store.page_components(page.id):
        if component.id == wanted:
            return component, monitor
    raise not_found("component")


@router.get("/s/{slug}/badge/status.svg")
async def status_badge(slug: str, svc: ServicesDep, label: Label = None) -> Response:
    """The page's overall state as a badge."""
    page = await _page(svc, slug)
    view = await page_view(svc.store, page, utcnow(), with_history=False)
    state = page_state(c.status for c in view.components)
    return _svg(label or "status", state.value, STATE_COLOURS[state])


@router.get("/s/{slug}/components/{component_id}/badge/uptime.svg")
async def uptime_badge(
    slug: str, component_id: str, svc: ServicesDep, days: Days = 30, label: Label = None
) -> Response:
    """Uptime of the component's monitor over the last ``days`` UTC days (today included);
    "no data" without a monitor or checks."""
    _, monitor = await _component(svc, slug, component_id)
    pct = None
    if monitor is not None:
        today = utcnow().date()
        start = datetime.combine(today - timedelta(days=days - 1), time(), UTC)
        end = datetime.combine(today + timedelta(days=1), time(), UTC)
        rows = (await svc.store.daily_uptime([monitor.id], start, end)).get(monitor.id, [])
        pct = uptime_pct(last_days(rows, today=today, n=days))
    value = format_pct(pct).replace(" %", "%") if pct is not None else "no data"
    return _svg(label or f"uptime {days}d", value, uptime_colour(pct))


@router.get("/s/{slug}/components/{component_id}/badge/response.svg")
async def response_badge(
    slug: str, component_id: str, svc: ServicesDep, days: Days = 1, label: Label = None
) -> Response:
    """p95 latency (ms) of the component's monitor's ok checks over the last ``days`` x 24 h;
    "no data" without a monitor or ok checks."""
    _, monitor = await _component(svc, slug, component_id)
    p95 = None
    if monitor is not None:
        end = utcnow()
        overall, _ = await range_stats(svc.store, monitor.id, end - timedelta(days=days), end)
        p95 = overall.p95_ms
    value = f"{round(p95)} ms" if p95 is not None else "no data"
    return _svg(label or f"p95 {days}d", value, response_colour(p95))
