"""The runner API's cache of monitors' regions: an upload costs no query while nothing changed,
this process's config writes show at once (the evaluation's status writes drop nothing), a
region or monitor added anywhere is never refused, and other processes' removals show within
the TTL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from statpulse.model import Evaluation, MonitorConfig, Status, utcnow
from statpulse.store.sql import SqlStore, open_store
from statpulse.web.runner_regions import MonitorRegions


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def other(sqlite_store: SqlStore, tmp_path: Path) -> AsyncIterator[SqlStore]:
    """Another process's store on the same database."""
    store = await open_store(f"sqlite:///{tmp_path / 'statpulse.db'}", migrate=False)
    try:
        yield store
    finally:
        await store.close()


CONFIG = MonitorConfig(name="api", kind="http", target="http://x/", regions=("eu", "us"))


async def test_a_known_answer_costs_no_query_and_the_evaluation_drops_nothing(
    sqlite_store: SqlStore,
) -> None:
    store = sqlite_store
    org = await store.create_org("acme", "Acme")
    monitor = await store.create_monitor(org.id, CONFIG)
    regions = MonitorRegions(store)
    regions.watch()
    try:
        assert await regions.allowed({monitor.id}, "eu") == {monitor.id}
        assert await regions.allowed({monitor.id}, "us") == {monitor.id}
        assert regions.queries == 1

        async def decide(*_: object) -> Evaluation:
            return Evaluation([], {monitor.id: (Status.DOWN, utcnow())}, [])

        await store.evaluate_locked([monitor.id], decide)  # a status write
        assert await regions.allowed({monitor.id}, "eu") == {monitor.id}
        assert regions.queries == 1
        # This process's config write drops the cache: the removed region is refused at once.
        config = dataclasses.replace(CONFIG, regions=("us",))
        await store.update_monitor(org.id, monitor.id, config)
        assert await regions.allowed({monitor.id}, "eu") == set()
        assert regions.queries == 2
    finally:
        regions.close()


async def test_what_another_process_adds_is_never_refused_what_it_removes_shows_in_the_ttl(
    sqlite_store: SqlStore, other: SqlStore
) -> None:
    org = await other.create_org("acme", "Acme")
    clock = Clock()
    regions = MonitorRegions(sqlite_store, ttl_s=5, clock=clock)
    regions.watch()
    try:
        monitor = await other.create_monitor(org.id, dataclasses.replace(CONFIG, regions=("us",)))
        assert await regions.allowed({monitor.id}, "eu") == set()
        # Added elsewhere: a cached no is asked again.
        await other.update_monitor(org.id, monitor.id, CONFIG)
        assert await regions.allowed({monitor.id}, "eu") == {monitor.id}
        unknown = await other.create_monitor(org.id, CONFIG)
        assert await regions.allowed({monitor.id, unknown.id}, "eu") == {monitor.id, unknown.id}
        # Removed elsewhere: the cached yes holds until the TTL.
        await other.update_monitor(org.id, monitor.id, dataclasses.replace(CONFIG, regions=("us",)))
        assert await regions.allowed({monitor.id}, "eu") == {monitor.id}
        clock.now = 5.1
        assert await regions.allowed({monitor.id}, "eu") == set()
    finally:
        regions.close()
