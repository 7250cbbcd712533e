"""slos: service level objectives on a monitor or a component

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slos",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("monitor_id", sa.Uuid(), nullable=True),
        sa.Column("component_id", sa.Uuid(), nullable=True),
        sa.Column("target_pct", sa.Float(), nullable=False),
        sa.Column("threshold_ms", sa.Float(), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(monitor_id IS NULL) <> (component_id IS NULL)", name=op.f("ck_slos_one_target")
        ),
        sa.ForeignKeyConstraint(
            ["component_id"],
            ["components.id"],
            name=op.f("fk_slos_component_id_components"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["monitor_id"],
            ["monitors.id"],
            name=op.f("fk_slos_monitor_id_monitors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_slos_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slos")),
    )
    op.create_index(op.f("ix_slos_org_id_created_at"), "slos", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_slos_org_id_created_at"), table_name="slos")
    op.drop_table("slos")
