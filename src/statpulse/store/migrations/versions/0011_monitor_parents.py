"""monitor dependencies and confirmation: a parent monitor, and how long a down must last

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite adds a foreign key only by rebuilding the table.
    with op.batch_alter_table("monitors") as batch:
        batch.add_column(sa.Column("depends_on", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("confirm_s", sa.Integer(), nullable=False, server_default="0"))
        batch.create_foreign_key(
            op.f("fk_monitors_depends_on_monitors"),
            "monitors",
            ["depends_on"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("monitors") as batch:
        batch.drop_constraint(op.f("fk_monitors_depends_on_monitors"), type_="foreignkey")
        batch.drop_column("confirm_s")
        batch.drop_column("depends_on")
