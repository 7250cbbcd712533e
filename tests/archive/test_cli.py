"""``statpulse archive query``: formats, the archive from options or settings, clear errors."""

from __future__ import annotations

import csv
import datetime
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from statpulse.archive.cli import archive_app
from statpulse.archive.parquet import RESULT_SCHEMA, DayWriter
from statpulse.archive.target import ArchiveTarget
from tests.archive import MONITOR_A, MONITOR_B, at, failed_row, ordered, result_row

cli = typer.Typer()
cli.add_typer(archive_app, name="archive")
runner = CliRunner()
ROWS = [
    result_row(MONITOR_A, at(1, 23, 59)),
    failed_row(MONITOR_A, at(2, 0, 1)),
    result_row(MONITOR_A, at(2, 13)),
    result_row(MONITOR_B, at(2, 1)),
]


@pytest.fixture(autouse=True)
def no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STATPULSE_CONFIG", "STATPULSE_ARCHIVE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def archive(tmp_path: Path) -> str:
    target = ArchiveTarget.from_url(str(tmp_path / "archive"))
    for day in (datetime.date(2026, 10, 1), datetime.date(2026, 10, 2)):
        with DayWriter(target, day) as writer:
            writer.write(ordered([r for r in ROWS if r["started_at"].date() == day]))
    return target.root


def run(*args: str, columns: int = 80) -> Result:
    return runner.invoke(cli, ["archive", "query", *args], env={"COLUMNS": str(columns)})


def test_json_prints_one_object_per_line_for_the_half_open_range(archive: str) -> None:
    result = run(
        str(MONITOR_A),
        "--from",
        "2026-10-01T12:00",
        "--to",
        "2026-10-02T13:00",
        "--archive",
        archive,
        "--format",
        "json",
    )

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["started_at"] for r in lines] == [
        "2026-10-01T23:59:00+00:00",
        "2026-10-02T00:01:00+00:00",
    ]
    assert lines[1]["id"] == str(ROWS[1]["id"])
    assert lines[1]["conditions"] == ROWS[1]["conditions"]
    assert lines[1]["error_message"] == ROWS[1]["error_message"]
    assert "2 results" in result.stderr


def test_a_zone_in_the_dates_is_honoured(archive: str) -> None:
    result = run(
        str(MONITOR_A),
        "--from",
        "2026-10-02T02:00+02:00",
        "--to",
        "2026-10-03",
        "--archive",
        archive,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_csv_prints_a_header_and_the_rows(archive: str) -> None:
    result = run(
        str(MONITOR_A),
        "--from",
        "2026-10-02",
        "--to",
        "2026-10-03",
        "--archive",
        archive,
        "--format",
        "csv",
    )

    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == RESULT_SCHEMA.names
    assert [r["started_at"] for r in rows] == [
        "2026-10-02T00:01:00+00:00",
        "2026-10-02T13:00:00+00:00",
    ]
    assert rows[0]["error_message"] == ROWS[1]["error_message"]
    assert json.loads(rows[0]["conditions"]) == ROWS[1]["conditions"]
    assert rows[0]["status_code"] == ""
    assert rows[1]["ok"] == "True"


def test_the_table_shows_the_main_columns_and_a_count(archive: str) -> None:
    result = run(
        str(MONITOR_A),
        "--from",
        "2026-10-01",
        "--to",
        "2026-10-03",
        "--archive",
        archive,
        columns=200,
    )

    assert result.exit_code == 0, result.output
    assert "2026-10-02 00:01:00.000" in result.stdout
    assert "ap-südost" in result.stdout
    assert "assertion Dienst nicht verfügbar" in result.stdout
    assert result.stdout.rstrip().endswith("3 results")


def test_no_results_exits_zero_and_says_so_on_stderr(archive: str) -> None:
    result = run(str(MONITOR_B), "--from", "2026-10-05", "--to", "2026-10-06", "--archive", archive)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "0 results" in result.stderr


def test_the_archive_comes_from_the_settings_file(archive: str, tmp_path: Path) -> None:
    config = tmp_path / "statpulse.toml"
    config.write_text(f'archive_url = "{archive}"\n')
    result = run(
        str(MONITOR_B),
        "--from",
        "2026-10-02",
        "--to",
        "2026-10-03",
        "--config",
        str(config),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["monitor_id"] == str(MONITOR_B)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((str(MONITOR_A), "--from", "2026-10-01", "--to", "2026-10-02"), "no archive configured"),
        (
            ("not-a-uuid", "--from", "2026-10-01", "--to", "2026-10-02", "--archive", "/x"),
            "MONITOR_ID: not a UUID",
        ),
        (
            (str(MONITOR_A), "--from", "yesterday", "--to", "2026-10-02", "--archive", "/x"),
            "--from: not an ISO date",
        ),
        (
            (str(MONITOR_A), "--from", "2026-10-01", "--to", "2026-13-02", "--archive", "/x"),
            "--to: not an ISO date",
        ),
        (
            (str(MONITOR_A), "--from", "2026-10-02", "--to", "2026-10-01", "--archive", "/x"),
            "--to must be later than --from",
        ),
        (
            (
                str(MONITOR_A),
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-02",
                "--archive",
                "ftp://h/x",
            ),
            "--archive: archive_url: unsupported scheme",
        ),
        (
            (
                str(MONITOR_A),
                "--from",
                "2026-10-01",
                "--to",
                "2026-10-02",
                "--config",
                "/no/such.toml",
            ),
            "settings file not found",
        ),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_code_2(
    args: tuple[str, ...], message: str
) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""
