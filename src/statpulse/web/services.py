"""The background services of one StatPulse process, owned by the app's lifespan.

Start order: store (migrated) -> bus -> evaluator -> embedded runner -> heartbeat sweeper ->
retention (partitions ahead, expiry, archive; ``engine/retention.py``) -> notification
dispatcher (the outbox, ``notify/dispatcher.py``). Stop
order is the reverse, so every result a runner produced is stored and evaluated before the store
closes. ``clock`` (default: the system's UTC clock) is shared by the evaluator and the heartbeats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import structlog
from sqlalchemy import make_url

from statpulse.bus.base import ResultBus
from statpulse.bus.live import Broadcaster
from statpulse.bus.memory import MemoryBus
from statpulse.engine.assignments import StoreAssignments
from statpulse.engine.evaluator import Evaluator, Rewrite
from statpulse.engine.heartbeats import Heartbeats
from statpulse.engine.incident_jobs import IncidentJobs
from statpulse.engine.ingest import Ingest
from statpulse.engine.narrative import Draft, Evidence
from statpulse.engine.narrative_llm import Rewriter, Rewritten
from statpulse.engine.periodic import Periodic
from statpulse.engine.region_watch import RegionWatch
from statpulse.engine.retention import RetentionJob, RetentionPolicy, archive_target
from statpulse.metrics import Metrics
from statpulse.model import utcnow
from statpulse.notify import NOTIFIERS, HttpSender
from statpulse.notify.dispatcher import Dispatcher
from statpulse.runner.agent import Runner
from statpulse.settings import Settings
from statpulse.store.configured import open_configured_store
from statpulse.store.contract import Store
from statpulse.tasks import cancel_and_wait
from statpulse.web.runner_api import RunnerApi

log = structlog.get_logger(__name__)


@dataclass
class Services:
    settings: Settings
    store: Store
    metrics: Metrics
    bus: ResultBus
    live: Broadcaster
    ingest: Ingest
    evaluator: Evaluator
    runner: Runner | None
    heartbeats: Heartbeats
    retention: RetentionJob
    http: HttpSender
    notifications: Periodic
    incident_jobs: IncidentJobs
    llm_session: aiohttp.ClientSession | None = None
    runner_api: RunnerApi | None = None
    region_watch: RegionWatch | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _evaluator_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings, *, clock: Callable[[], datetime] = utcnow) -> Services:
        store = await open_configured_store(settings)
        metrics = Metrics()
        bus, live = await _bus_and_live(settings)
        ingest = Ingest(store, bus, metrics)
        llm_session, rewrite = _rewriter(settings)
        evaluator = Evaluator(store, bus, live, metrics, clock=clock, rewrite=rewrite)
        heartbeats = Heartbeats(store, ingest.accept, clock)
        retention = RetentionJob(
            store,
            RetentionPolicy.from_settings(settings),
            archive_target(settings),
            settings.retention_interval_s,
            clock,
        )
        http = HttpSender(egress=settings.egress_policy())
        await http.__aenter__()
        dispatcher = Dispatcher(store, http, NOTIFIERS, clock=clock)
        # Every worker dispatches: claims are atomic, so they share the outbox without overlap.
        notifications = Periodic("notifications", settings.notify_poll_s, dispatcher.drain)
        runner = None
        if settings.embedded_runner and settings.worker_index == 0:
            runner = Runner(
                StoreAssignments(store, settings.region),
                ingest.accept,
                metrics,
                region=settings.region,
                max_concurrent=settings.max_concurrent_checks,
                per_host=settings.max_checks_per_host,
                batch_size=settings.result_batch_size,
                flush_interval_s=settings.result_flush_ms / 1000,
                egress=settings.egress_policy(),
            )
        services = cls(
            settings,
            store,
            metrics,
            bus,
            live,
            ingest,
            evaluator,
            runner,
            heartbeats,
            retention,
            http,
            notifications,
            IncidentJobs(store, clock=clock, announce=evaluator.announce),
            llm_session,
        )
        await notifications.start()
        services._evaluator_task = asyncio.create_task(evaluator.run(), name="evaluator")
        if runner is not None:
            await runner.start()
        if settings.worker_index == 0:  # once per installation, not per worker process
            await heartbeats.start()
            await retention.start()
            await services.incident_jobs.start()
        if settings.runner_port is not None and settings.pki_dir is not None:
            services.runner_api = RunnerApi(
                store, ingest.accept, settings.pki_dir, clock=clock, workers=settings.workers
            )
            await services.runner_api.start(
                settings.host, settings.runner_port, reuse_port=settings.workers > 1
            )
            services.region_watch = RegionWatch(store, metrics, clock=clock)
            await services.region_watch.start()
        log.info("services started", db=_redacted(settings.database_url), region=settings.region)
        return services

    def monitors_changed(self) -> None:
        """Tell the embedded runner that assignments changed (API writes call this)."""
        if self.runner is not None:
            self.runner.assignments_changed()

    async def stop(self) -> None:
        self.stopping.set()
        if self.region_watch is not None:
            await self.region_watch.stop()
        if self.runner_api is not None:  # no more uploads once the bus closes
            await self.runner_api.stop()
        await self.incident_jobs.stop()
        await self.notifications.stop()
        await self.retention.stop()
        await self.heartbeats.stop()
        if self.runner is not None:
            await self.runner.stop()
        await self.bus.close()
        if self._evaluator_task is not None:
            try:
                async with asyncio.timeout(10):
                    await asyncio.shield(self._evaluator_task)
            except TimeoutError:
                await cancel_and_wait(self._evaluator_task)
        stop_live = getattr(self.live, "stop", None)  # RedisBroadcaster
        if stop_live is not None:
            await stop_live()
        await self.evaluator.wait_rewrites()
        if self.llm_session is not None:
            await self.llm_session.close()
        await self.http.close()
        await self.store.close()


async def _bus_and_live(settings: Settings) -> tuple[ResultBus, Broadcaster]:
    """In-process by default; Redis Streams and pub/sub when ``redis_url`` is set, so several
    engine processes share evaluation and every page client sees every process's changes."""
    if settings.redis_url is None:
        return MemoryBus(), Broadcaster()
    from statpulse.bus.redis_live import RedisBroadcaster
    from statpulse.bus.redis_streams import RedisStreamBus

    ns = settings.redis_namespace
    bus = RedisStreamBus(settings.redis_url, stream=f"{ns}:results")
    await bus.start()
    live = RedisBroadcaster(settings.redis_url, channel=f"{ns}:live")
    await live.start()
    return bus, live


def _rewriter(settings: Settings) -> tuple[aiohttp.ClientSession | None, Rewrite | None]:
    """The model rewrite of draft texts, when ``narrative_llm_url`` is set."""
    if settings.narrative_llm_url is None:
        return None, None
    key = settings.narrative_llm_key
    rewriter = Rewriter(
        settings.narrative_llm_url,
        settings.narrative_llm_model,
        key.get_secret_value() if key is not None else None,
        timeout_s=settings.narrative_llm_timeout_s,
    )
    session = aiohttp.ClientSession()

    async def rewrite(draft: Draft, evidence: Evidence) -> Rewritten:
        return await rewriter.rewrite(draft, evidence, session)

    return session, rewrite


def _redacted(url: str) -> str:
    """The URL without its password, for logs."""
    return make_url(url).render_as_string(hide_password=True)
