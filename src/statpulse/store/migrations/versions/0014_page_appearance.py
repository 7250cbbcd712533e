"""appearance of status pages (theme, colours, logo, favicon, header links, language)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-23 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from statpulse.store.types import JSONDocument, UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "page_appearance",
        sa.Column("page_id", sa.Uuid(), nullable=False),
        sa.Column("document", JSONDocument, nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["status_pages.id"],
            name=op.f("fk_page_appearance_page_id_status_pages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("page_id", name=op.f("pk_page_appearance")),
    )


def downgrade() -> None:
    op.drop_table("page_appearance")
