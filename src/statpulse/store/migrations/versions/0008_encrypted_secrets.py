"""encrypted secrets: per-organisation data keys (wrapped under the master key)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 13:00:00

This migration only creates ``org_data_keys``. It cannot seal the secrets already stored in
plaintext (monitor header and gRPC metadata values, client keys): migrations run without the
master key, which lives outside the database (settings ``master_key``/``master_key_file`` or
``<data_dir>/master.key``) and must never be written into it. Instead ``open_store``, given the
keyring, runs ``SqlStore.seal_plaintext()`` right after migrating: a one-time, idempotent pass
(values already starting with ``sp1:`` are skipped) that seals whatever is still plaintext.
Until it has run, reads return those plaintext values unchanged.

Old row versions may keep the plaintext on disk until the database reuses the space: run
``VACUUM`` (SQLite) or ``VACUUM FULL monitors`` (PostgreSQL) once after the first sealed start,
and treat older backups as holding plaintext secrets.

Downgrading drops the data keys, which would make every sealed value unreadable for good, so
it refuses while any data key exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "org_data_keys",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("master_key_id", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_org_data_keys_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "key_id", name=op.f("pk_org_data_keys")),
    )


def downgrade() -> None:
    keys = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM org_data_keys")).scalar_one()
    if keys:
        raise RuntimeError(
            f"refusing to drop org_data_keys: its {keys} data key(s) are the only way to open "
            "the sealed secrets"
        )
    op.drop_table("org_data_keys")
