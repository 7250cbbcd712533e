"""``statpulse report sla``: the monthly SLA report as CSV and as a printable HTML page."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from statpulse.cli import app
from statpulse.model import CheckResult, MonitorConfig, Slo, SloKind, new_id, utcnow
from statpulse.reports.sla import parse_month
from statpulse.store.sql import open_store

runner = CliRunner()
NOV_3 = datetime(2026, 11, 3, tzinfo=UTC)


def _slo(org_id: uuid.UUID, name: str, **fields: Any) -> Slo:
    base = Slo(new_id(), org_id, name, SloKind.AVAILABILITY, None, None, 99.0, None, 30, utcnow())
    return replace(base, **fields)


async def seed(db: str) -> None:
    """acme: page "status" with components "Public API" (monitor api) and "Docs" (no monitor);
    monitor "worker" on no component. On 3 November, api ran 1000 checks a minute apart (10
    failed, 20 of the ok ones slow) and worker 100 (all ok); on 31 October api failed 50 times."""
    store = await open_store(db)
    try:
        org = await store.create_org("acme", "Acme Inc")
        await store.create_org("other", "Other")
        config = MonitorConfig(name="api", kind="http", target="https://x.test", interval_s=60)
        api = await store.create_monitor(org.id, config)
        worker = await store.create_monitor(org.id, replace(config, name="worker"))
        page = await store.create_page(org.id, "status", "Acme status", "")
        component = await store.create_component(org.id, "Public API", "", api.id, [page.id])
        await store.create_component(org.id, "Docs", "", None, [page.id])
        results = []
        for i in range(1000):
            at = NOV_3 + timedelta(minutes=i)
            ms = 800.0 if 100 <= i < 120 else 100.0
            results.append(CheckResult(new_id(), api.id, "eu", at, at, ms, i % 100 != 50))
        for i in range(100):
            at = NOV_3 + timedelta(minutes=i)
            results.append(CheckResult(new_id(), worker.id, "eu", at, at, 50.0, True))
        for i in range(50):
            at = datetime(2026, 10, 31, 12, tzinfo=UTC) + timedelta(minutes=i)
            results.append(CheckResult(new_id(), api.id, "eu", at, at, None, False))
        await store.add_results(results)
        await store.create_slo(_slo(org.id, "api up", component_id=component.id, target_pct=99.5))
        await store.create_slo(
            _slo(org.id, "api fast", kind=SloKind.LATENCY, monitor_id=api.id, target_pct=95.0,
                 threshold_ms=300.0)
        )  # fmt: skip
        await store.create_slo(_slo(org.id, "worker up", monitor_id=worker.id, target_pct=99.9))
    finally:
        await store.close()


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'report.db'}"
    asyncio.run(seed(url))
    return url


def test_csv_has_the_months_figures_and_slo_verdicts_per_component(db: str) -> None:
    result = runner.invoke(
        app, ["report", "sla", "--month", "2026-11", "--org", "acme", "--db", db]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["type"], r["name"], r["slo"]) for r in rows] == [
        ("component", "Public API", "api up"),
        ("component", "Public API", "api fast"),
        ("component", "Docs", ""),
        ("monitor", "worker", "worker up"),
    ]
    up, fast, docs, worker = rows
    # October's 50 failures are outside the month.
    assert (up["checks"], up["uptime_pct"], up["downtime_min"]) == ("1000", "99.0000", "10.0")
    assert float(up["p95_ms"]) == pytest.approx(100.0, rel=0.01)
    assert (up["slo_target"], up["slo_sli_pct"], up["slo_met"]) == ("99.5%", "99.0000", "no")
    # 970 of 990 ok checks within 300 ms: 97.98 % >= 95 %.
    assert (fast["slo_kind"], fast["slo_target"], fast["slo_met"]) == (
        "latency",
        "p95 <= 300ms",
        "yes",
    )
    assert float(fast["slo_sli_pct"]) == pytest.approx(100 * 970 / 990, abs=1e-4)
    assert (docs["monitor"], docs["checks"], docs["uptime_pct"], docs["slo_met"]) == (
        "",
        "0",
        "",
        "",
    )
    assert (worker["checks"], worker["uptime_pct"], worker["slo_met"]) == ("100", "100.0000", "yes")
    assert {r["month"] for r in rows} == {"2026-11"}


def test_html_is_a_self_contained_printable_page(db: str, tmp_path: Path) -> None:
    out = tmp_path / "sla.html"
    args = ["report", "sla", "--month", "2026-11", "--format", "html", "--output", str(out)]
    result = runner.invoke(app, [*args, "--org", "acme", "--db", db])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    page = out.read_text(encoding="utf-8")
    for text in ("Acme Inc", "2026-11", "Public API", "Docs", "worker", "99.000 %", "10.0"):
        assert text in page
    assert "missed" in page and ">met<" in page
    assert "@media print" in page and "<script" not in page and "<link" not in page


def test_without_org_the_only_organisation_is_required(db: str) -> None:
    result = runner.invoke(app, ["report", "sla", "--month", "2026-11", "--db", db])
    assert result.exit_code == 2 and "--org" in result.stderr
    result = runner.invoke(
        app, ["report", "sla", "--month", "2026-11", "--org", "nope", "--db", db]
    )
    assert result.exit_code == 2 and "--org" in result.stderr


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "nov", "2026-1", "2026-11-01", ""])
def test_an_invalid_month_exits_2_naming_month(month: str, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'none.db'}"
    result = runner.invoke(app, ["report", "sla", "--month", month, "--db", db])
    assert result.exit_code == 2
    assert "--month" in result.stderr and "YYYY-MM" in result.stderr


@pytest.mark.parametrize(
    ("month", "start", "end"),
    [
        ("2026-11", datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12", datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    ],
)
def test_months_are_utc_calendar_months(month: str, start: datetime, end: datetime) -> None:
    assert parse_month(month) == (start, end)
