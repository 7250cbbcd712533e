"""partitioned results: check_results keyed by (id, started_at), by day on PostgreSQL

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 12:00:00

PostgreSQL: ``check_results`` becomes a table partitioned by range of ``started_at``, one
partition per UTC day (or a TimescaleDB hypertable with compression when the extension is
installed or can be created; see ``store/partitions.py``). The rows move over in one statement;
partitions exist for every day that holds results and for today and the next 7 days.

SQLite: the same key, without partitions (the table is rebuilt, as SQLite cannot change a key).

Both: ``expired_days``, the days retention has removed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from statpulse.store import partitions as p

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

AHEAD_DAYS = 7
_OLD = "check_results_0005"
_COLUMNS = (
    "id, monitor_id, region, scheduled_at, started_at, latency_ms, dns_ms, connect_ms, tls_ms, "
    "first_byte_ms, status_code, ok, degraded, error_class, error_message, conditions, attempts"
)


def _results_table(name: str, **kwargs: Any) -> None:
    op.create_table(
        name,
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("monitor_id", sa.Uuid(), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("dns_ms", sa.Float(), nullable=True),
        sa.Column("connect_ms", sa.Float(), nullable=True),
        sa.Column("tls_ms", sa.Float(), nullable=True),
        sa.Column("first_byte_ms", sa.Float(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.Column("error_class", sa.String(length=20), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "conditions",
            sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"),
            nullable=True,
        ),
        sa.Column("attempts", sa.SmallInteger(), server_default="1", nullable=False),
        sa.PrimaryKeyConstraint("id", "started_at", name="pk_check_results"),
        **kwargs,
    )


def _timescale(bind: sa.Connection) -> bool:
    """Whether to build a hypertable: the extension is installed, or can be created here."""
    if bind.execute(sa.text(p.TIMESCALE_INSTALLED_SQL)).scalar():
        return True
    if not bind.execute(sa.text(p.TIMESCALE_AVAILABLE_SQL)).scalar():
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS timescaledb"))
    except sa.exc.DBAPIError:
        return False  # e.g. not in shared_preload_libraries, or no privilege
    return True


def upgrade() -> None:
    bind = op.get_bind()
    hypertable = False
    op.drop_index("ix_check_results_monitor_id_started_at", table_name="check_results")
    op.rename_table("check_results", _OLD)
    if bind.dialect.name == "postgresql":
        op.execute(f"ALTER TABLE {_OLD} RENAME CONSTRAINT pk_check_results TO pk_{_OLD}")
        hypertable = _timescale(bind)
        if hypertable:
            _results_table("check_results")
        else:
            _results_table("check_results", postgresql_partition_by="RANGE (started_at)")
            query = f"SELECT DISTINCT (started_at AT TIME ZONE 'UTC')::date FROM {_OLD}"  # noqa: S608 (constants)
            days = set(bind.execute(sa.text(query)).scalars().all())
            today = datetime.now(UTC).date()
            days.update(today + timedelta(days=n) for n in range(AHEAD_DAYS + 1))
            for day in sorted(days):
                op.execute(p.create_partition_sql(day))
    else:
        _results_table("check_results")
    op.create_index(
        "ix_check_results_monitor_id_started_at", "check_results", ["monitor_id", "started_at"]
    )
    copy = f"INSERT INTO check_results ({_COLUMNS}) SELECT {_COLUMNS} FROM {_OLD}"  # noqa: S608
    op.execute(copy)  # (constants only)
    op.drop_table(_OLD)
    if hypertable:
        for statement in p.HYPERTABLE_SQL:
            op.execute(statement)
    op.create_table(
        "expired_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("archive_path", sa.Text(), nullable=True),
        sa.Column("archive_bytes", sa.BigInteger(), nullable=True),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name="pk_expired_days"),
    )


def downgrade() -> None:
    raise NotImplementedError("0006 is one-way: partitioned results cannot be merged back")
