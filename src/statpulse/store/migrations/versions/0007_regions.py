"""regions: one open incident per monitor (database-enforced), runner health reports

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 12:40:00

The partial unique index makes "one draft per outage, never two" hold even when every region's
failure is evaluated at once by several engine workers: the second insert conflicts.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OPEN = sa.text("resolved_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_incidents_monitor_id_open",
        "incidents",
        ["monitor_id"],
        unique=True,
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )
    op.create_table(
        "runner_health",
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("runner", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("clock_offset_ms", sa.Float(), nullable=True),
        sa.Column("spool_depth", sa.Integer(), nullable=False),
        sa.Column("spool_full", sa.Boolean(), nullable=False),
        sa.Column("lateness_p99_ms", sa.Float(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region", "runner", name=op.f("pk_runner_health")),
    )


def downgrade() -> None:
    op.drop_table("runner_health")
    op.drop_index("ix_incidents_monitor_id_open", table_name="incidents")
