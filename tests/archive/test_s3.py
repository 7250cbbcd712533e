"""The archive on S3: moto's S3 server on loopback, spoken to over HTTP by pyarrow."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator

import pyarrow.fs as pafs
import pytest
import typer
from moto.server import ThreadedMotoServer
from typer.testing import CliRunner

from statpulse.archive.cli import archive_app
from statpulse.archive.parquet import DayWriter
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
KEY, SECRET = "AKIDARCHIVETEST", "archive-test-secret"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def url(endpoint: str) -> str:
    """A fresh bucket per test, so tests do not see each other's days."""
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    admin = pafs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        region="us-east-1",
        allow_bucket_creation=True,
    )
    admin.create_dir(bucket)
    return f"s3://{bucket}/statpulse/raw?endpoint={endpoint}&region=us-east-1"


@pytest.fixture
def target(url: str) -> ArchiveTarget:
    return ArchiveTarget.from_url(url, access_key=KEY, secret_key=SECRET)


def objects(target: ArchiveTarget) -> list[str]:
    selector = pafs.FileSelector(target.root, allow_not_found=True, recursive=True)
    return sorted(i.path for i in target.fs.get_file_info(selector) if i.type == pafs.FileType.File)


def test_days_round_trip_through_s3_and_query_spans_two_objects(target: ArchiveTarget) -> None:
    day1 = [failed_row(MONITOR_A, at(1, 23)), result_row(MONITOR_B, at(1, 23))]
    day2 = [result_row(MONITOR_A, at(2, 0)), result_row(MONITOR_A, at(2, 5))]
    for day, rows in ((OCT_1, day1), (OCT_2, day2)):
        with DayWriter(target, day) as writer:
            writer.write(ordered(rows))
        assert writer.archived is not None
        assert writer.archived.rows == len(rows)

    assert target.days() == [OCT_1, OCT_2]
    assert objects(target) == [target.day_path(OCT_1), target.day_path(OCT_2)]
    assert query(target, MONITOR_A, at(1, 12), at(2, 5)) == by_time([day1[0], day2[0]])


def test_an_exception_leaves_no_object_and_keeps_the_earlier_export(
    target: ArchiveTarget,
) -> None:
    with DayWriter(target, OCT_1) as writer:
        writer.write([result_row(MONITOR_A, at(1, 1))])

    failing = DayWriter(target, OCT_1, row_group_rows=2)
    with pytest.raises(Boom):
        write_then_fail(failing, [result_row(MONITOR_A, at(1, h)) for h in range(5)])

    assert failing.archived is None
    assert objects(target) == [target.day_path(OCT_1)]
    assert len(query(target, MONITOR_A, at(1), at(2))) == 1


def test_a_failed_first_export_creates_no_object(target: ArchiveTarget) -> None:
    with pytest.raises(Boom):
        write_then_fail(DayWriter(target, OCT_2), [result_row(MONITOR_A, at(2, 1))])
    assert objects(target) == []
    assert target.days() == []


def test_a_re_export_replaces_the_object_and_an_empty_day_is_recorded(
    target: ArchiveTarget,
) -> None:
    with DayWriter(target, OCT_1) as writer:
        writer.write([result_row(MONITOR_A, at(1, h)) for h in range(3)])
    with DayWriter(target, OCT_1) as writer:
        pass

    assert writer.archived is not None
    assert writer.archived.rows == 0
    assert objects(target) == [target.day_path(OCT_1)]
    assert target.has_day(OCT_1)
    assert query(target, MONITOR_A, at(1), at(2)) == []


def test_credentials_come_from_the_aws_environment_when_not_given(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    target = ArchiveTarget.from_url(url)
    with DayWriter(target, OCT_1):
        pass
    assert target.days() == [OCT_1]


def test_the_cli_reads_an_s3_archive_with_keys_from_the_settings(
    target: ArchiveTarget, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    row = failed_row(MONITOR_A, at(1, 8))
    with DayWriter(target, OCT_1) as writer:
        writer.write([row])
    monkeypatch.setenv("STATPULSE_ARCHIVE_URL", url)
    monkeypatch.setenv("STATPULSE_ARCHIVE_ACCESS_KEY", KEY)
    monkeypatch.setenv("STATPULSE_ARCHIVE_SECRET_KEY", SECRET)

    cli = typer.Typer()
    cli.add_typer(archive_app, name="archive")
    args = ["archive", "query", str(MONITOR_A), "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--from", "2026-10-01", "--to", "2026-10-02"])

    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    assert json.loads(line)["error_message"] == row["error_message"]
