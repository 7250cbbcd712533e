"""rollups: check results summarised per monitor, region and UTC minute, hour and day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:00:00

Results stored before this revision are rolled up here, in one streaming pass in (monitor, time)
order, so the rollups equal a recomputation from raw results from the start; later results are
rolled up at ingest (``store/sql_rollups.py``). The pass uses the rollup maths of the app
(``engine/rollups.py``), whose sketch encoding is versioned.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from statpulse.engine.rollups import Resolution, Rollup, floor_to
from statpulse.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = {res: f"rollups_{res.name.lower()}" for res in Resolution}
_FLUSH = 5000
_PAGE = 10_000


def upgrade() -> None:
    for name in TABLES.values():
        op.create_table(
            name,
            sa.Column("monitor_id", sa.Uuid(), nullable=False),
            sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
            sa.Column("region", sa.String(length=64), nullable=False),
            sa.Column("checks", sa.Integer(), nullable=False),
            sa.Column("ok", sa.Integer(), nullable=False),
            sa.Column("degraded", sa.Integer(), nullable=False),
            sa.Column("down_s", sa.BigInteger(), nullable=False),
            sa.Column("sketch", sa.LargeBinary(), nullable=False),
            # Key order: one monitor's time range is one range scan (see schema._rollups).
            sa.PrimaryKeyConstraint(
                "monitor_id", "bucket_start", "region", name=op.f(f"pk_{name}")
            ),
            sqlite_with_rowid=False,
        )
    _backfill()


def downgrade() -> None:
    for name in reversed(TABLES.values()):
        op.drop_table(name)


def _backfill() -> None:
    bind = op.get_bind()
    results = sa.table(
        "check_results",
        sa.column("monitor_id", sa.Uuid()),
        sa.column("region", sa.String()),
        sa.column("started_at", UTCDateTime()),
        sa.column("ok", sa.Boolean()),
        sa.column("degraded", sa.Boolean()),
        sa.column("latency_ms", sa.Float()),
        sa.column("id", sa.Uuid()),
    )
    monitors = sa.table("monitors", sa.column("id", sa.Uuid()), sa.column("interval_s"))
    intervals = {row.id: row.interval_s for row in bind.execute(sa.select(monitors))}
    rollups = {
        res: sa.table(
            name,
            sa.column("monitor_id", sa.Uuid()),
            sa.column("bucket_start", UTCDateTime()),
            sa.column("region", sa.String()),
            *(sa.column(c, sa.Integer()) for c in ("checks", "ok", "degraded", "down_s")),
            sa.column("sketch", sa.LargeBinary()),
        )
        for res, name in TABLES.items()
    }
    # Per resolution, the bucket being filled: rows come in (monitor, started_at) order (the
    # index order), so a bucket is complete once a row of another bucket arrives.
    open_buckets: dict[Resolution, tuple[tuple[uuid.UUID, datetime], dict[str, Rollup]]] = {}
    pending: dict[Resolution, list[dict[str, object]]] = defaultdict(list)

    def close(res: Resolution) -> None:
        (monitor_id, bucket_start), regions = open_buckets.pop(res)
        for region, r in regions.items():
            pending[res].append(
                {
                    "monitor_id": monitor_id,
                    "bucket_start": bucket_start,
                    "region": region,
                    "checks": r.checks,
                    "ok": r.ok,
                    "degraded": r.degraded,
                    "down_s": r.down_s,
                    "sketch": r.sketch.to_bytes(),
                }
            )
        if len(pending[res]) >= _FLUSH:
            flush(res)

    def flush(res: Resolution) -> None:
        if pending[res]:
            bind.execute(rollups[res].insert(), pending.pop(res))

    # Pages in key order, not a server-side cursor: on asyncpg an exhausted one stays open until
    # the transaction ends, and migration 0006 (same transaction) drops the table it reads.
    key = (results.c.monitor_id, results.c.started_at, results.c.id)
    query = sa.select(results).order_by(*key).limit(_PAGE)
    last: tuple[object, ...] | None = None
    while True:
        page = bind.execute(
            query if last is None else query.where(sa.tuple_(*key) > sa.tuple_(*last))
        ).all()
        if not page:
            break
        _add_all(page, open_buckets, close, intervals)
        last = (page[-1].monitor_id, page[-1].started_at, page[-1].id)
    for res in Resolution:
        if res in open_buckets:
            close(res)
        flush(res)


def _add_all(
    rows: Sequence[sa.Row[Any]],
    open_buckets: dict[Resolution, tuple[tuple[uuid.UUID, datetime], dict[str, Rollup]]],
    close: Callable[[Resolution], None],
    intervals: dict[uuid.UUID, int],
) -> None:
    for row in rows:
        for res in Resolution:
            key = (row.monitor_id, floor_to(row.started_at, res))
            if res in open_buckets and open_buckets[res][0] != key:
                close(res)
            if res not in open_buckets:
                open_buckets[res] = (key, defaultdict(Rollup))
            open_buckets[res][1][row.region].add(
                ok=row.ok,
                degraded=row.degraded,
                latency_ms=row.latency_ms,
                interval_s=intervals.get(row.monitor_id, 0),
            )
