"""Tests of the Parquet archive; the shared row factory lives here (this package's helpers)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from statpulse.archive.parquet import DayWriter

UTC = datetime.UTC
MONITOR_A = uuid.UUID("0190a000-0000-7000-8000-00000000000a")
MONITOR_B = uuid.UUID("0190b000-0000-7000-8000-00000000000b")
_next_id = [0]


def at(
    day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime.datetime:
    """An aware UTC datetime in October 2026."""
    return datetime.datetime(2026, 10, day, hour, minute, second, micro, tzinfo=UTC)


def result_row(
    monitor_id: uuid.UUID, started_at: datetime.datetime, **overrides: Any
) -> dict[str, Any]:
    """A ``check_results`` row as ``select(check_results)`` returns it: a successful check."""
    _next_id[0] += 1
    row: dict[str, Any] = {
        "id": uuid.UUID(int=(0x0190 << 112) | _next_id[0]),
        "monitor_id": monitor_id,
        "region": "eu-west",
        "scheduled_at": started_at - datetime.timedelta(milliseconds=3),
        "started_at": started_at,
        "latency_ms": 120.5,
        "dns_ms": 1.25,
        "connect_ms": 10.0,
        "tls_ms": 20.75,
        "first_byte_ms": 100.0,
        "status_code": 200,
        "ok": True,
        "degraded": False,
        "error_class": None,
        "error_message": None,
        "conditions": None,
        "attempts": 1,
    }
    row.update(overrides)
    return row


def failed_row(monitor_id: uuid.UUID, started_at: datetime.datetime) -> dict[str, Any]:
    """A failed check: nulls in every nullable column but the error ones, non-ASCII text."""
    return result_row(
        monitor_id,
        started_at,
        region="ap-südost",
        latency_ms=None,
        dns_ms=None,
        connect_ms=None,
        tls_ms=None,
        first_byte_ms=None,
        status_code=None,
        ok=False,
        degraded=True,
        error_class="assertion",
        error_message='Dienst nicht verfügbar — 服务不可用 ☃ "quoted", comma',
        conditions=[
            {"condition": "[STATUS] == 200", "success": False, "description": "got 503 ü"},
            {"condition": "[BODY].ok == true", "success": False, "description": None},
        ],
        attempts=3,
    )


def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the order the retention job hands them over: (monitor_id, started_at)."""
    return sorted(rows, key=lambda r: (str(r["monitor_id"]), r["started_at"]))


def by_time(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows in the order ``query`` returns them: (started_at, id)."""
    return sorted(rows, key=lambda r: (r["started_at"], str(r["id"])))


class Boom(Exception):
    """The failure raised inside a DayWriter block."""


def write_then_fail(
    writer: DayWriter, rows: list[dict[str, Any]], exc: BaseException | None = None
) -> None:
    """Write ``rows`` in ``writer``'s block, then fail as the retention job might."""
    with writer:
        writer.write(rows)
        raise exc or Boom("the database went away")
