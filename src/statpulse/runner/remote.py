"""A remote runner: checks its region's monitors, spools every result, uploads over mTLS.

    statpulse runner --region eu-central-1 --engine https://engine:8443 \\
        --cert runner-eu-central-1.crt --key runner-eu-central-1.key --ca ca.crt --spool DIR

- Assignments come from ``GET /runner/v1/assignments`` (``If-None-Match``: an unchanged set is
  a 304). When the engine is unreachable the runner keeps checking with the last set; across a
  restart without the engine it uses the copy in ``DIR/assignments.json``. That copy holds no
  secret: specs with header values, a body, a client key or gRPC metadata are kept in memory
  only, so after a restart they wait for the engine (logged).
- Every result is appended to the spool (``runner/spool.py``, fsynced) before anything else,
  uploaded in batches by ``SpoolUploader``, and dropped only once the engine acknowledged it.
  A full spool logs an error and reports ``spool_full`` in the runner's health; results then
  wait in memory (retried), none is dropped.
- An engine that answers 503 or 429 with ``Retry-After`` is shedding load: the uploader waits
  that long (capped at ``max_retry_after_s``, jittered) and sends the same batch again. That is
  not an error (logged at debug level, counted in ``SpoolUploader.throttled``); nothing is
  dropped and the result ids make a replay idempotent.
- Each upload carries the runner's health: version, clock offset (measured NTP-style from the
  engine's ``server_time``), spool depth and scheduling lateness (p99 since the last upload).
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import random
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from statpulse import __version__
from statpulse.metrics import Metrics
from statpulse.model import CheckResult, CheckSpec
from statpulse.runner.agent import Runner
from statpulse.runner.spool import Spool, SpoolFull
from statpulse.security.egress import EgressPolicy
from statpulse.wire import WireError, result_to_dict, spec_from_dict, spec_to_dict

log = structlog.get_logger(__name__)

REGION_HEADER = "X-StatPulse-Region"
CACHE_FILE = "assignments.json"
HEARTBEAT_S = 5.0
"""A runner with nothing to upload still reports its health this often (the engine calls a
region unhealthy after three missed reports)."""
THROTTLE_STATUSES = (429, 503)
KEEPALIVE_S = 100.0
"""An idle connection to the engine is kept this long: longer than the longest throttled wait
(``SpoolUploader``: 60 s x 1.5) and the assignment poll (15 s), shorter than the engine's 120 s
(``web/runner_api.py``), so that the runner never reuses a connection the engine is closing.
A runner so keeps one TLS connection (a handshake costs the engine ~1.5 ms of OpenSSL alone)
instead of reconnecting after every wait longer than aiohttp's default of 15 s: under overload,
when the engine tells thousands of runners to come back in 5-60 s, that is what matters."""


class EngineError(Exception):
    """The engine answered with an error status (``status``) or could not be reached.

    ``retry_after_s``: the engine's ``Retry-After`` (seconds) when it sent one."""

    def __init__(
        self, message: str, status: int | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def throttled(self) -> bool:
        """The engine is shedding load and said when to come back (not a failure)."""
        return self.status in THROTTLE_STATUSES and self.retry_after_s is not None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP-date (RFC 9110
    section 10.2.3); None when absent or unreadable. ``now``: epoch seconds (default: now)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class EngineClient:
    """HTTP/1.1 over mutual TLS to the engine's runner API."""

    def __init__(self, base_url: str, region: str, context: ssl.SSLContext, timeout_s: float = 30):
        self._base = base_url.rstrip("/")
        self._region = region
        self._context = context
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                ssl=self._context, limit=4, keepalive_timeout=KEEPALIVE_S
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                headers={
                    REGION_HEADER: self._region,
                    "User-Agent": f"statpulse-runner/{__version__}",
                },
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def assignments(self, etag: str | None) -> tuple[list[CheckSpec] | None, str | None]:
        """(specs, etag); specs is None when the set did not change (304)."""
        headers = {"If-None-Match": etag} if etag else {}
        try:
            async with self._http().get(
                f"{self._base}/runner/v1/assignments", headers=headers
            ) as resp:
                if resp.status == 304:
                    return None, etag
                body = await resp.read()
                if resp.status != 200:
                    raise EngineError(_message(body, resp.status), resp.status)
                doc = json.loads(body)
                specs = [spec_from_dict(s, f"specs[{i}]") for i, s in enumerate(doc["specs"])]
                return specs, resp.headers.get("ETag")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise EngineError(f"engine unreachable: {exc!r}") from exc

    async def upload(
        self, results: Sequence[CheckResult], health: dict[str, Any]
    ) -> tuple[dict[str, Any], float, float]:
        """The engine's answer and the local send/receive times (for the clock offset)."""
        payload = json.dumps(
            {"results": [result_to_dict(r) for r in results], "health": health},
            separators=(",", ":"),
        ).encode()
        sent = time.time()
        try:
            async with self._http().post(
                f"{self._base}/runner/v1/results",
                data=payload,
                headers={"Content-Type": "application/json"},
            ) as resp:
                body = await resp.read()
                received = time.time()
                if resp.status != 200:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    raise EngineError(_message(body, resp.status), resp.status, retry_after)
                return json.loads(body), sent, received
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise EngineError(f"engine unreachable: {exc!r}") from exc


def _message(body: bytes, status: int) -> str:
    try:
        return f"HTTP {status}: {json.loads(body)['error']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {status}"


def has_secrets(spec: CheckSpec) -> bool:
    """Whether a spec holds something that must never be written to disk."""
    return bool(spec.http.headers or spec.http.body or spec.http.client_key or spec.grpc.metadata)


class RemoteAssignments:
    """The runner's ``AssignmentSource``: the engine, else the last set (memory, then disk)."""

    def __init__(self, client: EngineClient, cache_dir: Path) -> None:
        self._client = client
        self._cache = cache_dir / CACHE_FILE
        self._etag: str | None = None
        self._specs: list[CheckSpec] | None = None
        self.reachable = False

    async def fetch(self) -> Sequence[CheckSpec]:
        try:
            specs, etag = await self._client.assignments(self._etag if self._specs else None)
        except EngineError as exc:
            self.reachable = False
            if self._specs is None:
                self._specs = self._load_cache()
                log.warning(
                    "engine unreachable: checking with the saved assignments",
                    error=str(exc),
                    monitors=len(self._specs),
                )
            return self._specs
        self.reachable = True
        if specs is not None:
            self._specs, self._etag = specs, etag
            await asyncio.to_thread(self._save_cache, specs)
        assert self._specs is not None
        return self._specs

    def _save_cache(self, specs: list[CheckSpec]) -> None:
        kept = [spec_to_dict(s) for s in specs if not has_secrets(s)]
        tmp = self._cache.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"specs": kept, "withheld": len(specs) - len(kept)}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._cache)

    def _load_cache(self) -> list[CheckSpec]:
        try:
            doc = json.loads(self._cache.read_text(encoding="utf-8"))
            specs = [spec_from_dict(s, f"specs[{i}]") for i, s in enumerate(doc["specs"])]
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, WireError) as exc:
            log.error("saved assignments unreadable; none used", error=str(exc))
            return []
        if doc.get("withheld"):
            log.warning("monitors with secrets wait for the engine", count=doc["withheld"])
        return specs


@dataclass
class HealthState:
    clock_offset_ms: float | None = None
    lateness_counts: tuple[float, ...] = ()


class SpoolUploader:
    """Uploads spooled results oldest first; acknowledges them in the spool once stored."""

    def __init__(
        self,
        spool: Spool,
        client: EngineClient,
        metrics: Metrics,
        *,
        batch_size: int = 500,
        idle_s: float = 0.2,
        max_backoff_s: float = 10.0,
        max_retry_after_s: float = 60.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        """``max_retry_after_s`` caps the engine's ``Retry-After``; ``jitter`` (0..1, injected
        for tests) spreads the wait over 1x..1.5x of it, so throttled runners do not all come
        back on the same tick."""
        self._spool = spool
        self._client = client
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_s = idle_s
        self._max_backoff_s = max_backoff_s
        self._max_retry_after_s = max_retry_after_s
        self._jitter = jitter
        self._health = HealthState()
        self._wake = asyncio.Event()
        self._last_upload = -HEARTBEAT_S
        self.uploaded = 0
        self.throttled = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                sent = await self.upload_once()
            except EngineError as exc:
                if exc.throttled:
                    await self._wait_retry_after(exc)
                    continue  # the same batch: nothing was acknowledged
                self._metrics.upload_errors.inc()
                if exc.status is not None and 400 <= exc.status < 500 and exc.status != 429:
                    raise  # refused: a wrong certificate or region is not fixed by retrying
                log.warning("upload failed; will retry", error=str(exc), backoff_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff_s)
                continue
            backoff = 0.2
            if not sent:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._idle_s):
                        await self._wake.wait()
                self._wake.clear()

    async def _wait_retry_after(self, exc: EngineError) -> None:
        assert exc.retry_after_s is not None
        self.throttled += 1
        wait = max(0.1, min(exc.retry_after_s, self._max_retry_after_s)) * (
            1 + 0.5 * self._jitter()
        )
        log.debug("engine busy; retrying the batch later", status=exc.status, wait_s=wait)
        await asyncio.sleep(wait)

    async def upload_once(self) -> int:
        """Upload one batch; the number of results acknowledged (0: the spool was empty).

        An empty spool is reported (a health-only upload) every ``HEARTBEAT_S`` at most."""
        pending = await asyncio.to_thread(self._spool.pending, self._batch_size)
        if not pending and time.monotonic() - self._last_upload < HEARTBEAT_S:
            return 0
        stats = await asyncio.to_thread(self._spool.stats)
        health = {
            "version": __version__,
            "clock_offset_ms": self._health.clock_offset_ms,
            "spool_depth": stats.records,
            "spool_full": stats.full,
            "lateness_p99_ms": self._lateness_p99_ms(),
        }
        answer, sent, received = await self._client.upload([r for _, r in pending], health)
        with contextlib.suppress(KeyError, ValueError, TypeError):
            server = datetime.fromisoformat(answer["server_time"]).timestamp()
            self._health.clock_offset_ms = round((server - (sent + received) / 2) * 1000, 3)
        self._last_upload = time.monotonic()
        if pending:
            await asyncio.to_thread(self._spool.ack, pending[-1][0])
            self.uploaded += len(pending)
        return len(pending)

    def _lateness_p99_ms(self) -> float | None:
        """p99 of scheduling lateness since the last report, from the histogram's buckets (the
        upper bound of the bucket holding the 99th percentile)."""
        bounds: list[float] = []
        counts: list[float] = []
        for metric in self._metrics.lateness.collect():
            for sample in metric.samples:
                if sample.name.endswith("_bucket"):
                    bounds.append(float(sample.labels["le"]))
                    counts.append(sample.value)
        previous = self._health.lateness_counts or tuple(0.0 for _ in counts)
        self._health.lateness_counts = tuple(counts)
        delta = [c - p for c, p in zip(counts, previous, strict=False)]
        if not delta or delta[-1] <= 0:
            return None
        target = delta[-1] * 0.99
        for bound, cumulative in zip(bounds, delta, strict=False):
            if cumulative >= target:
                return None if bound == float("inf") else bound * 1000
        return None


class RemoteRunner:
    """A runner process: scheduler + probes (``Runner``), spool, uploader."""

    def __init__(
        self,
        *,
        region: str,
        engine_url: str,
        context: ssl.SSLContext,
        spool_dir: Path,
        metrics: Metrics | None = None,
        max_concurrent: int = 500,
        egress: EgressPolicy | None = None,
        refresh_interval_s: float = 15.0,
    ) -> None:
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = metrics or Metrics()
        self.spool = Spool(spool_dir)
        self.client = EngineClient(engine_url, region, context)
        self.assignments = RemoteAssignments(self.client, spool_dir)
        self.uploader = SpoolUploader(self.spool, self.client, self.metrics)
        self.runner = Runner(
            self.assignments,
            self._append,
            self.metrics,
            region=region,
            max_concurrent=max_concurrent,
            refresh_interval_s=refresh_interval_s,
            egress=egress,
            flush_interval_s=0.05,
        )
        self._task: asyncio.Task[None] | None = None
        self._full_logged = False

    async def _append(self, batch: Sequence[CheckResult]) -> None:
        try:
            await asyncio.to_thread(self.spool.append, batch)
        except SpoolFull:
            if not self._full_logged:
                self._full_logged = True
                log.error("spool full: results wait in memory until uploads free space")
            raise
        self._full_logged = False
        self.uploader.wake()

    async def start(self) -> None:
        self._task = asyncio.create_task(self.uploader.run(), name="spool-uploader")
        await self.runner.start()

    async def wait(self) -> None:
        """Until the uploader stops for good (a refusal by the engine): re-raises its error."""
        assert self._task is not None
        await self._task

    async def stop(self) -> None:
        await self.runner.stop()  # flushes buffered results into the spool
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, EngineError):
                await self._task
        await self.client.close()
        self.spool.close()
