"""Time from a check result accepted at ingest to the live update on a connected status page.

    python bench/check_to_page.py [--quick] [--events N] [--pause-ms MS] [--modes redis,memory]

Per mode, a real `statpulse serve` process (SQLite file in a temporary directory, no embedded
runner: STATPULSE_EMBEDDED_RUNNER=false, so nothing else produces results; JSON logs) with the
mutual-TLS runner API (`statpulse pki init` / `issue-runner --region eu`). Mode `redis` adds
`--redis URL` (bus on Redis Streams, live updates on Redis pub/sub); mode `memory` is the
in-process bus and broadcaster. Through the REST API: one monitor (regions ["eu"],
failure_threshold=1, recovery_threshold=1, interval 60 s) and a page `bench` showing it as a
component. A client follows the page's Server-Sent Events (`GET /s/bench/events`), and the
bench posts, as runner `eu` would, `{"results": [one result], "health": {...}}` to
`POST /runner/v1/results`, alternately failing and ok: with both thresholds at 1 every result
flips the monitor (up -> down -> up ...), so every result makes exactly one live event.

Per event (after warm-up flips): `post_to_event` = SSE `data:` line carrying the new status
read by the client - just before the POST; `post_to_ack` = the POST's 200 response read - just
before the POST; `ack_to_event` = event - ack (negative when the event came first). From the
server's JSON log line "monitor state changed" (written right after the evaluator published the
change): `post_to_published` and `published_to_event` (same machine, same wall clock). CPU per
timed event: the server process (all threads, /proc/PID/stat), Redis (the whole server, INFO
cpu) and this client; background loops during the pauses are included.

Redis: the default stream and group of `RedisStreamBus` on `--redis` (default
redis://127.0.0.1:6379/0, or STATPULSE_BENCH_REDIS_URL); the bench refuses to run if another
consumer of the group is active, and deletes the stream afterwards if it did not exist before.

Prints the machine, a table, and as its last line one JSON object: `p50_ms`, `p95_ms`, `p99_ms`
(Redis mode, post to event), then `<mode>_<series>_p50/p95/p99/max_ms` for every series,
`<mode>_<process>_cpu_ms_per_event`, `<mode>_loadavg_1m` (before and after the mode: on a
shared machine, read every figure beside it), `n` and `machine`. --quick: 100 events per mode
(~30 s).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
from redis import Redis

from benchlib import pct
from statpulse import __version__
from statpulse.model import CheckResult, ErrorClass
from statpulse.security import pki
from statpulse.wire import result_to_dict

SLUG = "bench"
REGION = "eu"
STREAM = "statpulse:results"  # RedisStreamBus defaults
GROUP = "evaluators"
LIVE_CHANNEL = "statpulse:live"
SERIES = ("post_to_event", "post_to_ack", "ack_to_event", "post_to_published", "published_to_event")
TARGET_P95_MS = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def statpulse(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "statpulse", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    if done.returncode != 0:
        sys.exit(f"statpulse {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@dataclass
class Server:
    """A `statpulse serve` process and what the bench needs to talk to it."""

    proc: subprocess.Popen[bytes]
    base: str
    runner_base: str
    token: str
    pki_dir: Path
    log: Path
    mode: str
    redis_url: str


def start_server(tmp: Path, mode: str, redis_url: str) -> Server:
    db = f"sqlite:///{tmp / 'bench.db'}"
    pki_dir = tmp / "pki"
    statpulse("pki", "init", "--dir", str(pki_dir), cwd=tmp)
    statpulse("pki", "issue-runner", "--region", REGION, "--dir", str(pki_dir), cwd=tmp)
    token = statpulse("apikey", "create", "--org", "bench", "--db", db, cwd=tmp)
    token = token.strip().splitlines()[-1]
    port, runner_port = free_port(), free_port()
    args = ["serve", "--db", db, "--port", str(port)]
    args += ["--runner-port", str(runner_port), "--pki", str(pki_dir)]
    if mode == "redis":
        args += ["--redis", redis_url]
    log = tmp / "server.log"
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "STATPULSE_EMBEDDED_RUNNER": "false",
        "STATPULSE_LOG_FORMAT": "json",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "statpulse", *args],
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return Server(
        proc,
        f"http://127.0.0.1:{port}",
        f"https://127.0.0.1:{runner_port}",
        token,
        pki_dir,
        log,
        mode,
        redis_url,
    )


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


async def wait_healthy(session: aiohttp.ClientSession, server: Server) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            break
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            async with session.get(f"{server.base}/healthz") as resp:
                if resp.status == 200:
                    return
        await asyncio.sleep(0.2)
    sys.exit(f"server did not start:\n{server.log.read_text()[-4000:]}")


async def set_up_page(session: aiohttp.ClientSession, server: Server) -> str:
    """The monitor (regions ["eu"], thresholds 1/1) on page `bench`; returns its id."""
    auth = {"Authorization": f"Bearer {server.token}"}
    api = f"{server.base}/api/v1"
    body = {
        "name": "Bench API",
        "kind": "http",
        "target": "https://bench.example.com/health",
        "interval_s": 60,
        "timeout_s": 5,
        "regions": [REGION],
        "failure_threshold": 1,
        "recovery_threshold": 1,
    }
    async with session.post(f"{api}/monitors", headers=auth, json=body) as resp:
        if resp.status != 201:
            sys.exit(f"create monitor: {resp.status} {await resp.text()}")
        monitor_id = str((await resp.json())["id"])
    page = {"slug": SLUG, "title": "Bench status"}
    async with session.post(f"{api}/pages", headers=auth, json=page) as resp:
        if resp.status != 201:
            sys.exit(f"create page: {resp.status} {await resp.text()}")
    component = {"name": "Bench API", "monitor_id": monitor_id, "pages": [SLUG]}
    async with session.post(f"{api}/components", headers=auth, json=component) as resp:
        if resp.status != 201:
            sys.exit(f"create component: {resp.status} {await resp.text()}")
    return monitor_id


@dataclass
class LiveClient:
    """Reads the page's SSE stream; every `data:` line lands in `events` as
    (perf_counter at read, component status)."""

    events: asyncio.Queue[tuple[float, str]] = field(default_factory=asyncio.Queue)
    connected: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self, session: aiohttp.ClientSession, url: str) -> None:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=None)) as resp:
            if resp.status != 200:
                sys.exit(f"GET {url}: {resp.status}")
            while True:
                line = await resp.content.readline()
                now = time.perf_counter()
                if not line:
                    return
                if line.startswith(b"data: "):
                    doc = json.loads(line[6:])
                    components = doc.get("components") or [{}]
                    self.events.put_nowait((now, str(components[0].get("status"))))
                    self.connected.set()


def make_result(monitor_id: uuid.UUID, ok: bool, at: datetime) -> CheckResult:
    return CheckResult(
        id=uuid.uuid4(),
        monitor_id=monitor_id,
        region=REGION,
        scheduled_at=at,
        started_at=at,
        latency_ms=12.5 if ok else None,
        ok=ok,
        status_code=200 if ok else None,
        error_class=None if ok else ErrorClass.CONNECT,
        error_message=None if ok else "bench: connection refused",
    )


@dataclass
class Sample:
    post: float  # perf_counter just before the POST
    ack: float
    event: float
    post_wall: float  # time.time() just before the POST
    status: str


@dataclass
class Cpu:
    """CPU used during the timed events: the server, Redis (whole server) and this client."""

    marks: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)

    def _read(self, server: Server) -> dict[str, float]:
        out = {"server": cpu_s(server.proc.pid), "client": time.process_time()}
        if server.mode == "redis" and (redis_s := redis_cpu_s(server.redis_url)) is not None:
            out["redis"] = redis_s
        return out

    def start(self, server: Server) -> None:
        self.marks = self._read(server)

    def stop(self, server: Server) -> None:
        now = self._read(server)
        self.used = {k: now[k] - v for k, v in self.marks.items() if k in now}


async def measure(
    server: Server, n: int, warmup: int, pause_s: float, say: Any
) -> tuple[list[Sample], Cpu]:
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as api:
        await wait_healthy(api, server)
        monitor_id = uuid.UUID(await set_up_page(api, server))
        live = LiveClient()
        reader = asyncio.create_task(live.run(api, f"{server.base}/s/{SLUG}/events"))
        await asyncio.wait_for(live.connected.wait(), 10)
        d = server.pki_dir
        ctx = pki.client_context(
            d / f"runner-{REGION}.crt", d / f"runner-{REGION}.key", d / "ca.crt"
        )
        connector = aiohttp.TCPConnector(ssl=ctx, limit=1)
        health = {"version": __version__, "spool_depth": 0, "spool_full": False}
        samples: list[Sample] = []
        cpu = Cpu()
        last_at = datetime.now(UTC) - timedelta(seconds=1)
        try:
            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as runner:
                # One health-only upload opens the kept-alive TLS connection, as a runner has.
                async with runner.post(
                    f"{server.runner_base}/runner/v1/results",
                    json={"results": [], "health": health},
                ) as resp:
                    if resp.status != 200:
                        sys.exit(f"runner API: {resp.status} {await resp.text()}")
                ok = True  # the first result takes the monitor from unknown to up
                for i in range(warmup + n):
                    if i == warmup:
                        cpu.start(server)
                    while not live.events.empty():  # heartbeats, initial state
                        live.events.get_nowait()
                    at = max(datetime.now(UTC), last_at + timedelta(microseconds=1))
                    last_at = at
                    body = json.dumps(
                        {
                            "results": [result_to_dict(make_result(monitor_id, ok, at))],
                            "health": health,
                        },
                        separators=(",", ":"),
                    ).encode()
                    expected = "up" if ok else "down"
                    post_wall = time.time()
                    t0 = time.perf_counter()
                    async with runner.post(
                        f"{server.runner_base}/runner/v1/results",
                        data=body,
                        headers={"Content-Type": "application/json"},
                    ) as resp:
                        answer = await resp.read()
                        t_ack = time.perf_counter()
                    if resp.status != 200 or json.loads(answer).get("accepted") != 1:
                        sys.exit(f"runner API: {resp.status} {answer!r}")
                    while True:
                        t_event, status = await asyncio.wait_for(live.events.get(), 10)
                        if status == expected:
                            break
                    if i >= warmup:
                        samples.append(Sample(t0, t_ack, t_event, post_wall, expected))
                        if (i - warmup + 1) % max(1, n // 5) == 0:
                            say(f"  {server.mode}: {i - warmup + 1}/{n} events")
                    ok = not ok
                    await asyncio.sleep(pause_s)
                cpu.stop(server)
        except TimeoutError:
            sys.exit(f"no live event within 10 s:\n{server.log.read_text()[-4000:]}")
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return samples, cpu


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def redis_cpu_s(url: str) -> float | None:
    with contextlib.suppress(Exception), Redis.from_url(url) as client:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    return None


def published_times(log: Path) -> list[tuple[float, str]]:
    """(wall time, to_status) of the evaluator's "monitor state changed" log lines."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if '"monitor state changed"' not in line:
            continue
        with contextlib.suppress(ValueError, KeyError):
            doc = json.loads(line)
            out.append((datetime.fromisoformat(doc["timestamp"]).timestamp(), doc["to_status"]))
    return out


def series(samples: list[Sample], published: list[tuple[float, str]]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in SERIES}
    for s in samples:
        out["post_to_event"].append((s.event - s.post) * 1000)
        out["post_to_ack"].append((s.ack - s.post) * 1000)
        out["ack_to_event"].append((s.event - s.ack) * 1000)
    # The log has one line per change, warm-up included: the last len(samples) are ours.
    tail = published[-len(samples) :] if len(published) >= len(samples) else []
    for s, (at, status) in zip(samples, tail, strict=False):
        if status != s.status:
            return {k: v for k, v in out.items() if k not in SERIES[3:]}
        post_to_published = (at - s.post_wall) * 1000
        out["post_to_published"].append(post_to_published)
        out["published_to_event"].append((s.event - s.post) * 1000 - post_to_published)
    return out


def redis_check(url: str) -> tuple[Redis, bool, str]:
    """Refuse to measure when another process consumes the group (it would take our batches);
    returns the client, whether our stream existed before, and the server's version."""
    client = Redis.from_url(url)
    version = str(client.info("server").get("redis_version"))
    existed = bool(client.exists(STREAM))
    if existed:
        with contextlib.suppress(Exception):
            for consumer in client.xinfo_consumers(STREAM, GROUP):
                if int(consumer.get("inactive", consumer.get("idle", 0))) < 60_000:
                    sys.exit(f"another consumer is active on {STREAM}/{GROUP}: {consumer}")
    return client, existed, version


def machine(redis_version: str | None) -> dict[str, Any]:
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
        "aiohttp": aiohttp.__version__,
        "uvloop": uvloop.__version__,
        "sqlite": sqlite3.sqlite_version,
        "redis": redis_version,
    }


def fmt(value: float) -> str:
    return "-" if value != value else f"{value:.2f}"


async def amain(args: argparse.Namespace) -> None:
    say = lambda text: print(text, flush=True)  # noqa: E731
    modes = [m for m in args.modes.split(",") if m]
    if unknown := set(modes) - {"redis", "memory"}:
        sys.exit(f"--modes: unknown {sorted(unknown)}")
    redis_client, existed, redis_version = (None, True, None)
    if "redis" in modes:
        redis_client, existed, redis_version = redis_check(args.redis)
    info = machine(redis_version)
    say(
        f"machine: {info['nproc']} cpus ({info['cpu']}), load {info['loadavg']}, kernel "
        f"{info['kernel']}, python {info['python']}, aiohttp {info['aiohttp']}, uvloop "
        f"{info['uvloop']}, SQLite {info['sqlite']}, Redis {redis_version}"
    )
    say(f"{args.events} events per mode after {args.warmup} warm-up, {args.pause_ms} ms apart")
    results: dict[str, dict[str, list[float]]] = {}
    cpu_used: dict[str, dict[str, float]] = {}
    load: dict[str, tuple[float, float]] = {}  # 1-minute load average before and after a mode
    try:
        for mode in modes:
            load_before = os.getloadavg()[0]
            with tempfile.TemporaryDirectory(prefix="statpulse-bench-") as tmp:
                server = start_server(Path(tmp), mode, args.redis)
                try:
                    samples, cpu = await measure(
                        server, args.events, args.warmup, args.pause_ms / 1000, say
                    )
                finally:
                    stop_server(server)
                results[mode] = series(samples, published_times(server.log))
                cpu_used[mode] = {k: v * 1000 / len(samples) for k, v in cpu.used.items()}
                load[mode] = (load_before, os.getloadavg()[0])
    finally:
        if redis_client is not None:
            if not existed:  # ours: leave the Redis database as we found it
                redis_client.delete(STREAM)
            redis_client.close()
    info["loadavg_after"] = os.getloadavg()

    say("")
    say(f"{'mode':<7} {'series':<19} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    out: dict[str, Any] = {}
    for mode, data in results.items():
        for name in SERIES:
            values = data.get(name, [])
            row = [pct(values, q) for q in (0.5, 0.95, 0.99)] + [max(values, default=math.nan)]
            say(f"{mode:<7} {name:<19} " + " ".join(f"{fmt(v):>8}" for v in row))
            for key, value in zip(("p50", "p95", "p99", "max"), row, strict=True):
                out[f"{mode}_{name}_{key}_ms"] = None if value != value else round(value, 3)
    say("")
    for mode, used in cpu_used.items():
        say(
            f"{mode}: CPU per event (ms): "
            + ", ".join(f"{k} {v:.1f}" for k, v in used.items())
            + (" (Redis: the whole server)" if "redis" in used else "")
            + f"; load {load[mode][0]:.2f} -> {load[mode][1]:.2f}"
        )
        out[f"{mode}_loadavg_1m"] = [round(x, 2) for x in load[mode]]
        for k, v in used.items():
            out[f"{mode}_{k}_cpu_ms_per_event"] = round(v, 2)
    headline = "redis" if "redis" in results else modes[0]
    p95 = out[f"{headline}_post_to_event_p95_ms"]
    say(
        f"\n{headline}: post to event p95 {fmt(p95)} ms (target < {TARGET_P95_MS:g} ms: "
        f"{'met' if p95 < TARGET_P95_MS else 'missed'})"
    )
    summary: dict[str, Any] = {
        "p50_ms": out[f"{headline}_post_to_event_p50_ms"],
        "p95_ms": p95,
        "p99_ms": out[f"{headline}_post_to_event_p99_ms"],
        "headline_mode": headline,
        "target_p95_ms": TARGET_P95_MS,
        **out,
        "n": args.events,
        "warmup": args.warmup,
        "pause_ms": args.pause_ms,
        "modes": modes,
        "machine": info,
    }
    print(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 events per mode (full: 1000)")
    parser.add_argument("--events", type=int, help="timed events per mode")
    parser.add_argument("--warmup", type=int, default=10, help="untimed flips first")
    parser.add_argument("--pause-ms", type=float, default=50, help="pause after each event")
    parser.add_argument("--modes", default="redis,memory", help="redis, memory or both")
    parser.add_argument(
        "--redis",
        default=os.environ.get("STATPULSE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    args = parser.parse_args()
    args.events = args.events or (100 if args.quick else 1000)
    uvloop.run(amain(args))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit("interrupted")
