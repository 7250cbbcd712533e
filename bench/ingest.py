"""Result ingest over the real mutual-TLS runner API, into PostgreSQL through PgBouncer and
into SQLite.

    python bench/ingest.py [--quick] [--connections C] [--duration S] [--batch B] [--think S]
                           [--wave W] [--handshakes H] [--ramp S] [--monitors N] [--regions R]
                           [--pool-size P] [--server-processes N] [--client-processes K]
                           [--databases postgresql,sqlite] [--pg postgresql://...]

Set-up, per database: a private PKI in a temporary directory (``security.pki.init_pki``, one
runner certificate per region with ``issue_runner``); N monitors configured for R regions in a
throwaway PostgreSQL database created next to ``--pg`` (migrated, dropped at the end) or a
temporary SQLite file. On PostgreSQL a real PgBouncer 1.18 (tests/pgbouncer.py: transaction
pooling, ``default_pool_size`` P) sits in front of it and the engine's store is opened through
it with ``pgbouncer=True``, as production does behind PgBouncer.

The server under test is the real ``web.runner_api.RunnerApi`` (TLS 1.3, client certificates,
region from the certificate, monitors checked per request, runner health upserted) in N
processes on uvloop (``--server-processes``, default 2; on SQLite ``--sqlite-server-processes``,
default 1: one writer at a time, more processes only contend for the file lock; this script with
``--server``), bound to one port with ``SO_REUSEPORT`` as ``statpulse serve --workers N`` does,
each with its own store (pool) and its share of the admission limit (``RunnerApi(workers=N)``),
with ``accept = Ingest(store, MemoryBus(), Metrics()).accept`` (the production ingest:
``store.add_results`` then publish) and a task that drains the bus and drops the batches
(evaluation is not measured). This process only coordinates, samples PostgreSQL and PgBouncer,
and reports.

The load comes from K other processes (``--client-processes``, default 2; this script with
``--client``) sharing out C simulated runners (runner i in process i mod K, and ``--wave`` and
``--handshakes`` divided between them), each runner its own aiohttp session and TLS connection
with the certificate of its region (runner i is region i mod R), each POSTing
``/runner/v1/results`` batches of B fresh results (random monitors of its region) plus a health
report, as ``runner.remote.EngineClient`` does, waiting for the answer, then ``--think`` seconds
(jittered +-50 %), again. A 503 or 429 with ``Retry-After`` is the server shedding load: the
runner waits that long (jittered 1-1.5x, capped at 60 s) and sends the same batch again, as
``SpoolUploader`` does; those answers count as ``throttled``, not as connection errors.
Connections open in waves of ``--wave`` (each runner's first request is an empty upload, which
does no database work); a wave's runners are started at a steady pace over half its time budget
(``--ramp`` / number of waves); the next wave starts once 95 % of the previous one has its TLS
handshake done, or when that budget is spent, whichever comes first. Whatever the waves do, at
most ``--handshakes`` first requests (TCP connect, TLS handshake, empty upload) are in progress
at once, so the server's accept queue holds at most that many of our connections and cannot
overflow however busy the server is. The measured window (``--duration``) starts when the last
wave of every client process is done, or after ``--ramp`` seconds at most (the runners not
started by then start at once, still through the ``--handshakes`` bound); this process opens it
in all of them at once.

Figures over the window: results/s stored (rows the server's ingest reported new), ack latency
p50/p99 (request sent -> 200 received, answers received in the window; ``batch_ack_*``: first
send of a batch -> its 200, throttled waits included), throttled answers (503/429 with
Retry-After), connection errors (TLS handshake failures, resets, timeouts, other non-200),
PostgreSQL server connections used (sampled every 0.25 s: ``pg_stat_activity`` of the bench
database and PgBouncer's ``SHOW POOLS``), CPU of the server processes, of the client processes
(in all and each) and of the rest of the machine (PostgreSQL, PgBouncer), the servers' and the
clients' CPU per connection up during the ramp (TLS handshakes, first uploads and the uploads of
the runners already up) and the servers' wall time in their three database calls per request.
The last line printed is one JSON object. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import platform
import pstats
import random
import resource
import secrets
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchlib import asyncpg_dsn, pct, pg_admin

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.pgbouncer
    sys.path.insert(0, str(REPO))

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
REGIONS = ("eu-west", "us-east", "ap-south", "sa-east", "af-south")
REGION_HEADER = "X-StatPulse-Region"
SCRIPT = Path(__file__).resolve()
SERVER_STATES = ("sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login")


def raise_nofile(wanted: int) -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE towards ``wanted`` (at most the hard limit); (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def listen_overflows() -> int:
    """The kernel's TcpExt ListenOverflows (connections dropped: accept queue full)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=True))
            return int(table.get("ListenOverflows", 0))
    return 0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine_busy() -> tuple[float, float, float]:
    """(busy, steal, softirq) seconds of all CPUs from /proc/stat: busy is user + nice +
    system + irq + softirq (not idle, iowait, nor steal: time the hypervisor gave elsewhere)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq) / tick, steal / tick, softirq / tick


def process_cpu(names: Sequence[str]) -> dict[int, tuple[str, float]]:
    """pid -> (name, user + system CPU seconds) of the live processes named ``names``."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        if comm in names:
            fields = text[text.rindex(")") + 2 :].split()
            out[int(stat.parent.name)] = (comm, (int(fields[11]) + int(fields[12])) / tick)
    return out


def cpu_delta(
    before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], pids: Any = None
) -> dict[str, float]:
    """CPU seconds by process name between two ``process_cpu`` tables (processes started in
    between count whole; ``pids``: only those)."""
    out: dict[str, float] = {}
    for pid, (name, cpu) in after.items():
        if pids is None or pid in pids:
            out[name] = out.get(name, 0.0) + cpu - before.get(pid, (name, 0.0))[1]
    return out


# --------------------------------------------------------------------------------------------
# The client process: C simulated runners


def client_main(config_path: str) -> None:
    import uvloop

    config = json.loads(Path(config_path).read_text())
    raise_nofile(config["connections"] + 256)
    uvloop.run(client(config))


async def client(config: dict[str, Any]) -> None:
    import aiohttp

    from statpulse.security import pki

    say = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    pki_dir = Path(config["pki_dir"])
    regions: list[str] = config["regions"]
    monitors: dict[str, list[str]] = config["monitors"]
    count, batch, think = config["connections"], config["batch"], config["think"]
    # This process's runners are the global ones offset, offset + stride, ... (region by the
    # global index, as with one client process).
    offset, stride = config.get("index_offset", 0), config.get("index_stride", 1)
    url = f"https://127.0.0.1:{config['port']}/runner/v1/results"
    contexts = {
        r: pki.client_context(
            pki_dir / f"runner-{r}.crt", pki_dir / f"runner-{r}.key", pki_dir / "ca.crt"
        )
        for r in regions
    }
    timeout = aiohttp.ClientTimeout(total=config["timeout"])
    ramp, duration, wave = config["ramp"], config["duration"], config["wave"]
    t_start = time.perf_counter()
    window = [t_start + ramp, t_start + ramp + duration]  # moved up when the waves end sooner
    stop = asyncio.Event()
    latencies: list[float] = []
    batch_latencies: list[float] = []
    errors: dict[str, int] = {}
    counts = {
        "requests": 0,
        "stored": 0,
        "accepted": 0,
        "opened": 0,
        "open": 0,
        "max_open": 0,
        "throttled": 0,
        "throttled_window": 0,
    }
    # The ramp: waves of ``wave`` connections, each given ``budget`` seconds at most (the ramp
    # cap shared out); a wave moves on once ``quorum`` of it has its TLS handshake done. Within a
    # wave the runners start at a steady pace (all of them within half the budget), and at most
    # ``handshake_limit`` first requests (TCP connect + TLS handshake + empty upload) are in
    # progress at once, whatever the waves do: the server's accept queue (backlog 4,096) holds
    # at most that many connections of ours, so it cannot overflow however slowly it accepts.
    waves_total = max(1, -(-count // wave))
    budget = ramp / waves_total
    quorum = 0.95
    handshakes = asyncio.Semaphore(config["handshake_limit"])
    connected_in_wave = [0] * waves_total
    progress = asyncio.Event()  # a handshake completed
    ramp_log: list[dict[str, Any]] = []
    rng = random.Random(7 + offset)

    async def on_open(_session: Any, ctx: Any, _params: Any) -> None:
        counts["opened"] += 1
        ramp_state = ctx.trace_request_ctx  # a runner's first request: its TLS handshake is done
        if isinstance(ramp_state, dict) and not ramp_state["connected"]:
            ramp_state["connected"] = True
            connected_in_wave[ramp_state["i"] // wave] += 1
            progress.set()

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(on_open)

    first: dict[str, str] = {}

    def error(kind: str, exc: BaseException | None = None) -> None:
        errors[kind] = errors.get(kind, 0) + 1
        if kind not in first:
            first[kind] = repr(exc)[:300] if exc is not None else kind

    def payload(region: str, health: dict[str, Any]) -> bytes:
        now = datetime.now(UTC)
        scheduled = (now - timedelta(seconds=1)).isoformat()
        started = now.isoformat()
        ids = monitors[region]
        results = []
        for _ in range(batch):
            ok = rng.random() >= 0.003
            results.append(
                {
                    "id": str(uuid.uuid4()),
                    "monitor_id": ids[rng.randrange(len(ids))],
                    "region": region,
                    "scheduled_at": scheduled,
                    "started_at": started,
                    "latency_ms": round(40 * rng.lognormvariate(0, 0.45), 3) if ok else None,
                    "ok": ok,
                    "degraded": False,
                    "status_code": 200 if ok else None,
                    "phases": {"dns_ms": None, "connect_ms": 1.2, "tls_ms": 3.4, "ttfb_ms": 20.1},
                    "error_class": None if ok else "timeout",
                    "error_message": None if ok else "timed out",
                    "conditions": [],
                    "attempts": 1,
                }
            )
        doc = {"results": results, "health": health}
        return json.dumps(doc, separators=(",", ":")).encode()

    async def runner(i: int) -> None:
        region = regions[(offset + stride * i) % len(regions)]
        connector = aiohttp.TCPConnector(ssl=contexts[region], limit=1, keepalive_timeout=3600)
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            headers={REGION_HEADER: region, "User-Agent": "statpulse-bench"},
            trace_configs=[trace],
        )
        health = {"version": "bench", "clock_offset_ms": 0.0, "spool_depth": 0}
        state = {"alive": False}

        ramp_state = {"i": i, "connected": False}

        async def post(
            body: bytes, opening: bool = False
        ) -> tuple[int, dict[str, Any] | None, float | None]:
            """(status, answer of a 200, Retry-After of a 503/429)."""
            status, answer, retry_after = 0, None, None
            try:
                async with session.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json"},
                    trace_request_ctx=ramp_state if opening else None,
                ) as resp:
                    status = resp.status
                    raw = await resp.read()
                    if status == 200:
                        answer = json.loads(raw)
                    elif status in (429, 503) and resp.headers.get("Retry-After", "").isdigit():
                        retry_after = float(resp.headers["Retry-After"])
            except aiohttp.ClientConnectorCertificateError as exc:
                error("tls_certificate", exc)
            except aiohttp.ClientConnectorSSLError as exc:
                error("tls_handshake", exc)
            except aiohttp.ClientSSLError as exc:
                error("tls", exc)
            except aiohttp.ServerDisconnectedError as exc:
                error("disconnected", exc)
            except aiohttp.ClientConnectorError as exc:
                error("connect", exc)
            except aiohttp.ClientOSError as exc:
                error(f"os_{exc.errno}" if exc.errno else "os", exc)
            except TimeoutError as exc:
                error("timeout", exc)
            except aiohttp.ClientError as exc:
                error(type(exc).__name__, exc)
            up = status != 0  # an HTTP answer: the TLS connection is (still) up
            if up != state["alive"]:
                state["alive"] = up
                counts["open"] += 1 if up else -1
                counts["max_open"] = max(counts["max_open"], counts["open"])
            if retry_after is not None:
                counts["throttled"] += 1
            elif status and status != 200:
                error(f"http_{status}")
            return status, answer, retry_after

        try:
            # An empty upload opens the TLS connection during the ramp (no database work), one
            # of at most ``handshake_limit`` in progress.
            while not stop.is_set():
                async with handshakes:
                    if stop.is_set():
                        break
                    answered = (await post(b'{"results":[]}', opening=True))[1] is not None
                if answered:
                    break
                await asyncio.sleep(1.0 + rng.random())
            if think > 0:  # spread the first uploads over one think time
                await asyncio.sleep(think * rng.random())
            body, t_batch = b"", 0.0
            while not stop.is_set():
                if not body:  # a new batch; a throttled one is sent again as it was
                    body, t_batch = payload(region, health), time.perf_counter()
                t0 = time.perf_counter()
                _status, answer, retry_after = await post(body)
                t1 = time.perf_counter()
                in_window = window[0] <= t1 <= window[1]
                if in_window and answer is not None:
                    counts["requests"] += 1
                    latencies.append((t1 - t0) * 1000)
                    batch_latencies.append((t1 - t_batch) * 1000)
                    counts["stored"] += int(answer.get("stored", 0))
                    counts["accepted"] += int(answer.get("accepted", 0))
                if retry_after is not None:
                    counts["throttled_window"] += in_window
                    await asyncio.sleep(min(retry_after, 60.0) * (1 + 0.5 * rng.random()))
                    continue
                if answer is None:
                    await asyncio.sleep(1.0 + rng.random())  # back off like a runner would
                    continue  # and send the same batch again, like a runner
                body = b""
                if think > 0:
                    await asyncio.sleep(think * (0.5 + rng.random()))
        finally:
            await session.close()

    errors_before: dict[str, int] = {}
    tasks: list[asyncio.Task[None]] = []
    waves = 0
    ramp_cpu0 = cpu_seconds()

    async def wave_done(index: int, size: int, deadline: float) -> str:
        """Wait until ``quorum`` of wave ``index`` is connected or ``deadline``; which one."""
        need = min(size, max(1, round(quorum * size)))
        while connected_in_wave[index] < need:
            left = deadline - time.perf_counter()
            if left <= 0:
                return "budget"
            progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), left)
        return "quorum"

    async def ramp_up() -> None:
        nonlocal waves
        for index, start in enumerate(range(0, count, wave)):
            size = min(wave, count - start)
            t_wave = time.perf_counter()
            gap = budget / 2 / size  # all of the wave started within half its budget
            for n, i in enumerate(range(start, start + size)):
                tasks.append(asyncio.create_task(runner(i)))
                await asyncio.sleep(max(0.0, t_wave + (n + 1) * gap - time.perf_counter()))
            how = await wave_done(index, size, t_wave + budget)
            waves += 1
            ramp_log.append(
                {
                    "wave": index,
                    "s": round(time.perf_counter() - t_wave, 2),
                    "connected": connected_in_wave[index],
                    "of": size,
                    "ended_by": how,
                }
            )

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(asyncio.get_running_loop().time() + ramp):
            await ramp_up()
    ramp_s = time.perf_counter() - t_start
    ramp_cpu = cpu_seconds() - ramp_cpu0
    # Ramp cap reached: the rest start now, still at most ``handshake_limit`` in progress.
    tasks.extend(asyncio.create_task(runner(i)) for i in range(len(tasks), count))
    # The parent opens the window of every client process at once, when all are ramped up.
    print(json.dumps({"bench": "ramp_done", "open": counts["open"]}), flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() not in ("window", ""):
        pass
    window[:] = [time.perf_counter(), time.perf_counter() + duration]
    cpu0, errors_before = cpu_seconds(), dict(errors)
    throttled_before = counts["throttled"]
    open_at_start = counts["open"]
    print(json.dumps({"bench": "window_start", "open": open_at_start}), flush=True)
    by_quorum = sum(1 for w in ramp_log if w["ended_by"] == "quorum")
    say(
        f"client {offset + 1}/{stride}: window starts after {ramp_s:.1f} s ({waves} of "
        f"{waves_total} waves of {wave} done, {by_quorum} by {quorum:.0%} connected, "
        f"{waves - by_quorum} by their {budget:.1f} s budget; at most "
        f"{config['handshake_limit']} handshakes at once), "
        f"{open_at_start:,} of {count:,} connections up"
    )
    await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
    cpu1 = cpu_seconds()
    open_at_end = counts["open"]
    say(f"client {offset + 1}/{stride}: window ends, {open_at_end:,} of {count:,} connections up")
    print(json.dumps({"bench": "window_end"}), flush=True)
    stop.set()
    # Requests in flight are not counted: give them a moment, then cancel the rest.
    _done, pending = await asyncio.wait(tasks, timeout=min(10.0, config["timeout"]))
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    window_errors = {k: v - errors_before.get(k, 0) for k, v in errors.items()}
    print(
        json.dumps(
            {
                "bench": "done",
                "latencies_ms": latencies,
                "batch_latencies_ms": batch_latencies,
                "throttled": counts["throttled_window"],
                "throttled_whole_run": counts["throttled"],
                "throttled_before_window": throttled_before,
                "ramp_s": ramp_s,
                "ramp_waves": waves,
                "ramp_waves_total": waves_total,
                "ramp_wave_budget_s": budget,
                "ramp_handshake_limit": config["handshake_limit"],
                "ramp_log": ramp_log,
                "ramp_client_cpu_s": ramp_cpu,
                "requests": counts["requests"],
                "stored": counts["stored"],
                "accepted": counts["accepted"],
                "errors": errors,
                "first_errors": first,
                "window_errors": {k: v for k, v in window_errors.items() if v},
                "connections_opened": counts["opened"],
                "open_at_start": open_at_start,
                "open_at_end": open_at_end,
                "max_open": counts["max_open"],
                "cpu_s": cpu1 - cpu0,
                "nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            }
        ),
        flush=True,
    )


# --------------------------------------------------------------------------------------------
# The server side


class Timed:
    """Wall time and calls of an awaited function (the server's database calls)."""

    def __init__(self, fn: Callable[..., Awaitable[Any]]) -> None:
        self.fn = fn
        self.calls = 0
        self.seconds = 0.0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await self.fn(*args, **kwargs)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - t0

    def snapshot(self) -> tuple[int, float]:
        return self.calls, self.seconds


def server_main(config_path: str) -> None:
    import uvloop

    from statpulse.logging import configure

    configure("warning")  # to stderr: stdout carries the lines the parent reads
    # A 500 would be counted by the client (the runner API answers 503 when overloaded): keep
    # aiohttp's traceback per failed request out of the output.
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
    config = json.loads(Path(config_path).read_text())
    raise_nofile(config["connections"] + 256)
    uvloop.run(server(config))


async def server(config: dict[str, Any]) -> None:
    """One server process: the real ``RunnerApi`` on the shared port (``SO_REUSEPORT``), with its
    share of the admission limit, answering the parent's commands on stdin (``snapshot``,
    ``profile_on``, ``profile_off``, ``stop``) with one JSON line each on stdout."""
    from statpulse.bus.memory import MemoryBus
    from statpulse.engine.ingest import Ingest
    from statpulse.metrics import Metrics
    from statpulse.store.sql import open_store
    from statpulse.web.runner_api import RunnerApi

    def emit(event: str, **fields: Any) -> None:
        print(json.dumps({"bench": event, **fields}), flush=True)

    store = await open_store(config["url"], migrate=False, pgbouncer=config["pgbouncer"])
    bus = MemoryBus()
    ingest = Ingest(store, bus, Metrics())
    calls = {
        "add_results": Timed(store.add_results),
        "monitor_regions": Timed(store.monitor_regions),
        "record_runner_health": Timed(store.record_runner_health),
    }
    for name, wrapper in calls.items():  # the instance attributes shadow the methods
        setattr(store, name, wrapper)
    stored = {"rows": 0}

    async def accept(batch: Sequence[Any]) -> int:
        inserted = await ingest.accept(batch)
        stored["rows"] += inserted
        return inserted

    async def drain() -> None:
        async for _batch in bus.batches():
            pass

    drainer = asyncio.create_task(drain())
    api = RunnerApi(store, accept, Path(config["pki_dir"]), workers=config["workers"])
    await api.start("127.0.0.1", config["port"], reuse_port=True)
    emit("listening", port=api.port, admission_limit=api.admission.limit, pid=os.getpid())
    profiler = cProfile.Profile() if config["profile"] else None
    loop = asyncio.get_running_loop()
    try:
        while command := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            if command == "snapshot":
                emit(
                    "snapshot",
                    cpu=cpu_seconds(),
                    rows=stored["rows"],
                    calls={k: v.snapshot() for k, v in calls.items()},
                    refused=api.admission.refused,
                )
            elif command == "profile_on" and profiler is not None:
                profiler.enable()
            elif command == "profile_off" and profiler is not None:
                profiler.disable()
            elif command == "stop":
                break
    finally:
        await api.stop()
        await bus.close()
        await drainer
        await store.close()
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(config["profile"])
        print(
            f"server {os.getpid()}: cProfile in the window (by own time)\n{text.getvalue()}",
            file=sys.stderr,
            flush=True,
        )
    emit("stopped")


class Child:
    """A child process of the bench (a server or a client), its JSON lines ``{"bench": EVENT,
    ...}`` on stdout read as they come (other lines are passed to stderr), so that it never
    blocks on a full pipe."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str) -> None:
        self.proc = proc
        self.name = name
        self.events: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, name: str, *args: str) -> Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            *args,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=str(REPO),
            limit=2**30,
        )
        return cls(proc, name)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            if isinstance(event, dict) and "bench" in event:
                self.events.put_nowait(event)
            else:
                sys.stderr.write(line.decode(errors="replace"))
        self.events.put_nowait(None)

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")

    async def expect(self, event: str) -> dict[str, Any]:
        """The next event named ``event`` (others before it are skipped)."""
        while True:
            got = await self.events.get()
            if got is None:
                rc = await self.proc.wait()
                raise RuntimeError(f"{self.name} exited (status {rc}) before {event!r}")
            if got["bench"] == event:
                return got

    async def ask(self, command: str, event: str) -> dict[str, Any]:
        self.send(command)
        return await self.expect(event)

    async def close(self) -> None:
        """Wait up to 30 s for the process to exit, then kill it."""
        if self.proc.returncode is None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(30):
                    await self.proc.wait()
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        await self._reader


def server_totals(snapshots: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The servers' snapshots added up."""
    calls: dict[str, list[float]] = {}
    for snap in snapshots:
        for name, (n, seconds) in snap["calls"].items():
            total = calls.setdefault(name, [0, 0.0])
            total[0] += n
            total[1] += seconds
    return {
        "cpu": sum(s["cpu"] for s in snapshots),
        "cpus": [s["cpu"] for s in snapshots],
        "rows": sum(s["rows"] for s in snapshots),
        "calls": calls,
        "refused": sum(s["refused"] for s in snapshots),
    }


def merge_clients(dones: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The ``done`` events of the client processes as one."""
    out: dict[str, Any] = {"latencies_ms": [], "batch_latencies_ms": [], "ramp_log": []}
    for key in ("errors", "window_errors", "first_errors"):
        out[key] = {}
    summed = (
        "throttled",
        "throttled_whole_run",
        "throttled_before_window",
        "ramp_waves",
        "ramp_waves_total",
        "ramp_handshake_limit",
        "ramp_client_cpu_s",
        "requests",
        "stored",
        "accepted",
        "connections_opened",
        "open_at_start",
        "open_at_end",
        "max_open",
        "cpu_s",
    )
    for key in summed:
        out[key] = sum(d[key] for d in dones)
    out["ramp_s"] = max(d["ramp_s"] for d in dones)
    out["ramp_wave_budget_s"] = max(d["ramp_wave_budget_s"] for d in dones)
    out["nofile"] = min(d["nofile"] for d in dones)
    out["cpu_s_by_process"] = [d["cpu_s"] for d in dones]
    for n, d in enumerate(dones):
        out["latencies_ms"].extend(d["latencies_ms"])
        out["batch_latencies_ms"].extend(d["batch_latencies_ms"])
        out["ramp_log"].extend({"client": n, **w} for w in d["ramp_log"])
        for key in ("errors", "window_errors"):
            for kind, count in d[key].items():
                out[key][kind] = out[key].get(kind, 0) + count
        for kind, text in d["first_errors"].items():
            out["first_errors"].setdefault(kind, text)
    return out


async def seed(url: str, monitors: int, regions: Sequence[str]) -> dict[str, list[str]]:
    """Migrate ``url`` and create the monitors, each configured for every region."""
    from statpulse.model import MonitorConfig
    from statpulse.store.sql import open_store

    store = await open_store(url)
    try:
        org = await store.create_org("bench", "Bench")
        ids = []
        for i in range(monitors):
            config = MonitorConfig(
                name=f"m{i}",
                kind="http",
                target=f"https://m{i}.example.com/health",
                interval_s=10,
                regions=tuple(regions),
            )
            ids.append(str((await store.create_monitor(org.id, config)).id))
    finally:
        await store.close()
    return dict.fromkeys(regions, ids)


async def run_case(
    kind: str,
    url: str,
    *,
    pgbouncer: Any,
    admin_dsn: str | None,
    database: str | None,
    pki_dir: Path,
    monitors: dict[str, list[str]],
    connections: int,
    args: argparse.Namespace,
    workdir: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    import asyncpg

    n_servers = args.server_processes if kind == "postgresql" else args.sqlite_server_processes
    n_clients = args.client_processes
    servers: list[Child] = []
    clients: list[Child] = []
    backends: set[int] = set()
    sampled = {"pg_max": 0, "sv_max": 0, "cl_waiting_max": 0, "samples": 0, "errors": 0}
    active = {"on": False}
    sampler_stop = asyncio.Event()

    async def sample() -> None:
        from tests.pgbouncer import admin_show

        conn = await asyncpg.connect(admin_dsn, timeout=5) if admin_dsn else None
        try:
            while not sampler_stop.is_set():
                if active["on"]:
                    try:
                        if conn is not None:
                            rows = await conn.fetch(
                                "SELECT pid FROM pg_stat_activity WHERE datname = $1", database
                            )
                            sampled["pg_max"] = max(sampled["pg_max"], len(rows))
                            backends.update(row["pid"] for row in rows)
                        if pgbouncer is not None:
                            for pool in await admin_show(pgbouncer, "POOLS"):
                                if pool.get("database") != "bench":
                                    continue
                                sv = sum(int(pool.get(k) or 0) for k in SERVER_STATES)
                                sampled["sv_max"] = max(sampled["sv_max"], sv)
                                waiting = int(pool.get("cl_waiting") or 0)
                                sampled["cl_waiting_max"] = max(sampled["cl_waiting_max"], waiting)
                        sampled["samples"] += 1
                    except Exception:  # a missed sample is counted, not fatal
                        sampled["errors"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sampler_stop.wait(), 0.25)
        finally:
            if conn is not None:
                await conn.close()

    async def snapshot() -> dict[str, Any]:
        return server_totals(
            await asyncio.gather(*(s.ask("snapshot", "snapshot") for s in servers))
        )

    def tell_servers(command: str) -> None:
        for s in servers:
            with contextlib.suppress(Exception):  # a server that died: reported by its exit
                s.send(command)

    sampler = asyncio.create_task(sample())
    out: dict[str, Any] = {"database": kind, "connections": connections}
    marks: dict[str, Any] = {}
    failed = True
    try:
        # The first server binds a free port; the others join it (SO_REUSEPORT).
        port, limits = 0, []
        for n in range(n_servers):
            path = workdir / f"server-{kind}-{n}.json"
            config = {
                "url": url,
                "pgbouncer": pgbouncer is not None,
                "pki_dir": str(pki_dir),
                "port": port,
                "workers": n_servers,
                "connections": connections,
                "profile": args.profile,
            }
            path.write_text(json.dumps(config))
            servers.append(await Child.start(f"{kind} server {n}", "--server", str(path)))
            listening = await servers[-1].expect("listening")
            port = listening["port"]
            limits.append(listening["admission_limit"])
        say(
            f"{kind}: {connections:,} runner connections from {n_clients} client process(es), "
            f"batches of {args.batch}, think {args.think:g} s, waves of {args.wave} (ramp "
            f"{args.ramp:g} s at most, {args.handshakes} handshakes at once at most), window "
            f"{args.duration:g} s; {n_servers} server process(es) on port {port}, admission "
            f"limit {' + '.join(map(str, limits))}"
        )
        ramp0 = await snapshot()
        for k in range(n_clients):
            share = len(range(k, connections, n_clients))
            config = {
                "port": port,
                "pki_dir": str(pki_dir),
                "regions": list(monitors),
                "monitors": monitors,
                "connections": share,
                "index_offset": k,
                "index_stride": n_clients,
                "batch": args.batch,
                "think": args.think,
                "ramp": args.ramp,
                "wave": max(1, -(-args.wave // n_clients)),
                "handshake_limit": max(1, -(-args.handshakes // n_clients)),
                "duration": args.duration,
                "timeout": args.timeout,
            }
            path = workdir / f"client-{kind}-{k}.json"
            path.write_text(json.dumps(config))
            clients.append(await Child.start(f"{kind} client {k}", "--client", str(path)))
        overflows0 = listen_overflows()
        await asyncio.gather(*(c.expect("ramp_done") for c in clients))
        # The window: opened in every client at once, once all of them are ramped up.
        start = await snapshot()
        marks["ramp_cpu"] = start["cpu"] - ramp0["cpu"]
        tell_servers("profile_on")
        marks["start"] = (
            time.perf_counter(),
            cpu_seconds(),
            machine_busy(),
            process_cpu(("postgres", "pgbouncer")),
            start,
        )
        active["on"] = True
        for c in clients:
            c.send("window")
        await asyncio.gather(*(c.expect("window_end") for c in clients))
        active["on"] = False
        end = await snapshot()
        tell_servers("profile_off")
        marks["end"] = (
            time.perf_counter(),
            cpu_seconds(),
            machine_busy(),
            process_cpu(("postgres", "pgbouncer")),
            end,
        )
        done = merge_clients(await asyncio.gather(*(c.expect("done") for c in clients)))
        failed = False
    finally:
        for c in clients:
            if failed and c.proc.returncode is None:
                c.proc.kill()
            await c.close()
        tell_servers("stop")
        for s in servers:
            with contextlib.suppress(RuntimeError, TimeoutError):
                async with asyncio.timeout(30):
                    await s.expect("stopped")
            await s.close()
        sampler_stop.set()
        await sampler
    (t0, cpu0, busy0, procs0, snap0), (t1, cpu1, busy1, procs1, snap1) = (
        marks["start"],
        marks["end"],
    )
    span = t1 - t0
    every = cpu_delta(procs0, procs1)
    mine = cpu_delta(procs0, procs1, backends)
    latencies = done["latencies_ms"]
    server_cpu = snap1["cpu"] - snap0["cpu"]
    parent_cpu = cpu1 - cpu0
    machine_cpu = busy1[0] - busy0[0]
    rows = snap1["rows"] - snap0["rows"]
    per_call = {}
    for name, (n1, s1) in snap1["calls"].items():
        n0, s0 = snap0["calls"][name]
        n = n1 - n0
        per_call[name] = {"calls": n, "mean_ms": (s1 - s0) / n * 1000 if n else None}
    errors = done["window_errors"]
    pg, bouncer = every.get("postgres", 0.0), every.get("pgbouncer", 0.0)
    out.update(
        {
            "server_processes": n_servers,
            "client_processes": n_clients,
            "window_s": span,
            "results_per_s": rows / span,
            "acked_results_per_s": done["stored"] / span,
            "requests_per_s": done["requests"] / span,
            "ack_p50_ms": pct(latencies, 0.5),
            "ack_p99_ms": pct(latencies, 0.99),
            "ack_max_ms": max(latencies) if latencies else float("nan"),
            "batch_ack_p50_ms": pct(done["batch_latencies_ms"], 0.5),
            "batch_ack_p99_ms": pct(done["batch_latencies_ms"], 0.99),
            "acks": len(latencies),
            "throttled": done["throttled"],
            "throttled_per_s": done["throttled"] / span,
            "throttled_whole_run": done["throttled_whole_run"],
            "admission_limit": sum(limits),
            "admission_limit_per_process": limits,
            "admission_refused": snap1["refused"] - snap0["refused"],
            "ramp_s": done["ramp_s"],
            "ramp_waves": done["ramp_waves"],
            "ramp_waves_total": done["ramp_waves_total"],
            "ramp_wave_budget_s": done["ramp_wave_budget_s"],
            "ramp_handshake_limit": done["ramp_handshake_limit"],
            "ramp_waves_by_quorum": sum(1 for w in done["ramp_log"] if w["ended_by"] == "quorum"),
            "ramp_server_cpu_s": marks["ramp_cpu"],
            "ramp_client_cpu_s": done["ramp_client_cpu_s"],
            "server_cpu_ms_per_connection_ramp": marks["ramp_cpu"]
            / max(1, done["open_at_start"])
            * 1000,
            "client_cpu_ms_per_connection_ramp": done["ramp_client_cpu_s"]
            / max(1, done["open_at_start"])
            * 1000,
            "connection_errors": sum(errors.values()),
            "errors_by_kind": errors,
            "errors_whole_run": done["errors"],
            "first_errors": done["first_errors"],
            "listen_overflows": listen_overflows() - overflows0,
            "connections_opened": done["connections_opened"],
            "connections_up_at_start": done["open_at_start"],
            "connections_up_at_end": done["open_at_end"],
            "connections_up_max": done["max_open"],
            "client_nofile": done["nofile"],
            "server_cpu_pct": server_cpu / span * 100,
            "server_cpu_pct_by_process": [
                (b - a) / span * 100 for a, b in zip(snap0["cpus"], snap1["cpus"], strict=True)
            ],
            "client_cpu_pct": done["cpu_s"] / span * 100,
            "client_cpu_pct_by_process": [c / span * 100 for c in done["cpu_s_by_process"]],
            "parent_cpu_pct": parent_cpu / span * 100,
            "other_cpu_pct": (machine_cpu - server_cpu - done["cpu_s"] - parent_cpu) / span * 100,
            "steal_pct": (busy1[1] - busy0[1]) / span * 100,
            "softirq_pct": (busy1[2] - busy0[2]) / span * 100,
            "postgres_cpu_pct": pg / span * 100,
            "postgres_bench_cpu_pct": mine.get("postgres", 0.0) / span * 100,
            "pgbouncer_cpu_pct": bouncer / span * 100,
            "others_cpu_pct": (machine_cpu - server_cpu - done["cpu_s"] - parent_cpu - pg - bouncer)
            / span
            * 100,
            "server_cpu_us_per_result": server_cpu / rows * 1e6 if rows > 0 else None,
            "db_calls": per_call,
            "pg_server_connections": sampled["pg_max"] if pgbouncer is not None else None,
            "pgbouncer_server_connections": sampled["sv_max"] if pgbouncer is not None else None,
            "pgbouncer_cl_waiting_max": sampled["cl_waiting_max"] if pgbouncer else None,
            "samples": sampled["samples"],
            "sample_errors": sampled["errors"],
        }
    )
    say(
        f"{kind}: {out['results_per_s']:,.0f} results/s stored, ack p50 "
        f"{out['ack_p50_ms']:,.1f} ms p99 {out['ack_p99_ms']:,.1f} ms, "
        f"{out['connection_errors']} connection errors, {done['open_at_end']:,} of "
        f"{connections:,} connections up"
    )
    return out


# --------------------------------------------------------------------------------------------
# Report


def machine(pg_version: str | None, pgbouncer_version: str | None) -> dict[str, Any]:
    import aiohttp
    import asyncpg
    import sqlalchemy as sa
    import uvloop

    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg": os.getloadavg(),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "openssl": ssl.OPENSSL_VERSION,
        "aiohttp": aiohttp.__version__,
        "uvloop": uvloop.__version__,
        "sqlalchemy": sa.__version__,
        "asyncpg": asyncpg.__version__,
        "postgresql": pg_version,
        "pgbouncer": pgbouncer_version,
        "sqlite": sqlite3.sqlite_version,
    }


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:
        return "-"
    return f"{value:,.{digits}f}"


def each(values: Sequence[float]) -> str:
    return " + ".join(fmt(x, 0) for x in values)


def print_report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=150)
    table = Table(
        title=f"POST /runner/v1/results over mutual TLS: {args.monitors} monitors x "
        f"{args.regions} regions, batches of {args.batch}, think {args.think:g} s, "
        f"{args.duration:g} s window"
    )
    table.add_column("figure")
    names = {"postgresql": "PostgreSQL via PgBouncer", "sqlite": "SQLite"}
    for kind in results:
        table.add_column(names.get(kind, kind), justify="right")

    def row(label: str, fn: Callable[[dict[str, Any]], str]) -> None:
        table.add_row(label, *(fn(r) for r in results.values()))

    row("runner connections (asked)", lambda r: f"{r['connections']:,}")
    row(
        "processes: server (admission limit each) / client",
        lambda r: (
            f"{r['server_processes']} ({'+'.join(map(str, r['admission_limit_per_process']))})"
            f" / {r['client_processes']}"
        ),
    )
    row(
        "connections up at window start / end / max",
        lambda r: (
            f"{r['connections_up_at_start']:,} / {r['connections_up_at_end']:,} / "
            f"{r['connections_up_max']:,}"
        ),
    )
    row("TLS connections opened (whole run)", lambda r: f"{r['connections_opened']:,}")
    row("listen queue overflows (kernel, whole run)", lambda r: f"{r['listen_overflows']:,}")
    row(
        "ramp: s, waves done (by 95 % connected), CPU ms per connection up: server / client",
        lambda r: (
            f"{fmt(r['ramp_s'])} s, {r['ramp_waves']} ({r['ramp_waves_by_quorum']}) of "
            f"{r['ramp_waves_total']}, "
            f"{fmt(r['server_cpu_ms_per_connection_ramp'], 2)} / "
            f"{fmt(r['client_cpu_ms_per_connection_ramp'], 2)}"
        ),
    )
    row("results/s stored", lambda r: fmt(r["results_per_s"], 0))
    row("requests/s acked", lambda r: fmt(r["requests_per_s"], 1))
    row(
        "ack p50 / p99 / max ms",
        lambda r: f"{fmt(r['ack_p50_ms'])} / {fmt(r['ack_p99_ms'])} / {fmt(r['ack_max_ms'])}",
    )
    row(
        "batch ack p50 / p99 ms (first send -> 200, throttled waits in)",
        lambda r: f"{fmt(r['batch_ack_p50_ms'])} / {fmt(r['batch_ack_p99_ms'])}",
    )
    row(
        "throttled (503 + Retry-After) in window, per s; admission limit",
        lambda r: f"{r['throttled']:,}, {fmt(r['throttled_per_s'], 1)}/s; {r['admission_limit']}",
    )
    row(
        "connection errors in window (by kind)",
        lambda r: f"{r['connection_errors']:,} {r['errors_by_kind'] or ''}".strip(),
    )
    row(
        "PG server connections max: pg_stat_activity / PgBouncer sv_*",
        lambda r: (
            "-"
            if r["pg_server_connections"] is None
            else f"{r['pg_server_connections']} / {r['pgbouncer_server_connections']} "
            f"(pool {args.pool_size})"
        ),
    )
    row(
        "PgBouncer cl_waiting max",
        lambda r: (
            "-" if r["pgbouncer_cl_waiting_max"] is None else str(r["pgbouncer_cl_waiting_max"])
        ),
    )
    row(
        "CPU %: servers (each) / clients (each) / rest of the machine",
        lambda r: (
            f"{fmt(r['server_cpu_pct'], 0)} ({each(r['server_cpu_pct_by_process'])}) / "
            f"{fmt(r['client_cpu_pct'], 0)} ({each(r['client_cpu_pct_by_process'])}) / "
            f"{fmt(r['other_cpu_pct'], 0)}"
        ),
    )
    row(
        "of the rest: PG backends of the bench db / all PG / PgBouncer / others",
        lambda r: (
            f"{fmt(r['postgres_bench_cpu_pct'], 0)} / {fmt(r['postgres_cpu_pct'], 0)} / "
            f"{fmt(r['pgbouncer_cpu_pct'], 0)} / {fmt(r['others_cpu_pct'], 0)}"
        ),
    )
    row(
        "softirq (in the rest) / steal (not in it) %",
        lambda r: f"{fmt(r['softirq_pct'], 0)} / {fmt(r['steal_pct'], 0)}",
    )
    row("server CPU µs per stored result", lambda r: fmt(r["server_cpu_us_per_result"], 0))
    for name in ("add_results", "monitor_regions", "record_runner_health"):
        row(
            f"server wall ms per {name} (calls)",
            lambda r, n=name: (
                f"{fmt(r['db_calls'][n]['mean_ms'], 1)} ({r['db_calls'][n]['calls']:,})"
            ),
        )
    console.print(table)
    for kind, r in results.items():
        for name, text in r["first_errors"].items():
            console.print(f"{kind}: first {name} error: {text}", markup=False, highlight=False)
    console.print(
        "results/s: rows the server's ingest reported new in the window; ack: request sent -> "
        "200 read by the client, answers in the window. CPU % of one core (200 % = both cores)."
    )


def summary(
    results: dict[str, dict[str, Any]], args: argparse.Namespace, info: dict[str, Any]
) -> dict[str, Any]:
    def r3(x: Any) -> Any:
        if isinstance(x, float):
            return None if x != x else round(x, 3)
        return x

    out: dict[str, Any] = {}
    pg = results.get("postgresql")
    if pg:
        out["results_per_s"] = r3(pg["results_per_s"])
        out["ack_p50_ms"] = r3(pg["ack_p50_ms"])
        out["ack_p99_ms"] = r3(pg["ack_p99_ms"])
        out["connection_errors"] = pg["connection_errors"]
        out["pg_server_connections"] = pg["pg_server_connections"]
        out["pgbouncer_server_connections"] = pg["pgbouncer_server_connections"]
        out["pool_size"] = args.pool_size
        out["connections"] = pg["connections"]
        out["connections_up"] = pg["connections_up_at_end"]
        out["throttled"] = pg["throttled"]
        out["batch_ack_p50_ms"] = r3(pg["batch_ack_p50_ms"])
        out["batch_ack_p99_ms"] = r3(pg["batch_ack_p99_ms"])
        out["server_cpu_pct"] = r3(pg["server_cpu_pct"])
        out["client_cpu_pct"] = r3(pg["client_cpu_pct"])
    sq = results.get("sqlite")
    if sq:
        out["sqlite_results_per_s"] = r3(sq["results_per_s"])
        out["sqlite_ack_p50_ms"] = r3(sq["ack_p50_ms"])
        out["sqlite_ack_p99_ms"] = r3(sq["ack_p99_ms"])
        out["sqlite_connection_errors"] = sq["connection_errors"]
        out["sqlite_connections"] = sq["connections"]
        out["sqlite_connections_up"] = sq["connections_up_at_end"]
        out["sqlite_throttled"] = sq["throttled"]
    for kind, r in results.items():
        prefix = "pg" if kind == "postgresql" else kind
        out[prefix] = {k: r3(v) for k, v in r.items() if k not in ("database",)}
    out["setup"] = {
        "monitors": args.monitors,
        "regions": args.regions,
        "batch": args.batch,
        "think_s": args.think,
        "ramp_s": args.ramp,
        "wave": args.wave,
        "handshakes": args.handshakes,
        "duration_s": args.duration,
        "pool_size": args.pool_size,
        "server_processes": args.server_processes,
        "sqlite_server_processes": args.sqlite_server_processes,
        "client_processes": args.client_processes,
    }
    out["machine"] = info
    return out


# --------------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> None:
    import asyncpg
    import sqlalchemy as sa
    from tests.pgbouncer import find_pgbouncer, start_pgbouncer

    from statpulse.security import pki

    say = lambda text: print(text, flush=True)  # noqa: E731
    kinds = [k for k in args.databases.split(",") if k]
    pg_version = bouncer_version = None
    binary = find_pgbouncer()
    if "postgresql" in kinds:
        admin = asyncpg_dsn(args.pg)
        conn = await asyncpg.connect(admin, timeout=5)
        try:
            pg_version = str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
        if binary is None:
            sys.exit("pgbouncer is not installed (make test-deps)")
        version = await asyncio.create_subprocess_exec(binary, "--version", stdout=subprocess.PIPE)
        bouncer_version = (await version.communicate())[0].decode().split("\n", 1)[0].strip()
    info = machine(pg_version, bouncer_version)
    nofile = raise_nofile(max(args.connections, args.sqlite_connections) + 1024)
    info["nofile"] = nofile
    say(
        f"machine: {info['nproc']} cpus ({info['cpu']}), load {info['loadavg']}, kernel "
        f"{info['kernel']}, python {info['python']}, {info['openssl']}, aiohttp "
        f"{info['aiohttp']}, uvloop {info['uvloop']}, PostgreSQL {pg_version}, {bouncer_version}"
        f", SQLite {info['sqlite']}; RLIMIT_NOFILE {nofile[0]} (hard {nofile[1]})"
    )
    regions = list(REGIONS[: args.regions])
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="statpulse-bench-ingest-") as tmp:
        work = Path(tmp)
        pki_dir = work / "pki"
        pki.init_pki(pki_dir)
        for region in regions:
            pki.issue_runner(pki_dir, region)
        for kind in kinds:
            if kind == "postgresql":
                name = f"statpulse_bench_{secrets.token_hex(4)}"
                await pg_admin(admin, f'CREATE DATABASE "{name}"')
                bouncer = None
                try:
                    direct = sa.make_url(args.pg).set(database=name).render_as_string(False)
                    monitors = await seed(direct, args.monitors, regions)
                    server = sa.make_url(args.pg)
                    bouncer_dir = work / "pgbouncer"
                    bouncer_dir.mkdir()
                    bouncer = start_pgbouncer(
                        bouncer_dir,
                        databases={"bench": name},
                        server_host=server.host or "127.0.0.1",
                        server_port=server.port or 5432,
                        user=server.username or "postgres",
                        password=server.password or "",
                        pool_size=args.pool_size,
                        binary=binary or "pgbouncer",
                    )
                    results[kind] = await run_case(
                        kind,
                        bouncer.url("bench"),
                        pgbouncer=bouncer,
                        admin_dsn=admin,
                        database=name,
                        pki_dir=pki_dir,
                        monitors=monitors,
                        connections=args.connections,
                        args=args,
                        workdir=work,
                        say=say,
                    )
                finally:
                    if bouncer is not None:
                        bouncer.stop()
                    await pg_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            elif kind == "sqlite":
                url = f"sqlite:///{work / 'bench.db'}"
                monitors = await seed(url, args.monitors, regions)
                results[kind] = await run_case(
                    kind,
                    url,
                    pgbouncer=None,
                    admin_dsn=None,
                    database=None,
                    pki_dir=pki_dir,
                    monitors=monitors,
                    connections=args.sqlite_connections,
                    args=args,
                    workdir=work,
                    say=say,
                )
            else:
                sys.exit(f"unknown database {kind!r}")
    info["loadavg_after"] = os.getloadavg()
    print_report(results, args)
    print(json.dumps(summary(results, args, info)))


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--client":
        client_main(sys.argv[2])
        return
    if len(sys.argv) == 3 and sys.argv[1] == "--server":
        server_main(sys.argv[2])
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 connections, 15 s window")
    parser.add_argument("--connections", type=int, help="runner connections (quick 200, 10,000)")
    parser.add_argument(
        "--sqlite-connections", type=int, help="runner connections on SQLite (default: the same)"
    )
    parser.add_argument("--duration", type=float, help="measured window, s (quick 15, full 60)")
    parser.add_argument("--ramp", type=float, help="the connection ramp's cap before the window, s")
    parser.add_argument(
        "--wave",
        type=int,
        default=500,
        help="connections per ramp wave: the next starts once 95%% of it is connected or "
        "after ramp / waves s",
    )
    parser.add_argument(
        "--handshakes",
        type=int,
        default=128,
        help="client: at most this many connections opening (connect + TLS + first request) "
        "at once, so the server's accept queue cannot overflow",
    )
    parser.add_argument("--batch", type=int, default=50, help="results per POST")
    parser.add_argument(
        "--think", type=float, default=0.0, help="s between an ack and the next POST (jittered)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="client request timeout, s")
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--regions", type=int, default=3)
    parser.add_argument("--pool-size", type=int, default=20, help="PgBouncer default_pool_size")
    parser.add_argument(
        "--server-processes",
        type=int,
        default=2,
        help="server processes sharing the runner port (SO_REUSEPORT), as `statpulse serve "
        "--workers N`: each admits its share of the admission limit",
    )
    parser.add_argument(
        "--sqlite-server-processes",
        type=int,
        default=1,
        help="the same on SQLite (one writer at a time: more processes only contend for its "
        "file lock)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=2,
        help="client processes sharing out the runners (and --wave, --handshakes)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="cProfile the server process in the window, print the top N (inflates CPU)",
    )
    parser.add_argument("--databases", default="postgresql,sqlite")
    parser.add_argument("--pg", default=os.environ.get("STATPULSE_BENCH_POSTGRES_URL", DEFAULT_PG))
    args = parser.parse_args()
    args.connections = args.connections or (200 if args.quick else 10_000)
    args.sqlite_connections = args.sqlite_connections or args.connections
    args.duration = args.duration or (15.0 if args.quick else 60.0)
    args.ramp = args.ramp or (10.0 if args.quick else max(10.0, args.connections / 200))
    args.regions = min(len(REGIONS), max(1, args.regions))
    if min(args.server_processes, args.sqlite_server_processes, args.client_processes) < 1:
        parser.error("--server-processes, --sqlite-server-processes, --client-processes: >= 1")
    import uvloop

    uvloop.run(amain(args))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
