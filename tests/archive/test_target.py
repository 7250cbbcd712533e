"""ArchiveTarget.from_url: the URL forms, their errors, and listing archived days."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from statpulse.archive.parquet import DayWriter
from statpulse.archive.target import ArchiveError, ArchiveTarget

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def test_a_plain_directory_is_resolved_to_an_absolute_local_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = ArchiveTarget.from_url("archive/raw")
    assert isinstance(target.fs, pafs.LocalFileSystem)
    assert target.root == str(tmp_path.resolve() / "archive" / "raw")
    assert target.display == target.root


def test_a_file_url_names_a_local_directory(tmp_path: Path) -> None:
    target = ArchiveTarget.from_url(f"file://{tmp_path}/")
    assert isinstance(target.fs, pafs.LocalFileSystem)
    assert target.root == str(tmp_path.resolve())


def test_day_path_is_one_hive_style_directory_per_utc_day(tmp_path: Path) -> None:
    target = ArchiveTarget.from_url(str(tmp_path))
    assert target.day_path(datetime.date(2026, 10, 1)) == (
        f"{tmp_path.resolve()}/check_results/day=2026-10-01/results.parquet"
    )


def test_an_s3_url_takes_its_scheme_from_the_endpoint_and_shows_no_secret() -> None:
    target = ArchiveTarget.from_url(
        "s3://bucket/statpulse/raw/?endpoint=http://127.0.0.1:9000&region=eu-central-1",
        access_key="AKIDEXAMPLE",
        secret_key=SECRET,
    )
    assert isinstance(target.fs, pafs.S3FileSystem)
    assert target.root == "bucket/statpulse/raw"
    assert target.display == (
        "s3://bucket/statpulse/raw?endpoint=http://127.0.0.1:9000&region=eu-central-1"
    )
    assert SECRET not in repr(target)
    assert target.fs.region == "eu-central-1"


def test_an_s3_url_without_prefix_roots_at_the_bucket() -> None:
    target = ArchiveTarget.from_url("s3://bucket?region=us-west-2")
    assert target.root == "bucket"
    assert target.display == "s3://bucket?region=us-west-2"


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("", "empty"),
        ("ftp://host/dir", "unsupported scheme 'ftp'"),
        ("s3:///prefix", "needs a bucket"),
        ("s3://bucket/p?endpoint=http://h:1&acl=public", "unknown query key 'acl'"),
        ("s3://bucket/p?region=a&region=b", "region must be given once"),
        ("s3://bucket/p?region=", "region must be given once"),
        ("s3://bucket/p?endpoint=127.0.0.1:9000", "endpoint must look like"),
        ("s3://bucket/p?endpoint=ftp://h:1", "endpoint must look like"),
        ("s3://bucket/p?endpoint=http://h:1/path", "endpoint must look like"),
        ("file://otherhost/dir", "file:///ABSOLUTE/DIR"),
    ],
)
def test_a_bad_url_raises_an_error_naming_archive_url(url: str, fragment: str) -> None:
    with pytest.raises(ArchiveError) as caught:
        ArchiveTarget.from_url(url, access_key="AKIDEXAMPLE", secret_key=SECRET)
    message = str(caught.value)
    assert message.startswith("archive_url: ")
    assert fragment in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "url",
    [
        f"s3://AKIDEXAMPLE:{SECRET}@bucket/prefix",
        f"s3://bucket/p?endpoint=http://AKIDEXAMPLE:{SECRET}@h:1",
    ],
)
def test_credentials_in_the_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ArchiveError) as caught:
        ArchiveTarget.from_url(url)
    assert str(caught.value).startswith("archive_url: ")
    assert SECRET not in str(caught.value)


def test_half_a_key_pair_is_refused() -> None:
    with pytest.raises(ArchiveError, match="archive_access_key and archive_secret_key") as caught:
        ArchiveTarget.from_url("s3://bucket/p", secret_key=SECRET)
    assert SECRET not in str(caught.value)


def test_days_is_empty_when_the_root_does_not_exist(tmp_path: Path) -> None:
    target = ArchiveTarget.from_url(str(tmp_path / "nothing-here"))
    assert target.days() == []
    assert not target.has_day(datetime.date(2026, 10, 1))


def test_days_lists_the_archived_days_in_order_and_ignores_stray_entries(tmp_path: Path) -> None:
    target = ArchiveTarget.from_url(str(tmp_path))
    for day in (datetime.date(2026, 10, 3), datetime.date(2026, 9, 30), datetime.date(2026, 10, 1)):
        with DayWriter(target, day):
            pass
    # A failed export's empty directory, a foreign file and a malformed name do not count.
    (tmp_path / "check_results" / "day=2026-10-02").mkdir()
    (tmp_path / "check_results" / "README").write_text("hands off")
    (tmp_path / "check_results" / "day=yesterday").mkdir()
    (tmp_path / "check_results" / "day=yesterday" / "results.parquet").write_bytes(b"")

    assert target.days() == [
        datetime.date(2026, 9, 30),
        datetime.date(2026, 10, 1),
        datetime.date(2026, 10, 3),
    ]
    assert target.has_day(datetime.date(2026, 10, 1))
    assert not target.has_day(datetime.date(2026, 10, 2))
