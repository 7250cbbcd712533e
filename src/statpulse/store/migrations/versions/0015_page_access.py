"""private status pages: access rules and one-time sign-in links

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from statpulse.store.types import JSONDocument, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_access",
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("email_domains", JSONDocument, nullable=False),
        sa.Column("ip_allowlist", JSONDocument, nullable=False),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["status_pages.id"],
            name=op.f("fk_page_access_page_id_status_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("page_id", name=op.f("pk_page_access")),
    )
    op.create_table(
        "page_access_links",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["status_pages.id"],
            name=op.f("fk_page_access_links_page_id_status_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_access_links")),
    )
    op.create_index(op.f("ix_page_access_links_page_id"), "page_access_links", ["page_id"])
    op.create_index(op.f("ix_page_access_links_expires_at"), "page_access_links", ["expires_at"])


def downgrade() -> None:
    op.drop_table("page_access_links")
    op.drop_table("page_access")
