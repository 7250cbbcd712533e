"""The runner API: remote runners pull assignments and push results over mutual TLS.

It listens on its own port (``runner_port``) with the server certificate of ``statpulse pki``
and accepts only TLS 1.3 clients presenting a runner certificate of that CA (``security/pki.py``).
A runner's region and identity come from its certificate, never from the request: a region in
the ``X-StatPulse-Region`` header that differs is refused, and results may only be for monitors
configured for that region. Revocations are checked on every request, so a revoked runner is
refused without a restart.

- ``GET /runner/v1/assignments``: the region's checks (specs, secrets included: mTLS only) with
  an ``ETag`` of their content; ``If-None-Match`` with the current one answers 304, so an
  unchanged set costs one small round trip.
- ``POST /runner/v1/results``: ``{"results": [...], "health": {...}}``. 200 means every accepted
  result is durably stored (the runner may drop them from its spool); the body says how many
  were new (``stored``: replays count 0) and how many were refused (unknown monitor, or not one
  of the region's), which the runner also drops. 400 names the first invalid field.
- Overload is a 503 with ``Retry-After`` (seconds, jittered), never a 500 after a long wait:
  at most ``admission.limit`` uploads do database work at once (``web/admission.py``, by
  default twice the store's pool, shared out between the ``--workers`` processes that all
  serve this port), the others wait ``admission.wait_s`` at most; a database
  that cannot be reached or a pool timeout is also a 503. Nothing of a 503 is acknowledged:
  the runner sends the same batch again (result ids make the replay idempotent). An upload
  with no results and no health report due does no database work and takes no slot.

aiohttp, not the ASGI app: the handler needs the peer certificate of the connection, which
uvicorn does not pass to ASGI applications.
"""

from __future__ import annotations

import hashlib
import json
import ssl
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy.exc
import structlog
from aiohttp import web

from statpulse import __version__
from statpulse.model import CheckResult, utcnow
from statpulse.security import pki
from statpulse.store.contract import HEARTBEAT_KIND
from statpulse.store.sql import SqlStore
from statpulse.store.sql_runners import RunnerHealth
from statpulse.web.admission import Admission, Overloaded
from statpulse.web.runner_regions import MonitorRegions
from statpulse.wire import WireError, result_from_dict, spec_to_dict

log = structlog.get_logger(__name__)

Accept = Callable[[Sequence[CheckResult]], Awaitable[int]]
REGION_HEADER = "X-StatPulse-Region"
MAX_BODY_BYTES = 64 * 2**20
HEALTH_EVERY_S = 2.0
KEEPALIVE_S = 120.0
"""Idle keep-alive connections live this long: longer than a runner's heartbeat (5 s), so a
runner keeps one TLS connection (a handshake costs ~1 ms of server CPU) instead of redoing it."""
BACKLOG = 4096
UNAVAILABLE = (
    sqlalchemy.exc.TimeoutError,  # the pool's: no connection within pool_timeout
    sqlalchemy.exc.OperationalError,  # server gone, refusing, too many clients; SQLite locked
    sqlalchemy.exc.InterfaceError,  # the connection broke under the driver
    OSError,
    TimeoutError,
)
"""Database errors that mean "not now": a 503 (the runner retries), not a 500."""
REGION = web.RequestKey("region", str)
RUNNER = web.RequestKey("runner", str)


class RunnerApi:
    def __init__(
        self,
        store: SqlStore,
        accept: Accept,
        pki_dir: Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        admission: Admission | None = None,
        workers: int = 1,
    ) -> None:
        """``admission``: default ``Admission.for_engine(store.engine, workers=workers)`` (2 x
        its pool, divided by the number of processes serving the runner port)."""
        self._store = store
        self.admission = admission or Admission.for_engine(store.engine, workers=workers)
        self._accept = accept
        self._pki_dir = pki_dir
        self._clock = clock
        self._revoked = pki.RevocationList(pki_dir)
        self.regions = MonitorRegions(store)
        self._health_saved: dict[tuple[str, str], datetime] = {}
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._identity])
        app.router.add_get("/runner/v1/assignments", self._assignments)
        app.router.add_post("/runner/v1/results", self._results)
        return app

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> None:
        """``reuse_port``: several worker processes listen on the same port (the kernel spreads
        the connections)."""
        context = pki.server_context(self._pki_dir)
        self.regions.watch()
        self._runner = web.AppRunner(self.app(), access_log=None, keepalive_timeout=KEEPALIVE_S)
        await self._runner.setup()
        self._site = web.TCPSite(
            self._runner, host, port, ssl_context=context, backlog=BACKLOG, reuse_port=reuse_port
        )
        await self._site.start()
        server = self._site._server  # the bound port, when port 0 was asked for
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info(
            "runner API listening",
            host=host,
            port=self.port,
            tls="1.3, client certs",
            admission=self.admission.limit,
        )

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.regions.close()

    # -- identity ------------------------------------------------------------------------------

    @web.middleware
    async def _identity(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = (
            ssl_object.getpeercert(binary_form=True)
            if isinstance(ssl_object, ssl.SSLObject)
            else None
        )
        if not der:
            return _error(403, "a runner certificate is required")
        try:
            region = pki.region_of(der)
            serial = pki.serial_of(der)
        except pki.PkiError as exc:
            return _error(403, str(exc))
        if self._revoked.is_revoked(serial):
            log.warning("revoked runner refused", region=region, serial=f"{serial:x}")
            return _error(403, "this runner certificate is revoked")
        claimed = request.headers.get(REGION_HEADER)
        if claimed is not None and claimed != region:
            return _error(
                403, f"region mismatch: the certificate is for {region!r}, not {claimed!r}"
            )
        request[REGION] = region
        request[RUNNER] = f"{serial:x}"
        return await handler(request)

    # -- handlers ------------------------------------------------------------------------------

    async def _assignments(self, request: web.Request) -> web.StreamResponse:
        region = request[REGION]
        try:
            monitors = await self._store.monitors_for_region(region)
        except UNAVAILABLE as exc:
            return self._unavailable(exc)
        specs = sorted(
            (spec_to_dict(m.spec()) for m in monitors if m.config.kind != HEARTBEAT_KIND),
            key=lambda s: s["monitor_id"],
        )
        body = json.dumps({"region": region, "specs": specs}, sort_keys=True).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=body,
            content_type="application/json",
            headers={"ETag": etag, "Cache-Control": "no-store"},
        )

    async def _results(self, request: web.Request) -> web.StreamResponse:
        region, runner = request[REGION], request[RUNNER]
        try:
            doc = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "body: not JSON")
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            return _error(400, "results: expected a list")
        try:
            health = _health(doc.get("health"), region, runner, self._clock())
        except WireError as exc:
            return _error(400, str(exc))
        health_due = health is not None and self._health_due(health)
        stored = accepted = refused = 0
        if doc["results"] or health_due:
            try:
                async with self.admission.slot():
                    # Validated inside the slot: a throttled upload costs the server no more
                    # than reading its body and json.loads (measured, 50 results: ~180 us
                    # json.loads, ~780 us result_from_dict).
                    results = [
                        result_from_dict(item, f"results[{i}]", region=region)
                        for i, item in enumerate(doc["results"])
                    ]
                    allowed = await self._allowed(region, results) if results else []
                    stored = await self._accept(allowed) if allowed else 0
                    accepted, refused = len(allowed), len(results) - len(allowed)
                    if health_due:
                        assert health is not None
                        await self._store.record_runner_health(health)
            except (Overloaded, *UNAVAILABLE, WireError) as exc:
                if health_due:  # not stored: the next report is due at once
                    self._health_saved.pop((region, runner), None)
                if isinstance(exc, WireError):
                    return _error(400, str(exc))
                if isinstance(exc, Overloaded):
                    return _retry_later(exc.retry_after_s, "overloaded: retry later")
                return self._unavailable(exc)
        if refused:
            log.warning("results refused", region=region, count=refused)
        return web.json_response(
            {
                "stored": stored,
                "accepted": accepted,
                "refused": refused,
                "server_time": self._clock().isoformat(),
                "engine_version": __version__,
            }
        )

    def _unavailable(self, exc: BaseException) -> web.Response:
        """A 503 for a database that is not answering in time (logged: it is not load
        shedding, something is wrong or too slow below us)."""
        log.warning("database unavailable: 503", error=repr(exc)[:300])
        return _retry_later(self.admission.retry_after(), "database unavailable: retry later")

    def _health_due(self, health: RunnerHealth) -> bool:
        """A runner's report is stored at most every HEALTH_EVERY_S (it comes with every
        upload; the region watch needs seconds, not every batch), and at once when the
        spool fills up."""
        key = (health.region, health.runner)
        last = self._health_saved.get(key)
        recent = last is not None and (health.last_seen_at - last).total_seconds() < HEALTH_EVERY_S
        if recent and not health.spool_full:
            return False
        self._health_saved[key] = health.last_seen_at
        return True

    async def _allowed(self, region: str, results: list[CheckResult]) -> list[CheckResult]:
        """The results of monitors that exist and are configured for ``region``."""
        ok = await self.regions.allowed({r.monitor_id for r in results}, region)
        return [r for r in results if r.monitor_id in ok]


def _health(doc: Any, region: str, runner: str, now: datetime) -> RunnerHealth | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise WireError("health: expected an object")

    def number(key: str) -> float | None:
        value = doc.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise WireError(f"health.{key}: expected a number")
        return float(value)

    version = doc.get("version", "")
    if not isinstance(version, str):
        raise WireError("health.version: expected a string")
    depth = doc.get("spool_depth", 0)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise WireError("health.spool_depth: expected a count")
    return RunnerHealth(
        region=region,
        runner=runner,
        version=version[:64],
        clock_offset_ms=number("clock_offset_ms"),
        spool_depth=depth,
        spool_full=bool(doc.get("spool_full", False)),
        lateness_p99_ms=number("lateness_p99_ms"),
        last_seen_at=now,
    )


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _retry_later(seconds: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=503, headers={"Retry-After": str(seconds)})
