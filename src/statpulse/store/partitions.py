"""PostgreSQL layouts of ``check_results``: native daily partitions, or a TimescaleDB hypertable.

The layout is chosen once, by migration 0006:

- ``hypertable`` when the TimescaleDB extension is installed in the database, or available and
  creatable by the migrating role: daily chunks, compressed after ``COMPRESS_AFTER``, dropped by
  retention with ``drop_chunks``. TimescaleDB is not packaged by Debian; this path runs only
  where an operator installed it (the tests cover it only there).
- ``partitioned`` otherwise: ``PARTITION BY RANGE (started_at)``, one partition per UTC day named
  ``check_results_pYYYYMMDD``, created ahead of time by the retention job (and on demand by
  ingest for a day that has none) and dropped by retention.

SQLite has one plain table (``plain``); retention deletes its expired rows.

Everything here is SQL text for either a migration (sync) or the store (async) to run.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

TABLE = "check_results"
COMPRESS_AFTER = "2 days"
_PARTITION = re.compile(r"^check_results_p(\d{8})$")


class Layout(StrEnum):
    PLAIN = "plain"
    PARTITIONED = "partitioned"
    HYPERTABLE = "hypertable"


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """The day of a partition's table name; None for any other name."""
    found = _PARTITION.match(name)
    return datetime.strptime(found.group(1), "%Y%m%d").date() if found else None


def is_partition(name: str) -> bool:
    return partition_day(name) is not None


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def utc_day_of(at: datetime) -> date:
    return at.astimezone(UTC).date()


def create_partition_sql(day: date) -> str:
    """DDL of one day's partition (idempotent). Day names are formatted, never user input."""
    start = day_start(day)
    end = start + timedelta(days=1)
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def drop_partition_sql(day: date) -> str:
    return f"DROP TABLE IF EXISTS {partition_name(day)}"


PARTITIONS_SQL = (
    "SELECT c.relname AS name FROM pg_inherits i "
    "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
    "WHERE p.relname = 'check_results' AND p.relnamespace = to_regnamespace(current_schema())::oid"
)
"""Names of the partitions of ``check_results`` (in the current schema)."""

PARTITIONED_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table pt JOIN pg_class c ON c.oid = pt.partrelid "
    "WHERE c.relname = 'check_results' AND c.relnamespace = to_regnamespace(current_schema())::oid)"
)
HYPERTABLE_EXISTS_SQL = (
    "SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables "
    "WHERE hypertable_name = 'check_results' AND hypertable_schema = current_schema())"
)
"""Valid only when the extension is installed (``TIMESCALE_INSTALLED_SQL``)."""
HYPERTABLE_SIZE_SQL = f"SELECT hypertable_size('{TABLE}')"
TABLE_BYTES_SQL = (
    "SELECT pg_total_relation_size(CAST(:name AS regclass)) + coalesce(("
    "SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree(CAST(:name AS regclass)) "
    "WHERE relid <> CAST(:name AS regclass)), 0)"
)
"""Bytes of a table with its indexes, and of its partitions if it has any (``:name``)."""

PARTITION_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('statpulse:check_results:partitions'))"
"""Serialises partition DDL between processes (a transaction-level lock: PgBouncer-safe)."""

TIMESCALE_AVAILABLE_SQL = (
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')"
)
TIMESCALE_INSTALLED_SQL = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')"

HYPERTABLE_SQL = (
    f"SELECT create_hypertable('{TABLE}', 'started_at', "
    "chunk_time_interval => INTERVAL '1 day', migrate_data => true)",
    f"ALTER TABLE {TABLE} SET (timescaledb.compress, "
    "timescaledb.compress_segmentby = 'monitor_id, region', "
    "timescaledb.compress_orderby = 'started_at')",
    f"SELECT add_compression_policy('{TABLE}', INTERVAL '{COMPRESS_AFTER}')",
)
"""Turns the (plain) results table into a compressed hypertable of daily chunks."""


def drop_chunks_sql(before: date) -> str:
    """Drops the chunks holding only results older than ``before`` (a UTC day)."""
    cutoff = day_start(before).isoformat()
    return f"SELECT drop_chunks('{TABLE}', older_than => TIMESTAMPTZ '{cutoff}')"


def include_name(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's ``include_name`` hook: a day's partition is not a table of the schema."""
    return not (type_ == "table" and name is not None and is_partition(name))
