"""The charts of a component's page, drawn on the server as inline SVG (pure: no I/O, no clock).

* :func:`calendar_heatmap`: daily uptime as a GitHub-style calendar, one column per week
  (Monday on top), one cell per day coloured by the uptime bar's classes (``svg.day_class``:
  ``u-none`` for a day without data, ``u-ok`` ... ``u-major``), so the two agree; month and
  weekday labels, and an HTML colour key under it.
* :func:`response_time_chart`: p50 and p95 latency per day (or hour) as two lines with the band
  between them, a y axis of round values in ms and date (or hour) labels. A bucket without data
  is a gap: no line is ever drawn across it; an isolated point is a dot.

Both are ``<svg role="img">`` named by a ``<title>`` and summarised by a ``<desc>`` (the
assistive-technology text: inside ``role="img"`` nothing else is read); the page adds a data
table of the same numbers. Each cell or bucket has a ``<title>`` tooltip. Colours and fonts
come from classes styled in ``status.css`` (no ``style=`` attributes: the page's CSP forbids
inline styles); every interpolated text is escaped. Sizes scale with the width (``viewBox``).

Every text (names, descriptions, tooltips, month and weekday names, the key, numbers and
dates) is in the ``lang`` given (the page's language; English by default): month and weekday
names are message ids of the catalog (``i18n.py``), numbers use the language's marks
(``"1.234 ms"``, ``"2,5 ms"`` in German).
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby

from markupsafe import Markup, escape

from statpulse.i18n import DEFAULT_LANGUAGE, N_, decimal_mark, translate, translate_plural
from statpulse.model import DayUptime
from statpulse.web.public.svg import day_class
from statpulse.web.public.view import day_uptime_pct, format_pct, uptime_pct

__all__ = [
    "HEATMAP_KEY",
    "LatencyPoint",
    "calendar_heatmap",
    "format_count",
    "format_ms",
    "heatmap_cell_title",
    "long_date",
    "nice_ticks",
    "response_time_chart",
    "short_date",
]

MONTHS = (
    N_("Jan"), N_("Feb"), N_("Mar"), N_("Apr"), N_("May"), N_("Jun"),
    N_("Jul"), N_("Aug"), N_("Sep"), N_("Oct"), N_("Nov"), N_("Dec"),
)  # fmt: skip
"""Abbreviated month names: message ids, translated with the page's language."""
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
HEATMAP_KEY = (
    ("u-none", N_("No data")),
    ("u-ok", N_("100 %")),
    ("u-minor", N_("99 % to 100 %")),
    ("u-degraded", N_("Slow (1 % of checks or more degraded)")),
    ("u-partial", N_("95 % to 99 %")),
    ("u-major", N_("Below 95 %")),
)
"""The heatmap's colour classes in key order, with their meaning (``svg.py``'s table; message
ids)."""

# Heatmap geometry, in viewBox units: cells of CELL with GAP between them, weekday labels in
# the left margin, month labels in the top one.
CELL, GAP = 10, 2
PITCH = CELL + GAP
HM_LEFT, HM_TOP, HM_RIGHT = 26, 14, 14
LABELLED_ROWS = (0, 2, 4)  # Mon, Wed, Fri, as GitHub does

# Response-time chart geometry.
RT_WIDTH, RT_HEIGHT = 480, 180
RT_LEFT, RT_RIGHT, RT_TOP, RT_BOTTOM = 60, 14, 10, 24
TICKS = 4
MAX_TICK = 1e15  # ms: far beyond any latency (a sketch's buckets end at 10 minutes)
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")

Scale = Callable[[float], float]
"""Data to viewBox coordinate (bucket index to x, ms to y)."""


def short_date(day: date, lang: str = DEFAULT_LANGUAGE) -> str:
    """``"21 Nov"`` (``"21. Nov"`` in German; month names of ``lang`` whatever the server's
    locale)."""
    month = translate(lang, MONTHS[day.month - 1])
    return translate(lang, "%(day)s %(month)s", day=day.day, month=month)


def long_date(day: date, lang: str = DEFAULT_LANGUAGE) -> str:
    """``"21 Nov 2026"``."""
    return f"{short_date(day, lang)} {day.year}"


def format_count(n: float, lang: str = DEFAULT_LANGUAGE) -> str:
    """A whole number with grouped digits: ``"1,440"`` (``"1.440"`` in German)."""
    text = f"{round(n):,}"
    return text.replace(",", ".") if decimal_mark(lang) == "," else text


def _decimal(text: str, lang: str) -> str:
    """``text`` (a number written with a decimal point) with the decimal mark of ``lang``."""
    return text.replace(".", decimal_mark(lang))


def _num(value: float) -> str:
    """A coordinate to one decimal, without a trailing ``.0``."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _uid(prefix: str, uid: str) -> str:
    return f"{prefix}-{_UNSAFE_ID.sub('', uid)}"


def _open_svg(cls: str, base: str, width: float, height: float, name: str, desc: str) -> str:
    return (
        f'<svg class="{cls}" viewBox="0 0 {_num(width)} {_num(height)}" role="img"'
        f' aria-labelledby="{base}-t" aria-describedby="{base}-d">'
        f'<title id="{base}-t">{escape(name)}</title><desc id="{base}-d">{escape(desc)}</desc>'
    )


# --- calendar heatmap ---------------------------------------------------------------------


def heatmap_cell_title(day: date, uptime: DayUptime | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """Tooltip of one cell in ``lang``, unescaped: ``"21 Nov 2026: 99.95 % uptime, 2 failed
    checks of 1,440"`` (``", 5 degraded"`` added when some were slow), or ``"21 Nov 2026: No
    data"``."""
    pct = day_uptime_pct(uptime) if uptime is not None else None
    when = long_date(day, lang)
    if uptime is None or pct is None:
        return translate(lang, "%(day)s: No data", day=when)
    failed = max(uptime.checks - uptime.ok, 0)
    text = translate_plural(
        lang,
        "%(day)s: %(pct)s uptime, %(failed)s failed check of %(checks)s",
        "%(day)s: %(pct)s uptime, %(failed)s failed checks of %(checks)s",
        failed,
        day=when,
        pct=format_pct(pct, lang),
        failed=format_count(failed, lang),
        checks=format_count(uptime.checks, lang),
    )
    if uptime.degraded > 0:
        text += translate(lang, ", %(n)s degraded", n=format_count(uptime.degraded, lang))
    return text


def _parse_days(days: Sequence[DayUptime]) -> dict[date, DayUptime]:
    """Days by date; a day whose ``day`` is not an ISO date is left out (it has no cell)."""
    found = {}
    for d in days:
        try:
            found[date.fromisoformat(d.day)] = d
        except (TypeError, ValueError):
            continue
    return found


def _heatmap_desc(by_date: dict[date, DayUptime], first: date, last: date, lang: str) -> str:
    total = (last - first).days + 1
    with_data = [d for d in by_date.values() if d.checks > 0]
    down = [(day_uptime_pct(d) or 0.0, day) for day, d in by_date.items() if 0 <= d.ok < d.checks]
    slow = sum(1 for d in with_data if day_class(d) == "u-degraded")
    parts = [
        translate_plural(
            lang,
            "Uptime over the %(n)s day: %(pct)s.",
            "Uptime over the %(n)s days: %(pct)s.",
            total,
            pct=format_pct(uptime_pct(with_data), lang),
        )
    ]
    if down:
        pct, worst = min(down)
        parts.append(
            translate(
                lang,
                "Days with downtime: %(n)s; the worst, %(day)s, had %(pct)s uptime.",
                n=len(down),
                day=long_date(worst, lang),
                pct=format_pct(pct, lang),
            )
        )
    else:
        parts.append(translate(lang, "Days with downtime: %(n)s.", n=0))
    parts.append(translate(lang, "Days with degraded performance: %(n)s.", n=slow))
    parts.append(translate(lang, "Days without data: %(n)s.", n=total - len(with_data)))
    return " ".join(parts)


def calendar_heatmap(
    days: Sequence[DayUptime], *, label: str, uid: str = "c", lang: str = DEFAULT_LANGUAGE
) -> Markup:
    """Daily uptime as a calendar: ``<div class="hm">`` holding the ``<svg>`` and its colour key.

    ``days``: the component's days (``view.last_days``: oldest first, no gap), each placed by
    its date: column = week (starting on Monday), row = weekday. A date of the span from the
    first to the last day without an entry is a "no data" cell; an entry whose ``day`` is not
    an ISO date is ignored. ``label`` (the component's name) starts the accessible name;
    ``uid`` keeps element ids unique on the page; ``lang`` is the page's language.
    """
    base = _uid("hm", uid)
    by_date = _parse_days(days)
    if not by_date:
        name = translate(lang, "%(label)s: daily uptime", label=label)
        svg = _open_svg("hm", base, 120, 30, name, translate(lang, "No data."))
        no_data = escape(translate(lang, "No data"))
        svg += f'<text x="60" y="19" text-anchor="middle">{no_data}</text></svg>'
        return Markup(f'<div class="hm">{svg}</div>')  # noqa: S704 - text escaped
    first, last = min(by_date), max(by_date)
    monday = first - timedelta(days=first.weekday())
    columns = (last - monday).days // 7 + 1
    width = HM_LEFT + columns * PITCH - GAP + HM_RIGHT
    height = HM_TOP + 7 * PITCH - GAP
    name = translate(
        lang,
        "%(label)s: daily uptime from %(start)s to %(end)s",
        label=label,
        start=long_date(first, lang),
        end=long_date(last, lang),
    )
    desc = _heatmap_desc(by_date, first, last, lang)
    parts = [_open_svg("hm", base, width, height, name, desc)]
    parts.append('<g class="hm-l">')
    parts.extend(_month_labels(first, last, monday, columns, lang))
    for row in LABELLED_ROWS:
        y = HM_TOP + row * PITCH + CELL - 1
        weekday = escape(translate(lang, WEEKDAYS[row]))
        parts.append(f'<text x="{HM_LEFT - 4}" y="{y}" text-anchor="end">{weekday}</text>')
    parts.append("</g>")
    cells = [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def cls(day: date) -> str:
        found = by_date.get(day)
        return day_class(found) if found is not None else "u-none"

    # Consecutive days of one class share a <g class>, as in the uptime bar.
    for group, run in groupby(cells, key=cls):
        parts.append(f'<g class="{group}">')
        for day in run:
            offset = (day - monday).days
            x = HM_LEFT + offset // 7 * PITCH
            y = HM_TOP + day.weekday() * PITCH
            title = heatmap_cell_title(day, by_date.get(day), lang)
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}">'
                f"<title>{escape(title)}</title></rect>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    key = _heatmap_key(lang)
    return Markup(f'<div class="hm">{"".join(parts)}{key}</div>')  # noqa: S704


def _month_labels(first: date, last: date, monday: date, columns: int, lang: str) -> list[str]:
    """A month's name above the column holding its first day (the first column gets the
    first day's month unless the next label is too close to leave it room)."""
    starts: list[tuple[int, int]] = []  # (column, month)
    for col in range(columns):
        week = [monday + timedelta(days=7 * col + i) for i in range(7)]
        firsts = [d for d in week if d.day == 1 and first <= d <= last]
        if firsts:
            starts.append((col, firsts[0].month))
    if not starts or starts[0][0] >= 3:
        starts.insert(0, (0, first.month))
    return [
        f'<text x="{HM_LEFT + col * PITCH}" y="{HM_TOP - 4}">'
        f"{escape(translate(lang, MONTHS[month - 1]))}</text>"
        for col, month in starts
    ]


def _heatmap_key(lang: str) -> str:
    items = "".join(
        f'<li><svg class="sw" viewBox="0 0 1 1" aria-hidden="true" focusable="false">'
        f'<rect class="{cls}" width="1" height="1"/></svg>{escape(translate(lang, text))}</li>'
        for cls, text in HEATMAP_KEY
    )
    key = escape(translate(lang, "Colour key"))
    return f'<ul class="hm-key" aria-label="{key}">{items}</ul>'


# --- response time chart ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LatencyPoint:
    """One bucket of the chart: its start (UTC) and its p50 and p95 latency in ms (None, or
    a value that is not a finite number >= 0: no data)."""

    at: datetime
    p50_ms: float | None
    p95_ms: float | None


def _clean(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def format_ms(value: float | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """``"2.5 ms"`` below 10 ms, ``"1,234 ms"`` from there; ``"No data"`` for None (in
    ``lang``: ``"2,5 ms"``, ``"1.234 ms"``, ``"Keine Daten"``)."""
    value = _clean(value)
    if value is None:
        return translate(lang, "No data")
    if value < 10:
        return _decimal(f"{value:.1f} ms", lang)
    return f"{format_count(value, lang)} ms"


def nice_ticks(high: float, count: int = TICKS) -> list[float]:
    """Round y-axis values from 0 up to at least ``high``: steps of 1, 2, 2.5 or 5 x 10^k, at
    most ``count`` steps (``high`` below 1, or not a finite number, counts as 1; above
    :data:`MAX_TICK` as that, so the steps stay finite)."""
    if not math.isfinite(high) or high < 1:
        high = 1.0
    high = min(high, MAX_TICK)
    raw = high / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = 10 * magnitude
    for m in (1, 2, 2.5, 5):
        if m * magnitude >= raw:
            step = m * magnitude
            break
    n = max(1, math.ceil(high / step - 1e-9))
    return [round(i * step, 6) for i in range(n + 1)]


def _tick_text(value: float, lang: str) -> str:
    if value == int(value):
        return f"{format_count(value, lang)} ms"
    return _decimal(f"{value:g} ms", lang)


def _point_text(point: LatencyPoint, hourly: bool, lang: str) -> str:
    when = long_date(point.at.date(), lang)
    if hourly:
        when += f" {point.at:%H}:00 UTC"
    p50, p95 = _clean(point.p50_ms), _clean(point.p95_ms)
    if p50 is None and p95 is None:
        return translate(lang, "%(day)s: No data", day=when)
    return f"{when}: p50 {format_ms(p50, lang)}, p95 {format_ms(p95, lang)}"


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Maximal runs of consecutive indexes that have a value."""
    runs: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for i, v in enumerate(values):
        if v is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((i, v))
    if current:
        runs.append(current)
    return runs


def _stats(name: str, values: Sequence[float | None], lang: str) -> str:
    found = [v for v in values if v is not None]
    if not found:
        return translate(lang, "%(name)s: no data.", name=name)
    return translate(
        lang,
        "%(name)s: min %(min)s, median %(median)s, max %(max)s.",
        name=name,
        min=format_ms(min(found), lang),
        median=format_ms(statistics.median(found), lang),
        max=format_ms(max(found), lang),
    )


def response_time_chart(
    points: Sequence[LatencyPoint],
    *,
    label: str,
    period: str,
    hourly: bool = False,
    uid: str = "c",
    lang: str = DEFAULT_LANGUAGE,
) -> Markup:
    """p50 and p95 latency over ``points`` (equal buckets, oldest first) as an ``<svg>``.

    ``label`` (the component's name) and ``period`` (``"daily over the last 90 days"``) make
    the accessible name; the description gives the min, median and max of each series and the
    buckets without data. ``hourly`` labels the x axis with hours instead of dates. Without
    any data the chart says "No data". ``lang``: the page's language (``period`` comes in it).
    """
    base = _uid("rt", uid)
    p50 = [_clean(p.p50_ms) for p in points]
    p95 = [_clean(p.p95_ms) for p in points]
    empty = sum(1 for a, b in zip(p50, p95, strict=True) if a is None and b is None)
    name = translate(lang, "%(label)s: response time, %(period)s", label=label, period=period)
    plot_w = RT_WIDTH - RT_LEFT - RT_RIGHT
    plot_h = RT_HEIGHT - RT_TOP - RT_BOTTOM
    found = [v for v in (*p50, *p95) if v is not None]
    if not found:
        desc = translate(lang, "No response time data in this period.")
        parts = [_open_svg("rt", base, RT_WIDTH, RT_HEIGHT, name, desc)]
        parts.append(
            f'<text class="rt-empty" x="{RT_WIDTH // 2}" y="{RT_HEIGHT // 2}"'
            f' text-anchor="middle">{escape(translate(lang, "No data"))}</text></svg>'
        )
        return Markup("".join(parts))  # noqa: S704 - text escaped
    without = (
        N_("Hours without data: %(n)s of %(total)s.")
        if hourly
        else N_("Days without data: %(n)s of %(total)s.")
    )
    desc = (
        f"{_stats('p95', p95, lang)} {_stats('p50', p50, lang)} "
        f"{translate(lang, without, n=empty, total=len(points))}"
    )
    ticks = nice_ticks(max(found))
    top = ticks[-1]
    slot = plot_w / len(points)

    def x(i: float) -> float:
        return RT_LEFT + (i + 0.5) * slot

    def y(v: float) -> float:
        return RT_TOP + plot_h * (1 - min(v, top) / top)

    parts = [_open_svg("rt", base, RT_WIDTH, RT_HEIGHT, name, desc)]
    grid = "".join(f"M{RT_LEFT} {_num(y(t))}H{RT_WIDTH - RT_RIGHT}" for t in ticks)
    parts.append(f'<path class="rt-grid" d="{grid}"/><g class="rt-l">')
    for t in ticks:
        parts.append(
            f'<text x="{RT_LEFT - 6}" y="{_num(y(t))}" dy=".32em" text-anchor="end">'
            f"{_tick_text(t, lang)}</text>"
        )
    for i, text in _x_labels(points, hourly, lang):
        parts.append(
            f'<text x="{_num(x(i))}" y="{RT_HEIGHT - 6}" text-anchor="middle">{escape(text)}</text>'
        )
    parts.append("</g>")
    parts.extend(_band(p50, p95, x, y))
    for cls, values in (("rt-p95", p95), ("rt-p50", p50)):
        parts.extend(_line(cls, values, x, y))
    parts.append('<g class="rt-hit">')
    for i, point in enumerate(points):
        parts.append(
            f'<rect x="{_num(RT_LEFT + i * slot)}" y="{RT_TOP}" width="{_num(slot)}"'
            f' height="{plot_h}"><title>{escape(_point_text(point, hourly, lang))}</title></rect>'
        )
    parts.append("</g></svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def _x_labels(points: Sequence[LatencyPoint], hourly: bool, lang: str) -> list[tuple[int, str]]:
    """Every 6th hour (00, 06, 12, 18), or the 1st and 15th of each month; the first bucket
    when none is such."""
    if hourly:
        found = [(i, f"{p.at:%H}:00") for i, p in enumerate(points) if p.at.hour % 6 == 0]
    else:
        found = [(i, short_date(p.at, lang)) for i, p in enumerate(points) if p.at.day in (1, 15)]
    if not found and points:
        first = points[0].at
        found = [(0, f"{first:%H}:00" if hourly else short_date(first, lang))]
    return found


def _line(cls: str, values: Sequence[float | None], x: Scale, y: Scale) -> list[str]:
    """One path of every run of two points or more; a dot for an isolated point."""
    runs = _runs(values)
    d = "".join(
        "M" + "L".join(f"{_num(x(i))} {_num(y(v))}" for i, v in run) for run in runs if len(run) > 1
    )
    out = [f'<path class="{cls}" d="{d}"/>'] if d else []
    out.extend(
        f'<circle class="{cls}" cx="{_num(x(run[0][0]))}" cy="{_num(y(run[0][1]))}" r="2.5"/>'
        for run in runs
        if len(run) == 1
    )
    return out


def _band(
    p50: Sequence[float | None], p95: Sequence[float | None], x: Scale, y: Scale
) -> list[str]:
    """The area between p50 and p95 over each run where both are known."""
    both: list[float | None] = [
        b if a is not None and b is not None else None for a, b in zip(p50, p95, strict=True)
    ]
    shapes = []
    for run in _runs(both):
        if len(run) < 2:
            continue
        upper = [f"{_num(x(i))} {_num(y(v))}" for i, v in run]
        lower = [f"{_num(x(i))} {_num(y(p50[i] or 0.0))}" for i, _ in reversed(run)]
        shapes.append("M" + "L".join(upper + lower) + "Z")
    return [f'<path class="rt-band" d="{"".join(shapes)}"/>'] if shapes else []
