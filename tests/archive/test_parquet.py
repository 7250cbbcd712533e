"""DayWriter and query on a real local directory."""

from __future__ import annotations

import datetime
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from statpulse.archive.parquet import RESULT_SCHEMA, DayWriter
from statpulse.archive.query import query
from statpulse.archive.target import ArchiveTarget
from tests.archive import (
    MONITOR_A,
    MONITOR_B,
    Boom,
    at,
    by_time,
    failed_row,
    ordered,
    result_row,
    write_then_fail,
)

OCT_1 = datetime.date(2026, 10, 1)
OCT_2 = datetime.date(2026, 10, 2)


@pytest.fixture
def target(tmp_path: Path) -> ArchiveTarget:
    return ArchiveTarget.from_url(str(tmp_path / "archive"))


def export(target: ArchiveTarget, day: datetime.date, rows: list[dict[str, Any]], **kw: Any) -> Any:
    with DayWriter(target, day, **kw) as writer:
        rows = ordered(rows)
        for i in range(0, len(rows), 3):  # chunks, as the retention job streams them
            writer.write(rows[i : i + 3])
    return writer.archived


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def test_a_day_round_trips_every_column_type_with_nulls_json_and_non_ascii(
    target: ArchiveTarget,
) -> None:
    rows = [
        result_row(MONITOR_A, at(1, 0, 0, 0, 1)),
        failed_row(MONITOR_A, at(1, 12, 30, 15, 123456)),
        result_row(MONITOR_A, at(1, 23, 59, 59, 999999), degraded=True, attempts=2),
        result_row(MONITOR_A, at(1, 6), conditions=[]),
    ]

    archived = export(target, OCT_1, rows)

    assert archived.day == OCT_1
    assert archived.path == target.day_path(OCT_1)
    assert archived.rows == 4
    assert archived.bytes == Path(archived.path).stat().st_size
    back = query(target, MONITOR_A, at(1), at(2))
    assert back == by_time(rows)
    assert [type(r["id"]) for r in back] == [uuid.UUID] * 4
    assert all(r["started_at"].tzinfo is datetime.UTC for r in back)
    assert pq.read_schema(archived.path).equals(RESULT_SCHEMA)


def test_the_file_is_zstd_with_row_groups_of_the_requested_size(target: ArchiveTarget) -> None:
    rows = [result_row(MONITOR_A, at(1, h)) for h in range(5)]
    rows += [result_row(MONITOR_B, at(1, h)) for h in range(5)]

    archived = export(target, OCT_1, rows, row_group_rows=4)

    meta = pq.ParquetFile(archived.path).metadata
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [4, 4, 2]
    assert meta.row_group(0).column(0).compression == "ZSTD"
    monitor_stats = [meta.row_group(i).column(1).statistics for i in range(3)]
    assert (monitor_stats[0].min, monitor_stats[0].max) == (str(MONITOR_A), str(MONITOR_A))
    assert (monitor_stats[2].min, monitor_stats[2].max) == (str(MONITOR_B), str(MONITOR_B))


def test_query_keeps_one_monitor_and_the_half_open_range_across_two_day_files(
    target: ArchiveTarget,
) -> None:
    day1 = [result_row(MONITOR_A, at(1, h)) for h in (0, 22, 23)]
    day1 += [result_row(MONITOR_B, at(1, 23, 30))]
    day2 = [result_row(MONITOR_A, at(2, h)) for h in (0, 1, 2)]
    day2 += [result_row(MONITOR_B, at(2, 0, 30))]
    export(target, OCT_1, day1)
    export(target, OCT_2, day2)

    back = query(target, MONITOR_A, at(1, 22), at(2, 2))

    assert [r["started_at"] for r in back] == [at(1, 22), at(1, 23), at(2, 0), at(2, 1)]
    assert {r["monitor_id"] for r in back} == {MONITOR_A}


def test_query_orders_equal_start_times_by_id(target: ArchiveTarget) -> None:
    rows = [result_row(MONITOR_A, at(1, 5), region=r) for r in ("us", "eu", "ap")]
    export(target, OCT_1, list(reversed(rows)))
    assert query(target, MONITOR_A, at(1), at(2)) == by_time(rows)


def test_query_accepts_other_zones_and_reads_nothing_for_missing_days(
    target: ArchiveTarget,
) -> None:
    export(target, OCT_2, [result_row(MONITOR_A, at(2, 3))])
    plus_two = datetime.timezone(datetime.timedelta(hours=2))
    start = datetime.datetime(2026, 9, 1, tzinfo=plus_two)
    end = datetime.datetime(2026, 10, 2, 5, 0, 1, tzinfo=plus_two)  # 03:00:01 UTC
    assert [r["started_at"] for r in query(target, MONITOR_A, start, end)] == [at(2, 3)]
    assert query(target, MONITOR_A, at(3), at(30)) == []
    assert query(target, MONITOR_A, at(2, 4), at(2, 3)) == []


def test_query_refuses_naive_datetimes(target: ArchiveTarget) -> None:
    with pytest.raises(ValueError, match="start must be an aware datetime"):
        query(target, MONITOR_A, datetime.datetime(2026, 10, 1), at(2))
    with pytest.raises(ValueError, match="end must be an aware datetime"):
        query(target, MONITOR_A, at(1), datetime.datetime(2026, 10, 2))


def test_a_re_export_of_a_day_replaces_its_file(target: ArchiveTarget, tmp_path: Path) -> None:
    export(target, OCT_1, [result_row(MONITOR_A, at(1, h)) for h in range(3)])
    second = [result_row(MONITOR_A, at(1, h)) for h in range(2)]

    archived = export(target, OCT_1, second)

    assert archived.rows == 2
    assert query(target, MONITOR_A, at(1), at(2)) == second
    assert files_under(tmp_path) == [Path(target.day_path(OCT_1))]


def test_an_exception_in_the_block_leaves_no_file_and_keeps_the_earlier_export(
    target: ArchiveTarget, tmp_path: Path
) -> None:
    export(target, OCT_1, [result_row(MONITOR_A, at(1, 1))])
    before = Path(target.day_path(OCT_1)).read_bytes()

    writer = DayWriter(target, OCT_1, row_group_rows=2)
    with pytest.raises(Boom):  # after two row groups were written
        write_then_fail(writer, [result_row(MONITOR_A, at(1, h)) for h in range(5)])

    assert writer.archived is None
    assert files_under(tmp_path) == [Path(target.day_path(OCT_1))]
    assert Path(target.day_path(OCT_1)).read_bytes() == before


def test_a_failed_first_export_leaves_no_file_at_all(target: ArchiveTarget, tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        write_then_fail(
            DayWriter(target, OCT_1), [result_row(MONITOR_A, at(1, 1))], KeyboardInterrupt()
        )
    assert files_under(tmp_path) == []
    assert not target.has_day(OCT_1)
    assert target.days() == []


def test_a_day_without_rows_is_still_archived_as_an_empty_file(target: ArchiveTarget) -> None:
    archived = export(target, OCT_1, [])
    assert archived.rows == 0
    assert pq.read_table(archived.path).num_rows == 0
    assert target.days() == [OCT_1]
    assert query(target, MONITOR_A, at(1), at(2)) == []


def test_rows_from_another_day_are_refused(target: ArchiveTarget, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="outside 2026-10-01"), DayWriter(target, OCT_1) as w:
        w.write([result_row(MONITOR_A, at(1, 23)), result_row(MONITOR_A, at(2, 0))])
    assert files_under(tmp_path) == []


def test_a_null_in_a_not_null_column_is_refused(target: ArchiveTarget) -> None:
    with pytest.raises(ValueError, match=r"check_results\.attempts"), DayWriter(target, OCT_1) as w:
        w.write([result_row(MONITOR_A, at(1, 1), attempts=None)])
    assert not target.has_day(OCT_1)


def test_write_outside_the_with_block_is_an_error(target: ArchiveTarget) -> None:
    writer = DayWriter(target, OCT_1)
    with pytest.raises(RuntimeError, match="outside its with block"):
        writer.write([result_row(MONITOR_A, at(1, 1))])


def test_a_writer_is_used_once_and_a_second_exit_is_harmless(target: ArchiveTarget) -> None:
    writer = DayWriter(target, OCT_1)
    with writer:
        writer.write([result_row(MONITOR_A, at(1, 1))])
    writer.__exit__(None, None, None)
    with pytest.raises(RuntimeError, match="used once"):
        writer.__enter__()
    with pytest.raises(RuntimeError, match="outside its with block"):
        writer.write([result_row(MONITOR_A, at(1, 2))])
    assert writer.archived is not None
    assert writer.archived.rows == 1


def test_a_write_from_another_thread_finishes_before_a_failing_exit_cleans_up(
    target: ArchiveTarget, tmp_path: Path
) -> None:
    # As the retention job does it: each call in a worker thread (asyncio.to_thread).
    writer = DayWriter(target, OCT_1, row_group_rows=10)
    with ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(writer.__enter__).result()
        rows = [result_row(MONITOR_A, at(1, 0, m)) for m in range(50)]
        write = pool.submit(writer.write, rows)
        pool.submit(writer.__exit__, Boom, Boom(), None).result()
        # Either order is clean: the write ran first (and is cleaned up) or was refused.
        error = write.exception()
    assert error is None or "outside its with block" in str(error)
    assert files_under(tmp_path) == []
