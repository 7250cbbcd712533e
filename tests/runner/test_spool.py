"""The spool keeps every appended result until it is acknowledged, across crashes."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from statpulse.model import CheckResult, ConditionResult, ErrorClass, Phases, new_id
from statpulse.runner.spool import Spool, SpoolFull

AT = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
CHILD = Path(__file__).with_name("spool_child.py")


def result(n: int = 0) -> CheckResult:
    return CheckResult(
        id=new_id(),
        monitor_id=new_id(),
        region="eu-west",
        scheduled_at=AT,
        started_at=AT,
        latency_ms=12.5 + n,
        ok=n % 2 == 0,
        degraded=n % 3 == 0,
        status_code=500 + n % 5,
        phases=Phases(dns_ms=1.0, connect_ms=2.5),
        error_class=ErrorClass.HTTP_STATUS if n % 2 else None,
        error_message="HTTP 503 — ünïcode" if n % 2 else None,
        conditions=(ConditionResult("[STATUS] == 200", False, "503 != 200"),),
        attempts=1 + n % 3,
    )


def segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("seg-*.log"))


def ids(pending: list[tuple[int, CheckResult]]) -> list[str]:
    return [str(r.id) for _, r in pending]


def test_appended_results_come_back_equal_in_order_with_increasing_seqs(tmp_path: Path) -> None:
    batch = [result(n) for n in range(10)]
    with Spool(tmp_path / "spool") as spool:
        spool.append(batch[:3])
        spool.append(batch[3:])
        pending = spool.pending(100)
    assert [r for _, r in pending] == batch
    assert [seq for seq, _ in pending] == list(range(1, 11))


def test_pending_returns_at_most_limit_oldest_first(tmp_path: Path) -> None:
    batch = [result(n) for n in range(10)]
    with Spool(tmp_path, segment_bytes=1500) as spool:
        spool.append(batch)
        for n in range(10):  # one record per segment beyond the first few
            spool.append([batch[n]])
        assert [r for _, r in spool.pending(4)] == batch[:4]
        assert [seq for seq, _ in spool.pending(15)] == list(range(1, 16))
        assert spool.pending(0) == []


def test_ack_removes_everything_up_to_the_seq_and_nothing_after(tmp_path: Path) -> None:
    batch = [result(n) for n in range(5)]
    with Spool(tmp_path) as spool:
        spool.append(batch)
        spool.ack(3)
        assert [r for _, r in spool.pending(10)] == batch[3:]
        stats = spool.stats()
        assert (stats.records, stats.oldest_seq) == (2, 4)
        spool.ack(5)
        assert spool.pending(10) == []
        assert spool.stats().records == 0
        assert spool.stats().bytes == 0
        assert spool.stats().oldest_seq is None


def test_ack_of_an_acked_seq_does_nothing_and_of_an_unknown_seq_is_refused(
    tmp_path: Path,
) -> None:
    with Spool(tmp_path) as spool:
        spool.append([result(n) for n in range(3)])
        spool.ack(2)
        spool.ack(1)
        assert [seq for seq, _ in spool.pending(10)] == [3]
        with pytest.raises(ValueError, match="never appended"):
            spool.ack(4)


def test_segments_roll_over_and_fully_acked_ones_are_deleted(tmp_path: Path) -> None:
    with Spool(tmp_path, segment_bytes=2000) as spool:
        for n in range(20):
            spool.append([result(n), result(n + 1)])
        names = segments(tmp_path)
        assert len(names) > 5
        assert names[0] == f"seg-{1:020d}.log"
        second_first_seq = int(names[1][4:-4])
        spool.ack(second_first_seq - 1)  # exactly the first segment
        assert segments(tmp_path) == names[1:]
        spool.ack(40)  # everything: the active segment stays, for the numbering
        assert segments(tmp_path) == names[-1:]
        spool.append([result()])
        assert [seq for seq, _ in spool.pending(5)] == [41]


def test_a_full_spool_refuses_appends_whole_until_an_ack_frees_room(tmp_path: Path) -> None:
    with Spool(tmp_path, capacity_bytes=5000) as spool:
        spool.append([result(1)])
        size = spool.stats().bytes  # every result(1) encodes to the same size
        for _ in range(5000 // size - 1):
            spool.append([result(1)])
        assert not spool.stats().full
        on_disk = sum(p.stat().st_size for p in tmp_path.glob("seg-*.log"))
        with pytest.raises(SpoolFull, match="spool full"):
            spool.append([result(1)])
        with pytest.raises(SpoolFull):
            spool.append([result(1), result(1)])
        stats = spool.stats()
        assert stats.full
        assert (stats.records, stats.bytes) == (5000 // size, 5000 // size * size)
        assert sum(p.stat().st_size for p in tmp_path.glob("seg-*.log")) == on_disk
        spool.ack(2)
        assert not spool.stats().full
        spool.append([result(1), result(1)])
        assert spool.stats().records == stats.records


def test_reopen_keeps_the_pending_set_and_continues_the_numbering(tmp_path: Path) -> None:
    batch = [result(n) for n in range(6)]
    with Spool(tmp_path, segment_bytes=1500) as spool:
        spool.append(batch)
        spool.ack(2)
        before = spool.stats()
    with Spool(tmp_path, segment_bytes=1500) as spool:
        assert spool.pending(10) == [(n + 1, batch[n]) for n in range(2, 6)]
        assert spool.stats() == before
        spool.append([result()])
        assert spool.pending(10)[-1][0] == 7


def test_numbering_continues_after_everything_was_acked(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([result(n) for n in range(4)])
        spool.ack(4)
    for name in segments(tmp_path):  # even if only the cursor is left
        (tmp_path / name).unlink()
    with Spool(tmp_path) as spool:
        assert spool.pending(10) == []
        spool.append([result()])
        assert [seq for seq, _ in spool.pending(10)] == [5]


def test_a_second_open_of_the_same_spool_is_refused(tmp_path: Path) -> None:
    with Spool(tmp_path), pytest.raises(BlockingIOError):
        Spool(tmp_path)
    Spool(tmp_path).close()  # closing released it


def test_an_empty_segment_left_by_a_crash_receives_the_next_appends(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([result(n) for n in range(3)])
    (tmp_path / f"seg-{4:020d}.log").touch()  # created, crashed before its first record
    with Spool(tmp_path) as spool:
        spool.append([result()])
        assert [seq for seq, _ in spool.pending(10)] == [1, 2, 3, 4]
    assert len(segments(tmp_path)) == 2


def _spool_with_last_record(directory: Path) -> tuple[list[CheckResult], Path, bytes, int]:
    """Three records in one segment: them, the segment, its bytes, where the last one starts.

    The last record is a small one: every byte offset in it costs a reopen and two fsyncs."""
    batch = [result(0), result(1), CheckResult(new_id(), new_id(), "eu", AT, AT, None, True)]
    with Spool(directory) as spool:
        spool.append(batch[:2])
        seg = directory / segments(directory)[0]
        start = seg.stat().st_size
        spool.append(batch[2:])
    return batch, seg, seg.read_bytes(), start


def _reopen_drops_only_the_last(directory: Path, batch: list[CheckResult]) -> None:
    with capture_logs() as logs, Spool(directory) as spool:
        assert [r for _, r in spool.pending(10)] == batch[:2]
        spool.append([batch[2]])
        assert spool.pending(10) == [(1, batch[0]), (2, batch[1]), (3, batch[2])]
    assert [e["log_level"] for e in logs] == ["warning"]
    assert "torn" in logs[0]["event"]


def test_a_tail_torn_at_any_byte_drops_only_the_last_record(tmp_path: Path) -> None:
    batch, seg, data, start = _spool_with_last_record(tmp_path)
    seg.write_bytes(data[:start])  # a clean cut is no damage: nothing to log
    with capture_logs() as logs, Spool(tmp_path) as spool:
        assert [r for _, r in spool.pending(10)] == batch[:2]
    assert logs == []
    for cut in range(start + 1, len(data)):
        seg.write_bytes(data[:cut])  # the spool rewrites it: start afresh each time
        _reopen_drops_only_the_last(tmp_path, batch)


def test_a_flipped_byte_in_the_last_record_drops_only_that_record(tmp_path: Path) -> None:
    batch, seg, data, start = _spool_with_last_record(tmp_path)
    for pos in range(start, len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x40
        seg.write_bytes(bytes(damaged))
        _reopen_drops_only_the_last(tmp_path, batch)


def test_damage_inside_an_older_segment_is_logged_and_later_segments_survive(
    tmp_path: Path,
) -> None:
    with Spool(tmp_path, segment_bytes=1500) as spool:
        for n in range(6):
            spool.append([result(n), result(n)])
        before = spool.pending(100)
    first = tmp_path / segments(tmp_path)[0]
    data = bytearray(first.read_bytes())
    data[-5] ^= 0xFF  # inside its last record
    first.write_bytes(bytes(data))
    with capture_logs() as logs, Spool(tmp_path, segment_bytes=1500) as spool:
        after = spool.pending(100)
    lost = {seq for seq, _ in before} - {seq for seq, _ in after}
    assert len(lost) == 1
    assert [p for p in before if p[0] not in lost] == after
    assert [e["log_level"] for e in logs] == ["error"]


def test_a_record_damaged_after_its_append_is_skipped_loudly_not_returned(
    tmp_path: Path,
) -> None:
    batch = [result(n) for n in range(3)]
    with Spool(tmp_path) as spool:
        spool.append(batch)
        seg = tmp_path / segments(tmp_path)[0]
        data = bytearray(seg.read_bytes())
        data[len(data) // 2] ^= 0x01  # inside the middle record, under the open spool
        seg.write_bytes(bytes(data))
        with capture_logs() as logs:
            assert spool.pending(10) == [(1, batch[0]), (3, batch[2])]
        assert [e["log_level"] for e in logs] == ["error"]


def test_an_unreadable_ack_cursor_replays_everything_rather_than_losing(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([result(n) for n in range(3)])
        spool.ack(2)
    (tmp_path / "acked").write_text("garbage")
    with capture_logs(), Spool(tmp_path) as spool:
        assert [seq for seq, _ in spool.pending(10)] == [1, 2, 3]


def test_an_empty_append_writes_nothing(tmp_path: Path) -> None:
    with Spool(tmp_path) as spool:
        spool.append([])
        assert segments(tmp_path) == []
        assert spool.stats().records == 0


# -- SIGKILL at random moments ------------------------------------------------------------------


@dataclass
class Ledger:
    """What the children reported, and what a reopened spool must therefore hold."""

    appended: set[str] = field(default_factory=set)
    acked: set[str] = field(default_factory=set)
    seq_of: dict[str, int] = field(default_factory=dict)
    max_seq: int = 0

    def check(self, out: str, pending: list[tuple[int, CheckResult]]) -> None:
        in_flight: list[str] = []  # an append or ack that was cut short by the kill
        maybe_acked: list[str] = []
        for line in out.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # the kill landed mid-line
            word, *rest = line.split()
            if word == "W":
                in_flight = rest
            elif word == "A":
                self.appended.update(in_flight)
                in_flight = []
            elif word == "F":
                in_flight = []
            elif word == "P":
                maybe_acked = rest
            elif word == "K":
                self.acked.update(maybe_acked)
                maybe_acked = []
        seqs = [seq for seq, _ in pending]
        got = ids(pending)
        assert seqs == sorted(set(seqs)), "seqs unique and increasing"
        assert len(got) == len(set(got)), "an id is pending twice"
        present = set(got)
        # A crashed append may have left any prefix of its batch; it is then delivered.
        kept = [i for i in in_flight if i in present]
        assert kept == in_flight[: len(kept)]
        self.appended.update(kept)
        # The ack cursor is replaced atomically: all of a crashed ack happened, or none.
        assert len(present.intersection(maybe_acked)) in (0, len(maybe_acked))
        if not present.intersection(maybe_acked):
            self.acked.update(maybe_acked)
        assert present == self.appended - self.acked, "lost or resurrected results"
        for seq, r in pending:
            key = str(r.id)
            if key in self.seq_of:
                assert self.seq_of[key] == seq, "a result came back with another seq"
            else:
                assert seq > self.max_seq, "numbering went backwards"
                self.seq_of[key] = seq
        self.max_seq = max([self.max_seq, *seqs])


def _start_child(directory: Path, seed: int) -> subprocess.Popen[bytes]:
    # Unbuffered: reading "ready" must not swallow the lines after it, which communicate()
    # (reading the raw pipe) would then never see.
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(directory), str(seed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(20261123)
    ledger = Ledger()
    directory = tmp_path / "spool"
    # The next child does its imports while the current one runs: 30 kills in a few seconds.
    upcoming = _start_child(directory, 0)
    try:
        start = time.monotonic()
        for round_ in range(30):
            if round_ >= 10 and time.monotonic() - start > 4:  # a loaded machine: enough
                break
            child, upcoming = upcoming, _start_child(directory, round_ + 1)
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(b"go\n")
            assert child.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0, 0.04))
            child.send_signal(signal.SIGKILL)
            out, err = child.communicate(timeout=10)
            assert child.returncode == -signal.SIGKILL, err
            assert b"Traceback" not in err, err
            with Spool(directory) as spool:
                ledger.check(out.decode(), spool.pending(10**6))
                assert spool.stats().records == len(ledger.appended - ledger.acked)
    finally:
        upcoming.kill()
        upcoming.communicate()
    assert len(ledger.acked) > 100
    assert len(ledger.appended - ledger.acked) > 0
