"""Read one monitor's archived rows back for a time range."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from statpulse.archive.parquet import RESULT_SCHEMA, from_record_batch
from statpulse.archive.target import ArchiveTarget

_LIST_ABOVE_DAYS = 31


def query(
    target: ArchiveTarget, monitor_id: uuid.UUID, start: datetime.datetime, end: datetime.datetime
) -> list[dict[str, Any]]:
    """``monitor_id``'s archived rows with ``start <= started_at < end``, by (started_at, id).

    Rows have the types ``select(check_results)`` gives (UUIDs, aware UTC datetimes, decoded
    ``conditions``). Only the existing day files overlapping the range are read, and the
    filter is pushed down to pyarrow, which skips row groups by their statistics.
    Raises ``ValueError`` for a naive ``start`` or ``end``, ``OSError`` when reading fails.
    Blocking I/O; safe to call from several threads.
    """
    for name, value in (("start", start), ("end", end)):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be an aware datetime")
    start, end = start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)
    if end <= start:
        return []
    existing = _existing_day_paths(target, start, end)
    if not existing:
        return []
    ts_type = RESULT_SCHEMA.field("started_at").type
    condition = (
        (pc.field("monitor_id") == str(monitor_id))
        & (pc.field("started_at") >= pa.scalar(start, type=ts_type))
        & (pc.field("started_at") < pa.scalar(end, type=ts_type))
    )
    table = pq.read_table(
        existing,
        filesystem=target.fs,
        schema=RESULT_SCHEMA,
        filters=condition,
        partitioning=None,
    )
    table = table.sort_by([("started_at", "ascending"), ("id", "ascending")])
    return from_record_batch(table)


def _existing_day_paths(
    target: ArchiveTarget, start: datetime.datetime, end: datetime.datetime
) -> list[str]:
    first, last = start.date(), (end - datetime.timedelta(microseconds=1)).date()
    if (last - first).days >= _LIST_ABOVE_DAYS:
        # A long range: one listing beats a HEAD request per day on S3.
        return [target.day_path(d) for d in target.days() if first <= d <= last]
    days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    infos = target.fs.get_file_info([target.day_path(d) for d in days])
    return [info.path for info in infos if info.type == pafs.FileType.File]
