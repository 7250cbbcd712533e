"""Retention: keep raw results N days (then archive and drop them), rollups by resolution.

One run (``run_retention``), at a time ``now``:

1. PostgreSQL with daily partitions: the partitions of today and the next
   ``partitions_ahead_days`` days exist (ingest also creates a missing one on demand).
2. Every UTC day wholly older than ``now - raw_days`` is, one at a time, exported to the
   archive as Parquet (when an archive is configured), then removed from the database with a
   check that exactly the exported rows go (``store.expire_day``). A crash between the two
   steps leaves the day in the database; the next run exports it again and overwrites the file.
3. Rollup rows older than their table's retention are deleted; day rollups are kept forever
   unless ``day_days`` is set.

Results that arrive for a day already expired are refused by ingest (logged): they could never
be archived. Stats over ranges reaching past a retention horizon simply find no finer rows
there (e.g. a 90-day range's first partial hour is missing once minute rollups are gone).

``RetentionJob`` runs this every ``interval_s`` in ``statpulse serve``; ``statpulse retention``
runs it once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog

from statpulse.archive.parquet import ArchivedDay, DayWriter
from statpulse.archive.target import ArchiveTarget
from statpulse.engine.periodic import Periodic
from statpulse.model import utcnow
from statpulse.settings import Settings
from statpulse.store.sql_retention import RetentionMixin

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    raw_days: int = 30
    minute_days: int = 30
    hour_days: int = 365
    day_days: int | None = None
    partitions_ahead_days: int = 7

    def __post_init__(self) -> None:
        # Expiring a raw day reads which monitors have results from its day rollups.
        if self.day_days is not None and self.day_days < self.raw_days:
            raise ValueError("retention_day_days: must be at least retention_raw_days")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            raw_days=settings.retention_raw_days,
            minute_days=settings.retention_minute_days,
            hour_days=settings.retention_hour_days,
            day_days=settings.retention_day_days,
            partitions_ahead_days=settings.partitions_ahead_days,
        )

    def raw_before(self, now: datetime) -> date:
        """Days before this one are expired: each holds only results older than raw_days."""
        return (now - timedelta(days=self.raw_days)).date()

    def rollup_cutoffs(self, now: datetime) -> dict[str, datetime]:
        cutoffs = {
            "rollups_minute": now - timedelta(days=self.minute_days),
            "rollups_hour": now - timedelta(days=self.hour_days),
        }
        if self.day_days is not None:
            cutoffs["rollups_day"] = now - timedelta(days=self.day_days)
        return cutoffs


@dataclass
class RetentionReport:
    partitions_created: list[date] = field(default_factory=list)
    expired: list[tuple[date, int, str | None]] = field(default_factory=list)
    """(day, rows, archive path or None) per expired day."""
    rollups_deleted: dict[str, int] = field(default_factory=dict)


def archive_target(settings: Settings) -> ArchiveTarget | None:
    """The configured archive, or None (expired raw results are then not kept anywhere)."""
    if settings.archive_url is None:
        return None
    secret = settings.archive_secret_key
    return ArchiveTarget.from_url(
        settings.archive_url,
        access_key=settings.archive_access_key,
        secret_key=secret.get_secret_value() if secret is not None else None,
    )


async def run_retention(
    store: RetentionMixin,
    policy: RetentionPolicy,
    archive: ArchiveTarget | None,
    now: datetime,
) -> RetentionReport:
    report = RetentionReport()
    today = now.date()
    report.partitions_created = await store.ensure_partitions(
        [today + timedelta(days=n) for n in range(policy.partitions_ahead_days + 1)]
    )
    for day in await store.days_to_expire(policy.raw_before(now)):
        if archive is None:
            removed = await store.expire_day(day, None, now=now)
            path = None
        else:
            archived = await _export(store, day, archive)
            path = archived.path
            removed = await store.expire_day(day, archived.rows, path, archived.bytes, now=now)
        if removed is not None:
            report.expired.append((day, removed, path))
            log.info("raw results expired", day=day.isoformat(), rows=removed, archive=path)
    report.rollups_deleted = await store.expire_rollups(policy.rollup_cutoffs(now))
    return report


async def _export(store: RetentionMixin, day: date, archive: ArchiveTarget) -> ArchivedDay:
    """Write the day's rows to the archive (Parquet writes run in a worker thread)."""
    writer = DayWriter(archive, day)
    await asyncio.to_thread(writer.__enter__)
    try:
        async for chunk in store.day_rows(day):
            await asyncio.to_thread(writer.write, chunk)
    except BaseException as exc:
        await asyncio.to_thread(writer.__exit__, type(exc), exc, exc.__traceback__)
        raise
    await asyncio.to_thread(writer.__exit__, None, None, None)
    if writer.archived is None:
        raise RuntimeError(f"archive of {day} was not written")
    return writer.archived


class RetentionJob:
    """Runs retention every ``interval_s`` seconds (first run at start), until stopped."""

    def __init__(
        self,
        store: RetentionMixin,
        policy: RetentionPolicy,
        archive: ArchiveTarget | None,
        interval_s: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._policy = policy
        self._archive = archive
        self._clock = clock
        self.last_report: RetentionReport | None = None
        # A failed run is logged and retried next interval: nothing is removed unless exported.
        self._periodic = Periodic("retention", interval_s, self.run_once)

    async def run_once(self) -> RetentionReport:
        self.last_report = await run_retention(
            self._store, self._policy, self._archive, self._clock()
        )
        return self.last_report

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
