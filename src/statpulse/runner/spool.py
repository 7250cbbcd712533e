"""The durable result spool of a remote runner: every result is written here first.

A result whose ``append`` returned survives SIGKILL and power loss; it stays ``pending`` until
the control plane acknowledged it (``ack``), so delivery is at least once (the control plane
stores each result id once). A full spool refuses appends with ``SpoolFull``: never silently.

On disk, a directory holds append-only segment files ``seg-<first_seq:020d>.log`` and the ack
cursor ``acked`` (the highest acknowledged seq, replaced atomically). A record is::

    crc32 (4, LE) | length (4, LE) | seq (8, LE) | payload (``length`` bytes of JSON)

The CRC covers length, seq and payload. The seq sits in the header rather than in the JSON so
that recovery checks every record without parsing it. Seqs are contiguous within a segment and
increase across restarts. Recovery on open truncates a torn or corrupt tail of the last segment
(a crash mid-append); the records before it are intact because each append is fsynced.

Threading: the class is synchronous and meant for one caller at a time (the runner calls it
through ``asyncio.to_thread``); a lock makes concurrent calls safe anyway.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import struct
import threading
import zlib
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from statpulse.model import CheckResult
from statpulse.wire import result_from_dict, result_to_dict

log = structlog.get_logger(__name__)

_HEADER = struct.Struct("<IIQ")  # crc32, payload length, seq
_MAX_PAYLOAD = 16 * 2**20  # a longer "length" can only be damage
_CURSOR = "acked"
_LOCK = "lock"


class SpoolFull(Exception):
    """``append`` found no room for the batch; nothing was written."""


@dataclass(frozen=True)
class SpoolStats:
    records: int
    """Records not yet acknowledged."""
    bytes: int
    """Their size on disk (headers included): what counts against the capacity."""
    capacity_bytes: int
    full: bool
    """At capacity, or the last append was refused and no ack has freed room since."""
    oldest_seq: int | None
    """The seq ``pending`` would return first, or None when nothing is pending."""


@dataclass
class _Segment:
    first_seq: int
    path: Path
    fd: int
    offsets: array[int]  # start of each record; record i has seq first_seq + i
    size: int  # end of the last valid record

    @property
    def end_seq(self) -> int:
        """One past the last record's seq."""
        return self.first_seq + len(self.offsets)

    def start_of(self, seq: int) -> int:
        i = seq - self.first_seq
        return self.offsets[i] if i < len(self.offsets) else self.size


def _encode(seq: int, result: CheckResult) -> bytes:
    payload = json.dumps(result_to_dict(result), separators=(",", ":")).encode()
    rest = _HEADER.pack(0, len(payload), seq)[4:] + payload
    return struct.pack("<I", zlib.crc32(rest)) + rest


class Spool:
    def __init__(
        self,
        directory: Path,
        *,
        capacity_bytes: int = 256 * 2**20,
        segment_bytes: int = 4 * 2**20,
    ) -> None:
        """Open (creating it if needed) and recover the spool in ``directory``.

        Raises ``BlockingIOError`` when another process has this spool open.
        """
        self._dir = directory
        self._capacity = capacity_bytes
        self._segment_bytes = segment_bytes
        self._mutex = threading.Lock()
        self._refused = False
        self._closed = False
        created = not directory.exists()
        directory.mkdir(parents=True, exist_ok=True)
        if created:
            _fsync_dir(directory.parent)
        self._lock_fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise
        self._acked = self._read_cursor()
        self._segments: list[_Segment] = []
        paths = sorted(directory.glob("seg-*.log"))
        for n, path in enumerate(paths):
            self._segments.append(_scan(path, last=n == len(paths) - 1))
        for before, after in zip(self._segments, self._segments[1:], strict=False):
            if before.end_seq > after.first_seq:  # only by hand: keep every seq unique
                log.error("spool: segments overlap", segment=before.path.name)
                keep = max(0, after.first_seq - before.first_seq)
                before.size = before.offsets[keep]
                del before.offsets[keep:]
        last_seq = self._segments[-1].end_seq - 1 if self._segments else 0
        self._next_seq = max(last_seq, self._acked) + 1
        self._records = 0
        self._bytes = 0
        for seg in self._segments:
            first = max(seg.first_seq, self._acked + 1)
            if first < seg.end_seq:
                self._records += seg.end_seq - first
                self._bytes += seg.size - seg.start_of(first)
        self._drop_acked_segments()

    # -- public API ----------------------------------------------------------------------------

    def append(self, results: Sequence[CheckResult]) -> None:
        """Write ``results`` as one batch; durable on return (write + fsync).

        Raises ``SpoolFull`` (nothing written) when the batch does not fit in the capacity
        (it counts unacknowledged records only, not acknowledged ones left in the oldest
        segment and the active one until those are deleted);
        an ``OSError`` from the disk leaves the spool as it was before the call.
        """
        if not results:
            return
        with self._mutex:
            self._check_open()
            first = self._next_seq
            records = [_encode(first + i, r) for i, r in enumerate(results)]
            size = sum(map(len, records))
            if self._bytes + size > self._capacity:
                self._refused = True
                raise SpoolFull(
                    f"spool full: {self._bytes} of {self._capacity} bytes unacknowledged, "
                    f"a batch of {len(results)} results needs {size} more"
                )
            seg = self._segments[-1] if self._segments else None
            if seg is None or (seg.size > 0 and seg.size + size > self._segment_bytes):
                seg = self._new_segment(first)
            start = seg.size
            try:
                _write_all(seg.fd, b"".join(records), start)
                os.fsync(seg.fd)
            except OSError:
                # Cut the partial batch off so the file stays a clean sequence of records.
                os.ftruncate(seg.fd, start)
                os.fsync(seg.fd)
                raise
            for record in records:
                seg.offsets.append(start)
                start += len(record)
            seg.size = start
            self._next_seq += len(records)
            self._records += len(records)
            self._bytes += size

    def pending(self, limit: int) -> list[tuple[int, CheckResult]]:
        """Up to ``limit`` unacknowledged results, oldest first, as ``(seq, result)``."""
        with self._mutex:
            self._check_open()
            out: list[tuple[int, CheckResult]] = []
            for seg in self._segments:
                if len(out) >= limit:
                    break
                first = max(seg.first_seq, self._acked + 1)
                stop = min(seg.end_seq, first + limit - len(out))
                if first >= stop:
                    continue
                out.extend(_decode_run(seg, first, stop))
            return out

    def ack(self, up_to_seq: int) -> None:
        """Acknowledge every record with seq <= ``up_to_seq``; durable on return.

        Acking an already acknowledged seq does nothing; a seq never appended raises
        ``ValueError``. Whole segments below the cursor are deleted.
        """
        with self._mutex:
            self._check_open()
            if up_to_seq >= self._next_seq:
                raise ValueError(f"seq {up_to_seq} was never appended (next is {self._next_seq})")
            if up_to_seq <= self._acked:
                return
            self._write_cursor(up_to_seq)
            for seg in self._segments:
                lo = max(seg.first_seq, self._acked + 1)
                hi = min(seg.end_seq, up_to_seq + 1)
                if lo < hi:
                    self._records -= hi - lo
                    self._bytes -= seg.start_of(hi) - seg.start_of(lo)
            self._acked = up_to_seq
            self._refused = False
            self._drop_acked_segments()

    def stats(self) -> SpoolStats:
        with self._mutex:
            oldest = next(
                (
                    max(s.first_seq, self._acked + 1)
                    for s in self._segments
                    if s.end_seq > self._acked + 1
                ),
                None,
            )
            return SpoolStats(
                records=self._records,
                bytes=self._bytes,
                capacity_bytes=self._capacity,
                full=self._refused or self._bytes >= self._capacity,
                oldest_seq=oldest,
            )

    def close(self) -> None:
        with self._mutex:
            if self._closed:
                return
            self._closed = True
            for seg in self._segments:
                os.close(seg.fd)
            os.close(self._lock_fd)  # releases the flock

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("spool is closed")

    def _new_segment(self, first_seq: int) -> _Segment:
        path = self._dir / f"seg-{first_seq:020d}.log"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        _fsync_dir(self._dir)  # the new name must survive a crash with its records
        seg = _Segment(first_seq, path, fd, array("Q"), 0)
        self._segments.append(seg)
        return seg

    def _drop_acked_segments(self) -> None:
        # The last segment stays: it is where appends go.
        while len(self._segments) > 1 and self._segments[0].end_seq <= self._acked + 1:
            seg = self._segments.pop(0)
            os.close(seg.fd)
            seg.path.unlink()  # a crash before this reaches disk: deleted again on open

    def _read_cursor(self) -> int:
        with contextlib.suppress(FileNotFoundError):
            (self._dir / f"{_CURSOR}.tmp").unlink()
        try:
            text = (self._dir / _CURSOR).read_text()
        except FileNotFoundError:
            return 0
        try:
            return int(text)
        except ValueError:
            # Replaying everything is safe (the control plane deduplicates); losing is not.
            log.error("spool ack cursor unreadable; replaying every record", content=text[:40])
            return 0

    def _write_cursor(self, seq: int) -> None:
        tmp = self._dir / f"{_CURSOR}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            _write_all(fd, f"{seq}\n".encode(), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(self._dir / _CURSOR)
        _fsync_dir(self._dir)


def _scan(path: Path, *, last: bool) -> _Segment:
    """Index the valid records of one segment; a bad tail is truncated when ``last``."""
    first_seq = int(path.name[4:-4])
    fd = os.open(path, os.O_RDWR)
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    offsets: array[int] = array("Q")
    pos, reason = 0, ""
    while pos < len(data):
        reason = _check_record(data, pos, first_seq + len(offsets))
        if reason:
            break
        offsets.append(pos)
        pos += _HEADER.size + _HEADER.unpack_from(data, pos)[1]
    if pos < len(data):
        if last:
            log.warning(
                "spool: torn or corrupt tail dropped (a crash during an append)",
                segment=path.name,
                offset=pos,
                dropped_bytes=len(data) - pos,
                reason=reason,
            )
            os.ftruncate(fd, pos)
            os.fsync(fd)
        else:
            log.error(
                "spool: damaged segment; results after the damage are lost",
                segment=path.name,
                offset=pos,
                reason=reason,
            )
    return _Segment(first_seq, path, fd, offsets, pos)


def _check_record(data: bytes, pos: int, seq: int) -> str:
    """Why the record at ``pos`` is not a valid record with ``seq``, or "" when it is."""
    if len(data) - pos < _HEADER.size:
        return "short header"
    crc, length, got_seq = _HEADER.unpack_from(data, pos)
    if length == 0 or length > _MAX_PAYLOAD or pos + _HEADER.size + length > len(data):
        return "bad length"
    if zlib.crc32(memoryview(data)[pos + 4 : pos + _HEADER.size + length]) != crc:
        return "crc mismatch"
    if got_seq != seq:
        return f"seq {got_seq}, expected {seq}"
    return ""


def _decode_run(seg: _Segment, first: int, stop: int) -> list[tuple[int, CheckResult]]:
    """Read and decode records ``first`` to ``stop - 1`` of ``seg`` with one ``pread``."""
    begin = seg.start_of(first)
    data = os.pread(seg.fd, seg.start_of(stop) - begin, begin)
    out = []
    for seq in range(first, stop):
        pos = seg.start_of(seq) - begin
        reason = _check_record(data, pos, seq)
        if not reason:
            length = _HEADER.unpack_from(data, pos)[1]
            try:
                body = json.loads(data[pos + _HEADER.size : pos + _HEADER.size + length])
                out.append((seq, result_from_dict(body)))
                continue
            except ValueError as exc:  # WireError is a ValueError
                reason = str(exc)
        # Damaged after its fsync (the disk, not a crash): it cannot be delivered. Skipping it
        # keeps the queue moving; stopping here would stall every later result.
        log.error("spool: damaged record skipped", segment=seg.path.name, seq=seq, reason=reason)
    return out


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
