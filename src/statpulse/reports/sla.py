"""The monthly SLA report: per component, the month's uptime, downtime, checks, P95 and SLOs.

Rows: the components on the organisation's status pages (in page order, each once), then every
monitor that none of those components shows (so no monitor or monitor SLO is left out). A row's
figures come from its monitor's rollups over the UTC calendar month (whole days from the day
rollups, ``reports/ranges.py``); a component without a monitor has no figures. Each SLO on the
component, or on its monitor, is judged over the calendar month (not its rolling window): met
when the month's SLI reaches the target (``engine/slo.py``). Rendered as CSV or as a printable,
self-contained HTML page (inline CSS, print styles, no script).
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import jinja2

from statpulse.engine.rollup_query import summarize_rollups
from statpulse.engine.slo import met
from statpulse.engine.stats import Stats
from statpulse.model import Component, Monitor, Organization, Slo, SloKind
from statpulse.reports.ranges import range_rollups
from statpulse.reports.slo_status import events_of
from statpulse.store.contract import Store

_MONTH = re.compile(r"(\d{4})-(\d{2})")
NO_STATS = Stats(checks=0, ok=0, uptime_pct=None, p50_ms=None, p95_ms=None, p99_ms=None)
CSV_COLUMNS = (
    "type", "name", "monitor", "month", "checks", "uptime_pct", "downtime_min", "p95_ms",
    "slo", "slo_kind", "slo_target", "slo_sli_pct", "slo_met",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SloResult:
    slo: Slo
    sli_pct: float | None
    met: bool | None
    """None without checks in the month."""


@dataclass(frozen=True, slots=True)
class SlaRow:
    type: str
    """``component`` or ``monitor``."""
    name: str
    monitor: str | None
    stats: Stats
    slos: list[SloResult]

    @property
    def downtime_min(self) -> float | None:
        return None if self.stats.downtime_s is None else self.stats.downtime_s / 60


@dataclass(frozen=True, slots=True)
class SlaReport:
    org: Organization
    month: str
    start: datetime
    end: datetime
    generated_at: datetime
    rows: list[SlaRow]

    @property
    def partial(self) -> bool:
        """True when the month had not ended when the report was made."""
        return self.generated_at < self.end


def parse_month(text: str) -> tuple[datetime, datetime]:
    """``YYYY-MM`` -> the UTC month ``[start, end)``; ValueError otherwise."""
    match = _MONTH.fullmatch(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1970:
        raise ValueError(f"expected a month as YYYY-MM (e.g. 2026-11), got {text!r}")
    year, month = int(match[1]), int(match[2])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def build_report(
    store: Store, org: Organization, start: datetime, end: datetime, now: datetime
) -> SlaReport:
    """The report of ``org`` for ``[start, end)`` (a :func:`parse_month` range), made at ``now``."""
    monitors = {m.id: m for m in await store.list_monitors(org.id)}
    slos = await store.list_slos(org.id)
    components: dict[uuid.UUID, Component] = {}
    for page in await store.list_pages(org.id):
        for component, _monitor in await store.page_components(page.id):
            components.setdefault(component.id, component)
    shown = {c.monitor_id for c in components.values()}
    rows = [
        await _row(store, "component", c.name, monitors.get(c.monitor_id) if c.monitor_id else None,
                   [s for s in slos if s.component_id == c.id or
                    (c.monitor_id is not None and s.monitor_id == c.monitor_id)], start, end)
        for c in components.values()
    ]  # fmt: skip
    for monitor in monitors.values():
        if monitor.id not in shown:
            mine = [s for s in slos if s.monitor_id == monitor.id]
            rows.append(
                await _row(store, "monitor", monitor.config.name, monitor, mine, start, end)
            )
    return SlaReport(org, start.strftime("%Y-%m"), start, end, now, rows)


async def _row(
    store: Store,
    kind: str,
    name: str,
    monitor: Monitor | None,
    slos: list[Slo],
    start: datetime,
    end: datetime,
) -> SlaRow:
    if monitor is None:
        return SlaRow(kind, name, None, NO_STATS, [SloResult(s, None, None) for s in slos])
    rollups = await range_rollups(store, monitor.id, start, end)
    stats, _regions = summarize_rollups(rollups)
    results = []
    for slo in slos:
        events = events_of(slo, rollups)
        sli = 100.0 * events.good / events.total if events.total else None
        results.append(SloResult(slo, sli, met(sli, slo.target_pct)))
    return SlaRow(kind, name, monitor.config.name, stats, results)


def slo_target(slo: Slo) -> str:
    """``99.9%`` or ``p95 <= 300ms``."""
    if slo.kind is SloKind.LATENCY:
        return f"p{slo.target_pct:g} <= {slo.threshold_ms:g}ms"
    return f"{slo.target_pct:g}%"


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def to_csv(report: SlaReport) -> str:
    """One line per (row, SLO); a row without SLOs has one line with empty SLO columns."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        figures = [
            row.type,
            row.name,
            row.monitor or "",
            report.month,
            row.stats.checks,
            _num(row.stats.uptime_pct, 4),
            _num(row.downtime_min, 1),
            _num(row.stats.p95_ms, 1),
        ]
        if not row.slos:
            writer.writerow([*figures, "", "", "", "", ""])
        for r in row.slos:
            writer.writerow(
                [*figures, r.slo.name, r.slo.kind.value, slo_target(r.slo), _num(r.sli_pct, 4),
                 _yes_no(r.met)]
            )  # fmt: skip
    return out.getvalue()


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("statpulse.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["num"] = _num
_ENV.filters["yes_no"] = _yes_no
_ENV.globals["slo_target"] = slo_target


def to_html(report: SlaReport) -> str:
    """A self-contained printable page (``reports/templates/sla.html``)."""
    return _ENV.get_template("sla.html").render(report=report)
