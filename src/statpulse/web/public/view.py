"""View model of the public status page: what the route fills and the templates read.

Pure: no I/O, no clock. The route builds a :class:`PageView` (usually with :func:`last_days`
and :func:`uptime_pct` for each component) and renders ``status_page.html`` with
``page=...`` and the helpers of :func:`template_globals`; the live-update stream sends
:func:`live_payload` of a fresh :class:`PageView`.

Uptime counts degraded checks as up (Statuspage counts "degraded performance" as no
downtime). ``DayUptime.degraded`` is a subset of ``DayUptime.ok``, as a degraded
``CheckResult`` is one with ``ok`` true, so a day's uptime is ``ok / checks``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from statpulse.i18n import DEFAULT_LANGUAGE, N_, decimal_mark, translate
from statpulse.model import DayUptime, Status
from statpulse.web.public.i18n import jinja_globals

__all__ = [
    "ComponentView",
    "GroupView",
    "PageView",
    "banner_text",
    "day_uptime_pct",
    "display_utc",
    "format_pct",
    "iso_utc",
    "last_days",
    "live_payload",
    "overall_status",
    "status_label",
    "template_globals",
    "uptime_pct",
]

# Worse states rank higher; PAUSED is absent on purpose: a paused component says nothing
# about the service, so it never moves the overall status.
_SEVERITY: dict[Status, int] = {
    Status.UP: 0,
    Status.UNKNOWN: 1,
    Status.MAINTENANCE: 2,
    Status.DEGRADED: 3,
    Status.DOWN: 4,
}

_LABELS: dict[Status, str] = {
    Status.UP: N_("Operational"),
    Status.DEGRADED: N_("Degraded performance"),
    Status.DOWN: N_("Major outage"),
    Status.MAINTENANCE: N_("Under maintenance"),
    Status.PAUSED: N_("Paused"),
    Status.UNKNOWN: N_("No data"),
}

_PARTIAL = N_("Partial outage")
_NOT_OPERATIONAL = frozenset({Status.DEGRADED, Status.DOWN, Status.MAINTENANCE})

_BANNERS: dict[Status, str] = {
    Status.UP: N_("All systems operational"),
    Status.DEGRADED: N_("Some systems are degraded"),
    Status.DOWN: N_("Major outage"),
    Status.MAINTENANCE: N_("Maintenance in progress"),
    Status.PAUSED: N_("Monitoring paused"),
    Status.UNKNOWN: N_("Status currently unavailable"),
}


@dataclass(frozen=True, slots=True)
class ComponentView:
    """One component as the page shows it.

    ``days`` holds exactly the last N UTC days, oldest first; a day with ``checks == 0``
    had no data. ``uptime_pct`` is :func:`uptime_pct` of ``days``: None when no day has data.
    """

    id: str
    name: str
    description: str
    status: Status
    days: Sequence[DayUptime]
    uptime_pct: float | None
    regions: str | None = None
    """For a monitor checked from several regions: "2 of 5 regions failing" (engine/regions)."""
    partial: bool = False
    """A DOWN status that is a partial outage (some regions, or an override): "Partial outage"."""
    group: str | None = None
    """The id of the component's group on the page, if any."""

    @property
    def label(self) -> str:
        """The words for the status (a message id the template translates)."""
        if self.partial and self.status is Status.DOWN:
            return _PARTIAL
        return status_label(self.status)


@dataclass(frozen=True, slots=True)
class GroupView:
    """A group of components, shown collapsed unless a member is not operational."""

    id: str
    name: str
    components: Sequence[ComponentView]

    @property
    def status(self) -> Status:
        """The worst member's status (:func:`overall_status`)."""
        return overall_status(c.status for c in self.components)

    @property
    def label(self) -> str:
        """Partial outage when the worst is an outage that no member has in full."""
        down = [c for c in self.components if c.status is Status.DOWN]
        if down and all(c.partial for c in down):
            return _PARTIAL
        return status_label(self.status)

    @property
    def open(self) -> bool:
        """Whether a member is degraded, down or under maintenance."""
        return any(c.status in _NOT_OPERATIONAL for c in self.components)


@dataclass(frozen=True, slots=True)
class PageView:
    """A public status page. ``updated_at`` must be timezone-aware (ValueError otherwise)."""

    slug: str
    title: str
    description: str
    components: Sequence[ComponentView]
    updated_at: datetime
    groups: Sequence[GroupView] = ()
    """By position; their members are in ``components`` too (with ``group`` set)."""

    @property
    def ungrouped(self) -> list[ComponentView]:
        """The components in no group, in the page's order (shown after the groups)."""
        return [c for c in self.components if c.group is None]

    def __post_init__(self) -> None:
        if self.updated_at.utcoffset() is None:
            raise ValueError("PageView.updated_at must be timezone-aware")

    @property
    def overall(self) -> Status:
        """The worst status of the components; see :func:`overall_status`."""
        return overall_status(c.status for c in self.components)

    @property
    def banner(self) -> str:
        """The headline: :func:`banner_text`, except that an outage of some but not all
        components with a known state, or of some of a component's regions, reads "Partial
        outage" (as Statuspage words it)."""
        overall = self.overall
        known = [c.status for c in self.components if c.status in _SEVERITY]
        some = any(s not in (Status.DOWN, Status.UNKNOWN) for s in known)
        if overall is Status.DOWN and (some or any(c.partial for c in self.components)):
            return _PARTIAL
        return banner_text(overall)


def overall_status(statuses: Iterable[Status]) -> Status:
    """The worst of ``statuses``: down > degraded > maintenance > up.

    Paused statuses are ignored, and so are unknown ones (no data yet) as long as some status
    is known; with nothing known (no components, all paused or without data) the answer is
    UNKNOWN, since there is nothing to vouch for.
    """
    ranked = [s for s in statuses if s in _SEVERITY and s is not Status.UNKNOWN]
    if not ranked:
        return Status.UNKNOWN
    return max(ranked, key=_SEVERITY.__getitem__)


def status_label(status: Status) -> str:
    """The customer-facing words for one component's status, in English: a message id that
    the template translates (``_(status_label(s))``)."""
    return _LABELS[status]


def banner_text(overall: Status) -> str:
    """The headline of the page for the overall status (English, a message id)."""
    return _BANNERS[overall]


def day_uptime_pct(day: DayUptime) -> float | None:
    """``ok / checks * 100`` for one day; None when the day has no checks."""
    if day.checks <= 0:
        return None
    return day.ok / day.checks * 100.0


def uptime_pct(days: Iterable[DayUptime]) -> float | None:
    """``sum(ok) / sum(checks) * 100`` over the days with data; None when none has data.

    Weighted by checks, so a day with few checks (a new monitor's first day) weighs little.
    """
    checks = ok = 0
    for day in days:
        if day.checks > 0:
            checks += day.checks
            ok += day.ok
    if checks == 0:
        return None
    return ok / checks * 100.0


def last_days(rows: Iterable[DayUptime], *, today: date, n: int = 90) -> tuple[DayUptime, ...]:
    """Exactly the ``n`` UTC days ending with ``today``, oldest first.

    Days without a row get ``checks == 0`` (no data); rows outside the window are dropped;
    rows of the same day (one per region, say) are summed. Raises ValueError when ``n < 1``.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    first = today - timedelta(days=n - 1)
    window = [(first + timedelta(days=i)).isoformat() for i in range(n)]
    totals: dict[str, tuple[int, int, int]] = dict.fromkeys(window, (0, 0, 0))
    for row in rows:
        if row.day in totals:
            checks, ok, degraded = totals[row.day]
            totals[row.day] = (checks + row.checks, ok + row.ok, degraded + row.degraded)
    return tuple(DayUptime(day, *totals[day]) for day in window)


def format_pct(pct: float | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """``"99.95 %"``, truncated (never rounded up) to two decimals; ``"100 %"`` only for a
    perfect score; ``"No data"`` for None. In ``lang`` (``"99,95 %"``, ``"Keine Daten"`` in
    German).

    Truncating keeps "100 %" for no failed check at all: 99.996 % shows as "99.99 %", not as
    a perfect score it did not earn.
    """
    if pct is None:
        return translate(lang, "No data")
    if pct >= 100.0:
        return "100 %"
    # The epsilon absorbs float noise such as 99.95 stored as 99.94999999999999.
    hundredths = min(max(math.floor(pct * 100 + 1e-6), 0), 9999)
    return f"{hundredths // 100}{decimal_mark(lang)}{hundredths % 100:02d} %"


def iso_utc(moment: datetime) -> str:
    """ISO 8601 in UTC to the second with a ``Z`` suffix: what ``<time datetime>`` and
    JavaScript's ``Date`` parse everywhere. Raises ValueError for a naive datetime."""
    if moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def display_utc(moment: datetime) -> str:
    """Server-side rendering of a time (``"2024-05-01 12:00 UTC"``); the live script
    replaces it with the visitor's local time."""
    if moment.utcoffset() is None:
        raise ValueError("a timezone-aware datetime is required")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def live_payload(page: PageView, lang: str = DEFAULT_LANGUAGE) -> dict[str, object]:
    """The JSON-able message of the live-update stream, read by ``static/live.js``.

    ``{"overall", "banner", "updated_at", "components": [{"id", "status", "label"}],
    "groups": [{"id", "status", "label"}]}``, with the banner and labels in ``lang`` (the
    page's language); a group's status and label are its summary line's (``GroupView``).
    """
    overall = page.overall
    return {
        "overall": overall.value,
        "banner": translate(lang, page.banner),
        "updated_at": iso_utc(page.updated_at),
        "components": [
            {"id": c.id, "status": c.status.value, "label": translate(lang, c.label)}
            for c in page.components
        ],
        "groups": [
            {"id": g.id, "status": g.status.value, "label": translate(lang, g.label)}
            for g in page.groups
        ],
    }


def template_globals() -> dict[str, object]:
    """Helpers the status page templates call, with the translation globals of
    :func:`statpulse.web.public.i18n.jinja_globals` (``_``, ``ngettext``, default ``lang``);
    add them to the Jinja2 environment's globals."""
    # Imported here: svg imports this module for the uptime maths.
    from statpulse.web.public.svg import uptime_bar

    return {
        **jinja_globals(),
        "banner_text": banner_text,
        "display_utc": display_utc,
        "format_pct": format_pct,
        "iso_utc": iso_utc,
        "status_label": status_label,
        "uptime_bar": uptime_bar,
    }
