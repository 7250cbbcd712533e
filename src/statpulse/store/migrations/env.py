"""Alembic environment: always online, on the connection handed over by ``store.migrate``."""

from __future__ import annotations

from alembic import context

from statpulse.store.partitions import include_name
from statpulse.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `statpulse migrate` (statpulse.store.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
