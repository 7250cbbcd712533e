"""Component groups of status pages

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-23 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from statpulse.store.types import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "component_groups",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_component_groups_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["status_pages.id"],
            name=op.f("fk_component_groups_page_id_status_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_component_groups")),
    )
    op.create_index(op.f("ix_component_groups_page_id"), "component_groups", ["page_id"])
    op.create_table(
        "component_group_members",
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("component_id", sa.Uuid(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["component_groups.id"],
            name=op.f("fk_component_group_members_group_id_component_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["page_id", "component_id"],
            ["page_components.page_id", "page_components.component_id"],
            name=op.f("fk_component_group_members_page_id_page_components"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("page_id", "component_id", name=op.f("pk_component_group_members")),
    )
    op.create_index(
        op.f("ix_component_group_members_group_id"), "component_group_members", ["group_id"]
    )


def downgrade() -> None:
    op.drop_table("component_group_members")
    op.drop_table("component_groups")
