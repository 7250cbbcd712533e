"""check options: per-kind options, retries, heartbeat grace; condition results on results

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text elsewhere (as statpulse.store.types.JSONDocument).
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("options", JSON, nullable=False, server_default="{}"))
        batch.add_column(sa.Column("retries", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("retry_delay_s", sa.Float(), nullable=False, server_default="1.0")
        )
        batch.add_column(sa.Column("grace_s", sa.Integer(), nullable=False, server_default="60"))
    with op.batch_alter_table("check_results") as batch:
        batch.add_column(sa.Column("conditions", JSON, nullable=True))
        batch.add_column(
            sa.Column("attempts", sa.SmallInteger(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("check_results") as batch:
        batch.drop_column("attempts")
        batch.drop_column("conditions")
    with op.batch_alter_table("monitors") as batch:
        batch.drop_column("grace_s")
        batch.drop_column("retry_delay_s")
        batch.drop_column("retries")
        batch.drop_column("options")
