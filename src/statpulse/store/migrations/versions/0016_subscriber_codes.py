"""SMS subscribers: pending confirmation codes

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-23 18:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from statpulse.store.types import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriber_codes",
        sa.Column("subscriber_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_codes_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", name=op.f("pk_subscriber_codes")),
    )


def downgrade() -> None:
    op.drop_table("subscriber_codes")
