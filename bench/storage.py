"""Storage at scale: ingest rate, 90-day stats from rollups vs raw rows, dashboard, database size.

    python bench/storage.py [--quick] [--monitors N] [--regions R] [--days D] [--interval S]
                            [--databases postgresql,sqlite] [--pg postgresql://...]

For each database (a throwaway PostgreSQL database created next to ``--pg`` and dropped at the
end, like tests/conftest.py does, and a temporary SQLite file), migrated by the real migrations:

1. seeds N monitors x R regions x D days of results at one per S seconds per (monitor, region),
   up to now, through the production ingest ``SqlStore.add_results`` in batches of
   ``--seed-batch`` (COPY on PostgreSQL, executemany on SQLite), so the raw rows and the rollups
   (minute, hour, day) are exactly what production would hold;
2. prints the row counts and the database size;
3. times the D-day stats of one monitor as GET /api/v1/monitors/{id}/stats computes them
   (``rollup_query.plan`` -> ``store.range_rollups`` -> ``summarize_rollups``) and, in the same
   run, from raw rows (``store.latency_samples`` -> ``stats.summarize_by_region``): p50/p99 over
   repeated queries, their ratio, and the largest relative difference of the p50/p95/p99
   latencies (overall and per region) between the two;
4. times the status page's D-day bars of all monitors (``store.daily_uptime``);
5. on PostgreSQL prints EXPLAIN (ANALYZE, BUFFERS) of the SQL those calls sent (captured from
   the engine, so it is the production SQL with its parameters);
6. measures ingest rows/s of ``add_results`` (rollup maintenance included) through COPY and
   through executemany (PostgreSQL; SQLite has executemany only) at several batch sizes, on
   fresh monitors, the two paths alternating batch by batch;
7. runs retention once (``engine/retention.run_retention``, raw results kept ``--raw-days``):
   each older UTC day exported to Parquet in a temporary directory, then dropped (a partition on
   PostgreSQL, rows on SQLite); prints its time, the archive's size and the sizes after.

Defaults: 2 monitors x 2 regions x 90 days at 10 s (3.1 M results per database). `--quick` seeds
2 monitors x 1 region x 90 days at 60 s (the rollup reads are as large: one day, hour and minute
row per bucket) and ends within ~2 minutes. The last line printed is one JSON object. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import secrets
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy import event

from benchlib import asyncpg_dsn, pct, pg_admin
from statpulse.archive.target import ArchiveTarget
from statpulse.engine.retention import RetentionPolicy, run_retention
from statpulse.engine.rollup_query import plan, summarize_rollups
from statpulse.engine.stats import Stats, summarize_by_region
from statpulse.model import CheckResult, MonitorConfig, new_id
from statpulse.store import schema as t
from statpulse.store.partitions import TABLE_BYTES_SQL
from statpulse.store.sql import SqlStore, open_store

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REGIONS = ("eu-west", "us-east", "ap-south", "sa-east", "af-south")
TARGET_STATS_P99_MS = 20.0
TARGET_QUANTILE_ERROR_PCT = 1.0


# --------------------------------------------------------------------------------------------
# Data


def series(
    rng: random.Random,
    monitor_ids: Sequence[uuid.UUID],
    regions: Sequence[str],
    start: datetime,
    end: datetime,
    interval_s: int,
) -> Iterator[CheckResult]:
    """Results of every (monitor, region) every ``interval_s`` in ``[start, end)``, in time
    order: log-normal latencies (a base per region), 0.3 % failures (no latency), 1 % of the
    healthy ones degraded, starts a few ms after the scheduled time."""
    step = timedelta(seconds=interval_s)
    base = {region: 40.0 + 25.0 * i for i, region in enumerate(regions)}
    at = start
    while at < end:
        for monitor_id in monitor_ids:
            for region in regions:
                ok = rng.random() >= 0.003
                started = at + timedelta(microseconds=rng.randrange(2_000, 9_000))
                yield CheckResult(
                    id=new_id(),
                    monitor_id=monitor_id,
                    region=region,
                    scheduled_at=at,
                    started_at=started,
                    latency_ms=round(base[region] * rng.lognormvariate(0, 0.45), 3) if ok else None,
                    ok=ok,
                    degraded=ok and rng.random() < 0.01,
                    status_code=200 if ok else None,
                )
        at += step


def chunks(items: Iterator[CheckResult], size: int) -> Iterator[list[CheckResult]]:
    batch: list[CheckResult] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


async def create_monitors(
    store: SqlStore,
    org_id: uuid.UUID,
    names: Sequence[str],
    regions: Sequence[str],
    interval_s: int,
) -> list[uuid.UUID]:
    ids = []
    for name in names:
        config = MonitorConfig(
            name=name,
            kind="http",
            target=f"https://{name}.example.com/health",
            interval_s=interval_s,
            regions=tuple(regions),
        )
        ids.append((await store.create_monitor(org_id, config)).id)
    return ids


# --------------------------------------------------------------------------------------------
# Measuring


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[list[float], Any]:
    """Milliseconds of each of ``repeat`` calls (after one warm-up call), and the last answer."""
    answer = await fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        answer = await fn()
        times.append((time.perf_counter() - t0) * 1000)
    return times, answer


class SqlCapture:
    """The SQL statements (with parameters) an engine sends while ``active``."""

    def __init__(self, store: SqlStore) -> None:
        self.active = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(store.engine.sync_engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if self.active:
            self.statements.append((statement, params))

    @contextlib.contextmanager
    def capturing(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.active = True
        try:
            yield self.statements
        finally:
            self.active = False


async def explain(store: SqlStore, statement: str, params: Any) -> str:
    async with store.engine.connect() as conn:
        rows = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params)
        return "\n".join(row[0] for row in rows)


def quantile_error_pct(
    rollup: tuple[Stats, dict[str, Stats]], raw: tuple[Stats, dict[str, Stats]]
) -> float:
    """Largest relative difference (%) of p50/p95/p99, overall and per region."""
    worst = 0.0
    pairs = [(rollup[0], raw[0])] + [(rollup[1][r], raw[1][r]) for r in raw[1]]
    for got, want in pairs:
        for q in ("p50_ms", "p95_ms", "p99_ms"):
            g, w = getattr(got, q), getattr(want, q)
            if g is None or w is None:
                if g is not w:
                    return float("inf")
                continue
            worst = max(worst, abs(g - w) / w * 100)
    return worst


# --------------------------------------------------------------------------------------------
# Databases


async def db_size(store: SqlStore, path: Path | None) -> dict[str, int]:
    """Bytes: the whole database, and per table (indexes included)."""
    tables = ["check_results", "rollups_minute", "rollups_hour", "rollups_day"]
    sizes: dict[str, int] = {}
    async with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            await conn.commit()
            sizes["database"] = int(
                (
                    await conn.execute(sa.text("SELECT pg_database_size(current_database())"))
                ).scalar_one()
            )
            for name in tables:  # a partitioned table's size is that of its partitions
                q = sa.text(TABLE_BYTES_SQL)
                sizes[name] = int((await conn.execute(q, {"name": name})).scalar_one())
            return sizes
        await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        page = (await conn.exec_driver_sql("PRAGMA page_size")).scalar_one()
        free = (await conn.exec_driver_sql("PRAGMA freelist_count")).scalar_one()
        sizes["free"] = int(page) * int(free)  # deleted rows' pages: reused, the file keeps them
    assert path is not None
    sizes["database"] = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    # dbstat is not compiled into every SQLite: then the per-table sizes are left out.
    with contextlib.closing(sqlite3.connect(path)) as db, contextlib.suppress(sqlite3.Error):
        index_of = dict(db.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
            table = index_of.get(name, name)
            if table in tables:
                sizes[table] = sizes.get(table, 0) + int(size)
    return sizes


async def row_counts(store: SqlStore) -> dict[str, int]:
    counts = {}
    async with store.engine.connect() as conn:
        for table in (t.check_results, t.rollups_minute, t.rollups_hour, t.rollups_day):
            query = sa.select(sa.func.count()).select_from(table)
            counts[table.name] = int((await conn.execute(query)).scalar_one())
    return counts


# --------------------------------------------------------------------------------------------
# One database


async def run_database(
    kind: str, url: str, path: Path | None, args: argparse.Namespace, say: Callable[[str], None]
) -> dict[str, Any]:
    out: dict[str, Any] = {"database": kind}
    store = await open_store(url)
    try:
        capture = SqlCapture(store)
        rng = random.Random(42)
        org = await store.create_org("bench", "Bench")
        regions = REGIONS[: args.regions]
        names = [f"m{i}" for i in range(args.monitors)]
        monitor_ids = await create_monitors(store, org.id, names, regions, args.interval)
        end = datetime.now(UTC)
        start = end - timedelta(days=args.days)
        seed_start = start.replace(microsecond=0) - timedelta(seconds=start.second % args.interval)

        # 1. Seed through the production ingest.
        expected = (
            args.monitors
            * args.regions
            * math.ceil((end - seed_start).total_seconds() / args.interval)
        )
        say(
            f"{kind}: seeding ~{expected:,} results through add_results "
            f"(batches of {args.seed_batch:,})"
        )
        t0 = time.perf_counter()
        seeded = 0
        last_report = t0
        data = series(rng, monitor_ids, regions, seed_start, end, args.interval)
        for batch in chunks(data, args.seed_batch):
            seeded += await store.add_results(batch)
            if time.perf_counter() - last_report > 15:
                last_report = time.perf_counter()
                rate = seeded / (last_report - t0)
                say(f"  {seeded:,} rows, {rate:,.0f} rows/s")
        seed_s = time.perf_counter() - t0
        out["seed_rows"] = seeded
        out["seed_s"] = seed_s
        out["seed_rows_per_s"] = seeded / seed_s
        if store.dialect == "postgresql":  # as autovacuum would have by then
            await pg_admin(asyncpg_dsn(url), "VACUUM ANALYZE")
        out["rows"] = await row_counts(store)
        out["size_before"] = await db_size(store, path)
        say(
            f"{kind}: seeded {seeded:,} rows in {seed_s:.1f} s ({seeded / seed_s:,.0f} rows/s); "
            f"rows {out['rows']}"
        )

        # 2. The stats of one monitor over the whole range: rollups, then raw rows.
        mid = monitor_ids[0]

        async def from_rollups() -> tuple[Stats, dict[str, Stats]]:
            return summarize_rollups(await store.range_rollups(mid, plan(start, end)))

        async def from_raw() -> tuple[Stats, dict[str, Stats]]:
            return summarize_by_region(await store.latency_samples(mid, start, end))

        rollup_ms, rollup_stats = await timed(from_rollups, args.repeat)
        raw_ms, raw_stats = await timed(from_raw, args.raw_repeat)
        out["stats_ms"] = {"p50": pct(rollup_ms, 0.5), "p99": pct(rollup_ms, 0.99)}
        out["raw_ms"] = {"p50": pct(raw_ms, 0.5), "p99": pct(raw_ms, 0.99)}
        out["stats_checks"] = (rollup_stats[0].checks, raw_stats[0].checks)
        out["stats_uptime"] = (rollup_stats[0].uptime_pct, raw_stats[0].uptime_pct)
        out["quantile_error_pct"] = quantile_error_pct(rollup_stats, raw_stats)
        out["quantiles"] = {
            "rollup": [rollup_stats[0].p50_ms, rollup_stats[0].p95_ms, rollup_stats[0].p99_ms],
            "raw": [raw_stats[0].p50_ms, raw_stats[0].p95_ms, raw_stats[0].p99_ms],
        }

        # 3. The status page's bars of all monitors.
        async def dashboard() -> Any:
            return await store.daily_uptime(monitor_ids, start, end)

        dash_ms, bars = await timed(dashboard, args.repeat)
        out["dashboard_ms"] = {"p50": pct(dash_ms, 0.5), "p99": pct(dash_ms, 0.99)}
        out["dashboard_bars"] = sum(len(days) for days in bars.values())

        # 4. Query plans (PostgreSQL), of the SQL the production calls sent.
        if store.dialect == "postgresql":
            plans = {}
            for name, fn in (("rollup", from_rollups), ("raw", from_raw), ("dashboard", dashboard)):
                with capture.capturing() as sent:
                    await fn()
                selects = [
                    (s, p) for s, p in sent if s.lstrip().upper().startswith(("SELECT", "("))
                ]
                plans[name] = [await explain(store, s, p) for s, p in selects]
            out["plans"] = plans

        # 5. Ingest rate of each path, alternating, on fresh monitors and recent times.
        out["ingest"] = await ingest_rates(store, org.id, regions, args, rng, say, kind)

        # 6. Retention: raw days older than --raw-days exported to Parquet, then dropped.
        with tempfile.TemporaryDirectory(prefix="statpulse-archive-") as archive_dir:
            archive = ArchiveTarget.from_url(archive_dir)
            policy = RetentionPolicy(raw_days=args.raw_days)
            say(f"{kind}: retention, raw results kept {args.raw_days} days, archive {archive_dir}")
            t0 = time.perf_counter()
            report = await run_retention(store, policy, archive, datetime.now(UTC))
            retention_s = time.perf_counter() - t0
            if store.dialect == "postgresql":
                await pg_admin(asyncpg_dsn(url), "VACUUM ANALYZE")
            expired_rows = sum(n for _, n, _ in report.expired)
            archive_bytes = sum(e["archive_bytes"] or 0 for e in await store.expired_days())
            out["retention"] = {
                "days_expired": len(report.expired),
                "rows_expired": expired_rows,
                "seconds": retention_s,
                "rows_per_s": expired_rows / retention_s if retention_s else None,
                "archive_bytes": archive_bytes,
                "rollups_deleted": report.rollups_deleted,
            }
            out["rows_after"] = await row_counts(store)
            out["size_after"] = await db_size(store, path)
            say(
                f"{kind}: {len(report.expired)} days, {expired_rows:,} rows archived and dropped "
                f"in {retention_s:.1f} s; archive {archive_bytes / 1e6:.1f} MB"
            )
    finally:
        await store.close()
    return out


async def ingest_rates(
    store: SqlStore,
    org_id: uuid.UUID,
    regions: Sequence[str],
    args: argparse.Namespace,
    rng: random.Random,
    say: Callable[[str], None],
    kind: str,
) -> dict[str, dict[int, float]]:
    paths = (
        {"copy": 1, "executemany": 10**12}
        if store.dialect == "postgresql"
        else {"executemany": 10**12}
    )
    default = store.copy_min_rows
    rates: dict[str, dict[int, float]] = {p: {} for p in paths}
    for size in args.ingest_batches:
        rows_per_path = max(size * 3, args.ingest_rows)
        # 25 monitors x regions: batches hold many series, as a runner's uploads do.
        ids = await create_monitors(
            store, org_id, [f"ingest-{size}-{i}" for i in range(25)], regions, args.interval
        )
        begin = datetime.now(UTC) + timedelta(days=1)  # outside the measured ranges
        data = series(rng, ids, regions, begin, begin + timedelta(days=365), args.interval)
        batches = chunks(data, size)
        spent = dict.fromkeys(paths, 0.0)
        rows = dict.fromkeys(paths, 0)
        while min(rows.values()) < rows_per_path:
            for path, threshold in paths.items():
                batch = next(batches)
                store.copy_min_rows = threshold
                t0 = time.perf_counter()
                rows[path] += await store.add_results(batch)
                spent[path] += time.perf_counter() - t0
        store.copy_min_rows = default
        for path in paths:
            rates[path][size] = rows[path] / spent[path]
        say(
            f"{kind}: ingest batch {size:,}: "
            + ", ".join(f"{p} {rates[p][size]:,.0f} rows/s" for p in paths)
        )
    return rates


# --------------------------------------------------------------------------------------------
# Report


def machine(pg_version: str | None) -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg": os.getloadavg(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlalchemy": sa.__version__,
        "asyncpg": asyncpg.__version__,
        "postgresql": pg_version,
        "sqlite": sqlite3.sqlite_version,
    }


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def mb(size: int | None) -> str:
    return "-" if size is None else f"{size / 1e6:,.1f} MB"


def print_report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    for kind, r in results.items():
        for name, plans in r.get("plans", {}).items():
            for text in plans:
                console.print(f"\n[bold]{kind}: EXPLAIN (ANALYZE, BUFFERS) of the {name} query[/]")
                console.print(text, markup=False, highlight=False)
    table = Table(
        title=f"{args.monitors} monitors x {args.regions} regions x {args.days} days "
        f"at {args.interval} s, seeded through add_results"
    )
    table.add_column("figure")
    for kind in results:
        table.add_column(kind, justify="right")

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        table.add_row(label, *(fn(r) for r in results.values()))

    row("rows check_results", lambda r: f"{r['rows']['check_results']:,}")
    for name in ("minute", "hour", "day"):
        row(f"rows rollups_{name}", lambda r, n=name: f"{r['rows'][f'rollups_{n}']:,}")
    row("seeding rows/s (add_results)", lambda r: fmt(r["seed_rows_per_s"], 0))
    row(
        f"{args.days}-day stats, rollups p50 / p99 ms (target p99 < {TARGET_STATS_P99_MS:g} on PG)",
        lambda r: f"{fmt(r['stats_ms']['p50'], 2)} / {fmt(r['stats_ms']['p99'], 2)}",
    )
    row(
        f"{args.days}-day stats, raw rows p50 / p99 ms",
        lambda r: f"{fmt(r['raw_ms']['p50'], 0)} / {fmt(r['raw_ms']['p99'], 0)}",
    )
    row("raw / rollups (p50)", lambda r: fmt(r["raw_ms"]["p50"] / r["stats_ms"]["p50"], 0) + "x")
    row("checks rollups = raw", lambda r: str(r["stats_checks"][0] == r["stats_checks"][1]))
    row("p50/p95/p99 rollups ms", lambda r: " / ".join(fmt(v, 2) for v in r["quantiles"]["rollup"]))
    row("p50/p95/p99 raw ms", lambda r: " / ".join(fmt(v, 2) for v in r["quantiles"]["raw"]))
    row(
        f"quantile error % (target < {TARGET_QUANTILE_ERROR_PCT:g})",
        lambda r: fmt(r["quantile_error_pct"], 3),
    )
    row(
        f"dashboard ({args.monitors} monitors' bars) p50 / p99 ms",
        lambda r: f"{fmt(r['dashboard_ms']['p50'], 2)} / {fmt(r['dashboard_ms']['p99'], 2)}",
    )
    for size in args.ingest_batches:
        for path in ("copy", "executemany"):
            row(
                f"ingest rows/s, {path}, batch {size:,}",
                lambda r, p=path, s=size: fmt(r["ingest"].get(p, {}).get(s), 0),
            )
    row(
        f"retention ({args.raw_days} days raw): days, rows archived+dropped",
        lambda r: f"{r['retention']['days_expired']}, {r['retention']['rows_expired']:,}",
    )
    row(
        "retention seconds (rows/s)",
        lambda r: f"{fmt(r['retention']['seconds'], 1)} ({fmt(r['retention']['rows_per_s'], 0)})",
    )
    row("Parquet archive", lambda r: mb(r["retention"]["archive_bytes"]))
    row("rows check_results after retention", lambda r: f"{r['rows_after']['check_results']:,}")
    parts = ("database", "free", "check_results", "rollups_minute", "rollups_hour", "rollups_day")
    for part in parts:
        row(
            f"size {part} before / after retention",
            lambda r, p=part: f"{mb(r['size_before'].get(p))} / {mb(r['size_after'].get(p))}",
        )
    console.print(table)
    console.print(
        "SQLite keeps the pages of deleted rows in its file ('free', reused by later writes); "
        "PostgreSQL drops whole day partitions."
    )
    console.print(
        f"Stats: {args.repeat} timed calls from rollups, {args.raw_repeat} from raw rows "
        "(after one warm-up each); ingest: add_results with rollup maintenance, the paths "
        "alternating."
    )


def summary(
    results: dict[str, dict[str, Any]], args: argparse.Namespace, info: dict[str, Any]
) -> dict[str, Any]:
    def r3(x: float | None) -> float | None:
        return None if x is None or x != x else round(x, 3)

    headline = args.headline_batch
    out: dict[str, Any] = {}
    pg = results.get("postgresql")
    if pg:
        out["stats_p99_ms"] = r3(pg["stats_ms"]["p99"])
        out["stats_p50_ms"] = r3(pg["stats_ms"]["p50"])
        out["raw_p99_ms"] = r3(pg["raw_ms"]["p99"])
        out["raw_p50_ms"] = r3(pg["raw_ms"]["p50"])
        out["copy_rows_per_s"] = r3(pg["ingest"]["copy"].get(headline))
        out["executemany_rows_per_s"] = r3(pg["ingest"]["executemany"].get(headline))
        out["dashboard_p99_ms"] = r3(pg["dashboard_ms"]["p99"])
    errors = [r["quantile_error_pct"] for r in results.values()]
    out["quantile_error_pct"] = r3(max(errors)) if errors else None
    out["ingest_batch"] = headline
    for kind, r in results.items():
        prefix = "pg" if kind == "postgresql" else kind
        out[f"{prefix}_rows"] = r["rows"]
        out[f"{prefix}_seed_rows_per_s"] = r3(r["seed_rows_per_s"])
        out[f"{prefix}_stats_p50_ms"] = r3(r["stats_ms"]["p50"])
        out[f"{prefix}_stats_p99_ms"] = r3(r["stats_ms"]["p99"])
        out[f"{prefix}_raw_p50_ms"] = r3(r["raw_ms"]["p50"])
        out[f"{prefix}_raw_p99_ms"] = r3(r["raw_ms"]["p99"])
        out[f"{prefix}_quantile_error_pct"] = r3(r["quantile_error_pct"])
        out[f"{prefix}_dashboard_p50_ms"] = r3(r["dashboard_ms"]["p50"])
        out[f"{prefix}_dashboard_p99_ms"] = r3(r["dashboard_ms"]["p99"])
        out[f"{prefix}_ingest_rows_per_s"] = {
            path: {str(k): r3(v) for k, v in by_size.items()}
            for path, by_size in r["ingest"].items()
        }
        out[f"{prefix}_size_bytes"] = r["size_before"]
        out[f"{prefix}_size_after_retention_bytes"] = r["size_after"]
        out[f"{prefix}_retention"] = {
            k: (r3(v) if isinstance(v, float) else v) for k, v in r["retention"].items()
        }
    out["seeded"] = {
        "monitors": args.monitors,
        "regions": args.regions,
        "days": args.days,
        "interval_s": args.interval,
    }
    out["machine"] = info
    return out


# --------------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> None:
    say = lambda text: print(text, flush=True)  # noqa: E731
    kinds = [k for k in args.databases.split(",") if k]
    pg_version = None
    if "postgresql" in kinds:
        admin = asyncpg_dsn(args.pg)
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            pg_version = str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
    info = machine(pg_version)
    say(
        f"machine: {info['nproc']} cpus ({info['cpu']}), load {info['loadavg']}, kernel "
        f"{info['kernel']}, python {info['python']}, PostgreSQL {pg_version}, SQLite "
        f"{info['sqlite']}, SQLAlchemy {info['sqlalchemy']}, asyncpg {info['asyncpg']}"
    )
    per_series = math.ceil(args.days * 86400 / args.interval)
    say(
        f"seeding {args.monitors} monitors x {args.regions} regions x {args.days} days at "
        f"{args.interval} s = {args.monitors * args.regions * per_series:,} results per database"
    )
    results: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        if kind == "postgresql":
            name = f"statpulse_bench_{secrets.token_hex(4)}"
            await pg_admin(admin, f'CREATE DATABASE "{name}"')
            url = sa.make_url(args.pg).set(database=name).render_as_string(False)
            try:
                results[kind] = await run_database(kind, url, None, args, say)
            finally:
                await pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        elif kind == "sqlite":
            with tempfile.TemporaryDirectory(prefix="statpulse-bench-") as tmp:
                path = Path(tmp) / "bench.db"
                results[kind] = await run_database(kind, f"sqlite:///{path}", path, args, say)
        else:
            sys.exit(f"unknown database {kind!r}")
    info["loadavg_after"] = os.getloadavg()
    print_report(results, args)
    print(json.dumps(summary(results, args, info)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small seed; ends within ~2 min")
    parser.add_argument("--monitors", type=int, help="monitors seeded (quick 2, full 2)")
    parser.add_argument("--regions", type=int, help="regions per monitor (quick 1, full 2)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--interval", type=int, help="seconds between results (10; --quick 60, see the README)"
    )
    parser.add_argument("--seed-batch", type=int, default=5000, help="results per add_results")
    parser.add_argument("--repeat", type=int, help="timed rollup/dashboard queries (50)")
    parser.add_argument("--raw-repeat", type=int, help="timed raw-row queries (quick 3, full 10)")
    parser.add_argument("--ingest-batches", default="10,100,250,500,5000")
    parser.add_argument("--ingest-rows", type=int, help="rows per path and batch size")
    parser.add_argument(
        "--headline-batch",
        type=int,
        default=500,
        help="batch size of copy/executemany_rows_per_s in the JSON",
    )
    parser.add_argument("--raw-days", type=int, default=30, help="raw retention (days)")
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--pg", default=os.environ.get("STATPULSE_BENCH_POSTGRES_URL", DEFAULT_PG))
    args = parser.parse_args()
    quick = args.quick
    # Seeding runs at ~8-12k rows/s here (add_results with its rollup maintenance is Python
    # bound): 90 days at 10 s is 777,600 rows per (monitor, region), ~1-1.5 min per database.
    # --quick seeds at 60 s: the rollup reads (day, hour and minute rows) are the same size.
    args.interval = args.interval or (60 if quick else 10)
    args.monitors = args.monitors or 2
    args.regions = min(len(REGIONS), args.regions or (1 if quick else 2))
    args.repeat = args.repeat or 50
    args.raw_repeat = args.raw_repeat or (3 if quick else 10)
    args.ingest_rows = args.ingest_rows or (1_000 if quick else 10_000)
    args.ingest_batches = [int(x) for x in args.ingest_batches.split(",") if x]
    if args.headline_batch not in args.ingest_batches:
        args.ingest_batches.append(args.headline_batch)
    asyncio.run(amain(args))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
