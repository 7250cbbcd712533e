"""``statpulse archive``: read the Parquet archive of expired raw results."""

from __future__ import annotations

import csv
import datetime
import json
import sys
import uuid
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import pyarrow as pa
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from statpulse.archive.parquet import RESULT_SCHEMA
from statpulse.archive.query import query
from statpulse.archive.target import ArchiveError, ArchiveTarget
from statpulse.settings import load_settings

archive_app = typer.Typer(help="The Parquet archive of expired raw results.", no_args_is_help=True)

console = Console(stderr=True)


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def _fail(message: str, code: int = 2) -> NoReturn:
    # soft_wrap: one line however narrow the terminal; escape: values may contain "[...]".
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _when(option: str, value: str) -> datetime.datetime:
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: not an ISO date or date-time: {value!r}")
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=datetime.UTC)
    return parsed.astimezone(datetime.UTC)


def _target(archive: str | None, config: Path | None) -> ArchiveTarget:
    try:
        settings = load_settings(config)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        err = exc.errors()[0]
        _fail(f"invalid setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
    url = archive or settings.archive_url
    if not url:
        _fail("no archive configured: pass --archive or set archive_url")
    secret = settings.archive_secret_key
    try:
        return ArchiveTarget.from_url(
            url,
            access_key=settings.archive_access_key,
            secret_key=secret.get_secret_value() if secret is not None else None,
        )
    except ArchiveError as exc:
        _fail(str(exc) if archive is None else f"--archive: {exc}")


@archive_app.command("query")
def query_command(
    monitor_id: Annotated[str, typer.Argument(help="The monitor's id (a UUID).")],
    from_: Annotated[
        str, typer.Option("--from", help="Start (ISO date or date-time; UTC unless zoned).")
    ],
    to: Annotated[str, typer.Option("--to", help="End, exclusive (ISO date or date-time).")],
    archive: Annotated[
        str | None, typer.Option("--archive", help="Archive URL [default: archive_url].")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="STATPULSE_CONFIG", help="TOML settings file."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", help="Output format.")] = (
        OutputFormat.TABLE
    ),
) -> None:
    """Print one monitor's archived results with --from <= started_at < --to."""
    try:
        monitor = uuid.UUID(monitor_id)
    except ValueError:
        _fail(f"MONITOR_ID: not a UUID: {monitor_id!r}")
    start, end = _when("--from", from_), _when("--to", to)
    if end <= start:
        _fail("--to must be later than --from")
    target = _target(archive, config)
    try:
        rows = query(target, monitor, start, end)
    except (OSError, pa.ArrowException) as exc:  # unreachable S3, a damaged file
        _fail(f"reading {target.display}: {exc}", code=1)
    if not rows:
        console.print("0 results")
        return
    if output is OutputFormat.JSON:
        for row in rows:
            sys.stdout.write(json.dumps(_jsonable(row), ensure_ascii=False) + "\n")
        console.print(f"{len(rows)} results")
    elif output is OutputFormat.CSV:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(RESULT_SCHEMA.names)
        writer.writerows(_csv_row(row) for row in rows)
        console.print(f"{len(rows)} results")
    else:
        out = Console(highlight=False)
        out.print(_table(rows))
        out.print(f"{len(rows)} results")


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: _text(v) if isinstance(v, uuid.UUID | datetime.datetime) else v for k, v in row.items()
    }


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime.datetime) else str(value)


def _csv_row(row: dict[str, Any]) -> list[Any]:
    cells: list[Any] = []
    for name in RESULT_SCHEMA.names:
        value = row[name]
        if name == "conditions" and value is not None:
            value = json.dumps(value, ensure_ascii=False)
        elif isinstance(value, uuid.UUID | datetime.datetime):
            value = _text(value)
        cells.append("" if value is None else value)
    return cells


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table()
    table.add_column("started_at (UTC)", no_wrap=True)
    table.add_column("region", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("status", justify="right", no_wrap=True)
    table.add_column("latency ms", justify="right", no_wrap=True)
    table.add_column("error", overflow="fold")  # the one column that gives way on narrow screens
    for row in rows:
        result = "ok" if row["ok"] else "down"
        if row["ok"] and row["degraded"]:
            result = "degraded"
        latency = row["latency_ms"]
        error = " ".join(x for x in (row["error_class"], row["error_message"]) if x)
        table.add_row(
            row["started_at"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            row["region"],
            result,
            "" if row["status_code"] is None else str(row["status_code"]),
            "" if latency is None else f"{latency:.1f}",
            error,
            style=None if row["ok"] else "red",
        )
    return table
