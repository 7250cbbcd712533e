"""Uptime bars drawn on the server as inline SVG, so the page needs no script to show them.

Colour of a day (a class on the group of consecutive days sharing it; ``status.css``
maps classes to colours, for light and dark themes):

==============  =====================================================  ===========
class           when                                                   colour
==============  =====================================================  ===========
``u-none``      no checks that day                                     grey
``u-ok``        every check up (100 %) and < 1 % of checks degraded     green
``u-minor``     99 % <= uptime < 100 %, < 1 % degraded                 light green
``u-degraded``  uptime >= 99 % but >= 1 % of the checks degraded       yellow
``u-partial``   95 % <= uptime < 99 %                                  orange
``u-major``     uptime < 95 %                                          red
==============  =====================================================  ===========

Downtime outranks slowness: a day below 99 % is orange or red however slow it was.
Thresholds compare integers (``100 * ok >= 99 * checks``), so no float rounding can move
a day across a line. One check a minute gives 1440 checks a day: 99 % allows ~14 minutes
of downtime, 95 % ~72 minutes.

Output is compact (one ``<rect>`` and ``<title>`` per day, no ``style=`` attributes, no
script), scales to any width (``viewBox`` + ``preserveAspectRatio="none"``) and has an
accessible name and description.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import cache
from itertools import groupby

from markupsafe import Markup, escape

from statpulse.i18n import DEFAULT_LANGUAGE, plural_forms, translate, translate_plural
from statpulse.model import DayUptime
from statpulse.web.public.view import day_uptime_pct, format_pct, uptime_pct

__all__ = [
    "BAR_WIDTH",
    "DEGRADED_SHARE_PCT",
    "MINOR_FLOOR_PCT",
    "PARTIAL_FLOOR_PCT",
    "day_class",
    "day_title",
    "uptime_bar",
]

MINOR_FLOOR_PCT = 99  # at or above: light green (or yellow when degraded)
PARTIAL_FLOOR_PCT = 95  # at or above: orange; below: red
DEGRADED_SHARE_PCT = 1  # this share of degraded checks or more makes a day yellow
BAR_WIDTH = ".8"  # of each day's 1-unit slot; the rest is the gap between bars

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_-]")


def day_class(day: DayUptime) -> str:
    """The colour class of one day (see the module docstring for the table)."""
    if day.checks <= 0:
        return "u-none"
    if 100 * day.ok < PARTIAL_FLOOR_PCT * day.checks:
        return "u-major"
    if 100 * day.ok < MINOR_FLOOR_PCT * day.checks:
        return "u-partial"
    if 100 * day.degraded >= DEGRADED_SHARE_PCT * day.checks:
        return "u-degraded"
    if day.ok < day.checks:
        return "u-minor"
    return "u-ok"


def day_title(day: DayUptime, lang: str = DEFAULT_LANGUAGE) -> str:
    """Tooltip text of one day in ``lang``: ``"2024-05-01: 99.95 % uptime, 8640 checks"`` or
    ``"2024-05-01: No data"`` (unescaped)."""
    no_data, one, many, degraded = _day_texts(lang)
    pct = day_uptime_pct(day)
    if pct is None:
        return no_data % {"day": day.day}
    values = {"day": day.day, "pct": format_pct(pct, lang), "n": day.checks}
    text = (one if day.checks == 1 else many) % values
    if day.degraded:
        text += degraded % {"n": day.degraded}
    return text


@cache
def _day_texts(lang: str) -> tuple[str, str, str, str]:
    """The messages of :func:`day_title` in ``lang``, looked up once rather than per day:
    (no data, one check, several checks, degraded)."""
    one, many = plural_forms(
        lang, "%(day)s: %(pct)s uptime, %(n)s check", "%(day)s: %(pct)s uptime, %(n)s checks"
    )
    return translate(lang, "%(day)s: No data"), one, many, translate(lang, ", %(n)s degraded")


def _summary(days: Sequence[DayUptime], lang: str) -> str:
    down = sum(1 for d in days if d.checks > 0 and d.ok < d.checks)
    slow = sum(1 for d in days if day_class(d) == "u-degraded")
    empty = sum(1 for d in days if d.checks <= 0)
    return translate(
        lang,
        "Days with downtime: %(down)s. Days with degraded performance: %(slow)s. "
        "Days without data: %(empty)s.",
        down=down,
        slow=slow,
        empty=empty,
    )


def uptime_bar(
    days: Sequence[DayUptime],
    *,
    label: str,
    uid: str | None = None,
    lang: str = DEFAULT_LANGUAGE,
) -> Markup:
    """An inline ``<svg role="img">`` with one bar per day of ``days`` (oldest first).

    ``label`` names what is measured (a component's name); the accessible name reads
    ``"<label>: uptime over the last N days: 99.95 %"``. ``uid`` makes the element ids
    unique on the page (pass the component id); by default it is derived from ``label``,
    which only collides if two bars share a label and first day. All text is escaped and in
    ``lang`` (the page's language).
    """
    n = len(days)
    if uid is None:
        first = days[0].day if days else ""
        uid = hashlib.blake2s(f"{label}\0{first}".encode(), digest_size=5).hexdigest()
    base = "ub-" + _UNSAFE_ID.sub("", uid)
    pct = uptime_pct(days)
    name = translate_plural(
        lang,
        "%(label)s: uptime over the last %(n)s day: %(pct)s",
        "%(label)s: uptime over the last %(n)s days: %(pct)s",
        n,
        label=label,
        pct=format_pct(pct, lang),
    )
    parts = [
        f'<svg class="ub" viewBox="0 0 {max(n, 1)} 1" preserveAspectRatio="none" width="100%"'
        f' height="34" role="img" aria-labelledby="{base}-t" aria-describedby="{base}-d">'
        f'<title id="{base}-t">{escape(name)}</title>'
        f'<desc id="{base}-d">{escape(_summary(days, lang))}</desc>'
    ]
    # Consecutive days of one colour share a <g class>: most days of a healthy service are
    # alike, so this saves a class attribute on almost every rect.
    x = 0
    for cls, run in groupby(days, key=day_class):
        parts.append(f'<g class="{cls}">')
        for day in run:
            parts.append(
                f'<rect x="{x}" width="{BAR_WIDTH}" height="1">'
                f"<title>{escape(day_title(day, lang))}</title></rect>"
            )
            x += 1
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
