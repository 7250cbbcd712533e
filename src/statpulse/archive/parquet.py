"""Write one UTC day of ``check_results`` rows as a Parquet file, atomically."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from statpulse.archive.target import ArchiveTarget

_TS = pa.timestamp("us", tz="UTC")

# The columns of ``store.schema.check_results``, in table order; NOT NULL where the table's is.
RESULT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),  # UUID text: sorts like the UUID
        pa.field("monitor_id", pa.string(), nullable=False),
        pa.field("region", pa.string(), nullable=False),
        pa.field("scheduled_at", _TS, nullable=False),
        pa.field("started_at", _TS, nullable=False),
        pa.field("latency_ms", pa.float64()),
        pa.field("dns_ms", pa.float64()),
        pa.field("connect_ms", pa.float64()),
        pa.field("tls_ms", pa.float64()),
        pa.field("first_byte_ms", pa.float64()),
        pa.field("status_code", pa.int32()),
        pa.field("ok", pa.bool_(), nullable=False),
        pa.field("degraded", pa.bool_(), nullable=False),
        pa.field("error_class", pa.string()),
        pa.field("error_message", pa.string()),
        pa.field("conditions", pa.string()),  # the JSON text of the list
        pa.field("attempts", pa.int16(), nullable=False),
    ]
)
_UUID_COLUMNS = ("id", "monitor_id")
_JSON_COLUMNS = ("conditions",)


@dataclass(frozen=True)
class ArchivedDay:
    """A finished day file: where it is, how many rows and bytes it holds."""

    day: datetime.date
    path: str
    rows: int
    bytes: int


class DayWriter:
    """Context manager writing ``day``'s rows to ``target.day_path(day)``.

    The file appears (replacing an earlier export of the same day) only when the ``with``
    block exits cleanly; then ``archived`` is set. On an exception nothing is left behind
    and ``day_path`` keeps what it held before. Rows go to a temporary name in the same
    directory that is renamed at the end: a rename on a local disk (after fsync), a
    server-side copy on S3, where an object can only be staged under another key because
    pyarrow's S3 streams cannot abort an upload.

    ``write`` takes rows as ``select(check_results)`` returns them, ordered by
    ``(monitor_id, started_at)``; rows are buffered into row groups of ``row_group_rows`` so
    that each group's min/max statistics cover few monitors. Every row must have started on
    ``day`` (UTC), else ``ValueError``. I/O failures raise ``OSError``.

    Every call blocks on I/O. Calls may come from different threads (``asyncio.to_thread``);
    an internal lock serialises them, so an ``__exit__`` issued while a cancelled caller's
    ``write`` still runs in its worker thread waits for that write instead of racing it.
    """

    archived: ArchivedDay | None

    def __init__(self, target: ArchiveTarget, day: datetime.date, row_group_rows: int = 65536):
        if row_group_rows < 1:
            raise ValueError("row_group_rows must be at least 1")
        self.target = target
        self.day = day
        self.row_group_rows = row_group_rows
        self.archived = None
        self._path = target.day_path(day)
        directory = self._path.rsplit("/", 1)[0]
        self._tmp_path = f"{directory}/.{uuid.uuid4().hex}.parquet.tmp"
        self._start = datetime.datetime.combine(day, datetime.time(), datetime.UTC)
        self._end = self._start + datetime.timedelta(days=1)
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._rows = 0
        self._stream: pa.NativeFile | None = None
        self._writer: pq.ParquetWriter | None = None
        self._lock = threading.Lock()
        self._entered = False

    def __enter__(self) -> Self:
        with self._lock:
            return self._open()

    def _open(self) -> Self:
        if self._entered:
            raise RuntimeError("a DayWriter is used once")
        self._entered = True
        fs = self.target.fs
        if isinstance(fs, pafs.LocalFileSystem):
            # S3 has no directories; creating one there would only add a marker object.
            fs.create_dir(self._tmp_path.rsplit("/", 1)[0], recursive=True)
        self._stream = fs.open_output_stream(self._tmp_path)
        try:
            self._writer = pq.ParquetWriter(self._stream, RESULT_SCHEMA, compression="zstd")
        except BaseException:
            self._discard()
            raise
        return self

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Buffer ``rows``; full row groups are written out as they fill."""
        with self._lock:
            self._write(rows)

    def _write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._writer is None:
            raise RuntimeError("DayWriter.write outside its with block")
        if not rows:
            return
        batch = to_record_batch(rows)
        started = pc.min_max(batch.column("started_at"))
        if started["min"].as_py() < self._start or started["max"].as_py() >= self._end:
            raise ValueError(f"rows outside {self.day.isoformat()} (UTC) given to its day file")
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= self.row_group_rows:
            self._flush(final=False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._close(failed=exc_type is not None)

    def _close(self, *, failed: bool) -> None:
        if self._writer is None:
            return  # already closed, or never opened
        if failed:
            self._discard()
            return
        try:
            self._flush(final=True)
            assert self._writer is not None
            assert self._stream is not None
            self._writer.close()
            size = self._stream.tell()
            self._stream.close()
            if isinstance(self.target.fs, pafs.LocalFileSystem):
                _fsync(self._tmp_path)
            self.target.fs.move(self._tmp_path, self._path)
        except BaseException:
            self._discard()
            raise
        self._writer = self._stream = None
        if isinstance(self.target.fs, pafs.LocalFileSystem):
            _fsync(self._path.rsplit("/", 1)[0])  # the rename itself
        self.archived = ArchivedDay(day=self.day, path=self._path, rows=self._rows, bytes=size)

    def _flush(self, *, final: bool) -> None:
        assert self._writer is not None
        if not self._pending:
            return
        table = pa.Table.from_batches(self._pending, schema=RESULT_SCHEMA)
        whole = table.num_rows - table.num_rows % self.row_group_rows
        cut = table.num_rows if final else whole
        if cut:
            self._writer.write_table(table.slice(0, cut), row_group_size=self.row_group_rows)
            self._rows += cut
        rest = table.slice(cut)
        self._pending = rest.combine_chunks().to_batches() if rest.num_rows else []
        self._pending_rows = rest.num_rows

    def _discard(self) -> None:
        """Best-effort removal of the temporary file; the caller's exception is what matters."""
        self._pending = []
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        if self._stream is not None:
            # A pyarrow S3 stream completes its upload when closed (even by its destructor), so
            # the staged object is created and then deleted; it never appears at day_path.
            with contextlib.suppress(Exception):
                self._stream.close()
        with contextlib.suppress(Exception):
            self.target.fs.delete_file(self._tmp_path)
        self._writer = self._stream = None


def to_record_batch(rows: Sequence[Mapping[str, Any]]) -> pa.RecordBatch:
    """``check_results`` rows (UUIDs, aware datetimes, decoded JSON) as a RESULT_SCHEMA batch."""
    columns: dict[str, list[Any]] = {}
    for name in RESULT_SCHEMA.names:
        values = [row[name] for row in rows]
        if name in _UUID_COLUMNS:
            values = [str(v) for v in values]
        elif name in _JSON_COLUMNS:
            values = [
                None if v is None else json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                for v in values
            ]
        columns[name] = values
    batch = pa.RecordBatch.from_pydict(columns, schema=RESULT_SCHEMA)
    for field, column in zip(RESULT_SCHEMA, batch.columns, strict=True):
        # pyarrow does not enforce a field's nullability; Parquet readers would trust it.
        if not field.nullable and column.null_count:
            raise ValueError(f"check_results.{field.name} is NULL in a row")
    return batch


def from_record_batch(batch: pa.RecordBatch | pa.Table) -> list[dict[str, Any]]:
    """The inverse of ``to_record_batch``."""
    rows: list[dict[str, Any]] = batch.to_pylist()
    for row in rows:
        for name in _UUID_COLUMNS:
            row[name] = uuid.UUID(row[name])
        for name in _JSON_COLUMNS:
            if row[name] is not None:
                row[name] = json.loads(row[name])
        for name in ("scheduled_at", "started_at"):
            row[name] = row[name].astimezone(datetime.UTC)
    return rows


def _fsync(path: str) -> None:
    # The retention job drops the rows once the file exists: it must survive a power cut.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
