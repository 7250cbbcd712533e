"""Requests/s of the public status page ``/s/{slug}`` served from the render cache, against the
same page rendered on every request, with the server's own CPU beside wrk's figures.

    python bench/status_page.py [--quick] [--duration S] [--connections N]

A real ``statpulse serve`` (single uvicorn worker, SQLite in a temporary directory, embedded
runner off, logs at warning) pinned to core 1; ``wrk`` (Debian; installed with
scripts/install-debian-packages when missing) pinned to core 0, keep-alive, ``-t1``,
``Accept-Encoding: gzip``. The page has 20 components (each with a monitor) and 90 days of
results, seeded through the store before the server starts.

Cases (each its own server process, one after the other):

- ``cached``: the production code (``python -m statpulse serve``; ``routes.CachedPages``
  answers fresh cache hits before FastAPI's routing).
- ``uncached`` (baseline): the same server with ``RenderCache.get`` replaced, in that process
  only, by a render on every request (``rendered(await render())``: the page's queries, Jinja,
  the gzip at level 9 that GZipMiddleware did before the cache, and the ETag hash).
- ``cached_identity`` (full run only): the cached page to a client that does not accept gzip.

Prints the machine (nproc, CPU, load averages before and after), a table, and as its last line
one JSON object (keys without prefix: the ``cached`` case; ``uncached_*``; ``cases`` has every
figure of every case).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SLUG = "bench"
COMPONENTS = 20
DAYS = 90
CLIENT_CORE, SERVER_CORE = 0, 1

UNCACHED = """
import sys
from statpulse.web.public import render_cache as rc

async def _every_time(self, key, render):
    return rc.rendered(await render())

rc.RenderCache.get = _every_time
from statpulse.cli import main
sys.argv[0] = "statpulse"
main()
"""
LAUNCHERS = {"uncached": UNCACHED}


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    wrk = shutil.which("wrk")
    version = "?"
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        version = (out.stdout + out.stderr).split("\n", 1)[0].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "wrk": version,
    }


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        say("wrk missing: scripts/install-debian-packages wrk")
        subprocess.run([str(REPO / "scripts" / "install-debian-packages"), "wrk"], check=True)
        found = shutil.which("wrk")
    if found is None:
        sys.exit("wrk is not installed")
    return found


# --------------------------------------------------------------------------------------------
# Seeding


async def seed(url: str, interval_s: int) -> int:
    """20 monitors with components on page ``bench``, results every ``interval_s`` for 90
    days in one region; returns the rows stored."""
    from statpulse.model import CheckResult, MonitorConfig, new_id
    from statpulse.store.sql import open_store

    store = await open_store(url)
    try:
        org = await store.create_org("bench", "Bench")
        page = await store.create_page(org.id, SLUG, "Bench status", "Twenty components.")
        ids = []
        for i in range(COMPONENTS):
            name = f"Service {i:02d}"
            config = MonitorConfig(
                name=name, kind="http", target=f"https://s{i}.example.com/health", regions=("eu",)
            )
            monitor = await store.create_monitor(org.id, config)
            await store.create_component(org.id, name, f"The {name} API", monitor.id, [page.id])
            ids.append(monitor.id)
        rng = random.Random(1)
        end = datetime.now(UTC).replace(microsecond=0)
        at = end - timedelta(days=DAYS)
        batch: list[CheckResult] = []
        stored = 0
        while at < end:
            for monitor_id in ids:
                ok = rng.random() >= 0.01
                batch.append(
                    CheckResult(
                        id=new_id(),
                        monitor_id=monitor_id,
                        region="eu",
                        scheduled_at=at,
                        started_at=at,
                        latency_ms=round(40 * rng.lognormvariate(0, 0.4), 3) if ok else None,
                        ok=ok,
                        status_code=200 if ok else None,
                    )
                )
            if len(batch) >= 5000:
                stored += await store.add_results(batch)
                batch = []
            at += timedelta(seconds=interval_s)
        if batch:
            stored += await store.add_results(batch)
        return stored
    finally:
        await store.close()


# --------------------------------------------------------------------------------------------
# Server and load


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    log: Path


def start_server(tmp: Path, db: str, variant: str) -> Server:
    """``variant``: "production" (``python -m statpulse``) or a key of ``LAUNCHERS``."""
    port = free_port()
    args = ["serve", "--db", db, "--port", str(port)]
    if variant == "production":
        command = [sys.executable, "-m", "statpulse", *args]
    else:
        command = [sys.executable, "-c", LAUNCHERS[variant], *args]
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "STATPULSE_EMBEDDED_RUNNER": "false",
        "STATPULSE_LOG_LEVEL": "warning",
    }
    log = tmp / f"{variant}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            cwd=tmp,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: os.sched_setaffinity(0, {SERVER_CORE}),
        )
    server = Server(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.base}/healthz", timeout=1),
        ):
            return server
        time.sleep(0.2)
    stop_server(server)
    sys.exit(f"server did not start:\n{log.read_text()[-4000:]}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


def settle(pid: int, limit_s: float = 60) -> None:
    """Wait (up to ``limit_s``) until the server is idle: at start-up its retention job expires
    the seeded raw results older than the raw retention, which is not what is measured."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_s(pid)
        time.sleep(1)
        if cpu_s(pid) - before < 0.05:
            return


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def core_busy_s(core: int) -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            v = [int(x) for x in line.split()[1:]]
            return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    return float("nan")


def fetch(url: str, headers: dict[str, str]) -> tuple[int, str, int]:
    """Status, Content-Encoding and body size (as sent) of a GET."""
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        encoding = response.headers.get("Content-Encoding", "identity")
        return response.status, encoding, len(response.read())


def metrics_requests(base: str) -> float | None:
    """A request counter from the server's /metrics, if it exports one (None otherwise)."""
    with contextlib.suppress(OSError), urllib.request.urlopen(f"{base}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if re.match(r"^\w*http_requests_total(\{[^}]*\})? ", line):
                return float(line.rsplit(" ", 1)[1])
    return None


def to_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(out: str) -> dict[str, Any]:
    def grab(pattern: str) -> str | None:
        found = re.search(pattern, out)
        return found.group(1) if found else None

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests_per_s": float(grab(r"Requests/sec:\s+([\d.]+)") or "nan"),
        "requests": int(grab(r"(\d+) requests in") or 0),
        "p50_ms": to_ms(grab(r"\s50%\s+(\S+)") or "nanms"),
        "p99_ms": to_ms(grab(r"\s99%\s+(\S+)") or "nanms"),
        "non_2xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "transfer_per_s": grab(r"Transfer/sec:\s+(\S+)"),
    }


def run_case(
    wrk: str, server: Server, name: str, args: argparse.Namespace, *, gzip: bool
) -> dict[str, Any]:
    url = f"{server.base}/s/{SLUG}"
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    status, encoding, size = fetch(url, headers)  # warm: the first render, connections, caches
    if status != 200:
        sys.exit(f"{name}: GET {url} -> {status}")
    command = ["taskset", "-c", str(CLIENT_CORE), wrk, "-t1", f"-c{args.connections}"]
    command += [f"-d{args.duration}s", "--latency", "--timeout", "10s"]
    if gzip:
        command += ["-H", "Accept-Encoding: gzip"]
    command.append(url)
    requests_before = metrics_requests(server.base)
    cpu0, core0, t0 = cpu_s(server.proc.pid), core_busy_s(SERVER_CORE), time.monotonic()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - t0
    cpu1, core1 = cpu_s(server.proc.pid), core_busy_s(SERVER_CORE)
    requests_after = metrics_requests(server.base)
    figures = parse_wrk(out)
    server_cpu = cpu1 - cpu0
    figures.update(
        server_cpu_pct=100 * server_cpu / wall,
        server_cpu_us_per_request=1e6 * server_cpu / max(1, figures["requests"]),
        server_core_others_pct=100 * max(0.0, (core1 - core0) - server_cpu) / wall,
        server_requests=(
            None
            if requests_before is None or requests_after is None
            else requests_after - requests_before
        ),
        body_bytes=size,
        content_encoding=encoding,
        command=" ".join(command),
    )
    say(f"  {name}: {out.strip().splitlines()[-2]}, server CPU {figures['server_cpu_pct']:.0f} %")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5 s per case, hourly results")
    parser.add_argument("--duration", type=int, help="seconds of wrk per case (quick 5, full 10)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--interval", type=int, help="seeded result interval (quick 3600, 600)")
    args = parser.parse_args()
    args.duration = args.duration or (5 if args.quick else 10)
    interval = args.interval or (3600 if args.quick else 600)
    wrk = ensure_wrk()
    info = machine()
    info["loadavg_before"] = os.getloadavg()
    say(f"machine: {json.dumps(info)}")
    cases: dict[str, dict[str, Any]] = {}
    plan = [
        ("cached", "production", True),
        ("uncached", "uncached", True),
    ]
    if not args.quick:
        plan.append(("cached_identity", "production", False))
    with tempfile.TemporaryDirectory(prefix="bench-status-page-") as tmp_name:
        tmp = Path(tmp_name)
        db = f"sqlite:///{tmp / 'bench.db'}"
        t0 = time.monotonic()
        rows = asyncio.run(seed(db, interval))
        say(f"seeded {COMPONENTS} components, {rows:,} results over {DAYS} days at {interval} s "
            f"in {time.monotonic() - t0:.1f} s")  # fmt: skip
        for name, variant, gzip in plan:
            server = start_server(tmp, db, variant)
            try:
                cases[name] = run_case(wrk, server, name, args, gzip=gzip)
            finally:
                stop_server(server)
    info["loadavg_after"] = os.getloadavg()
    report(cases, info, args, rows, interval)


def report(
    cases: dict[str, dict[str, Any]],
    info: dict[str, Any],
    args: argparse.Namespace,
    rows: int,
    interval: int,
) -> None:
    say("")
    say(f"GET /s/{SLUG}: {COMPONENTS} components, {DAYS} days ({rows:,} results at {interval} s), "
        f"wrk -t1 -c{args.connections} -d{args.duration}s on core {CLIENT_CORE}, one uvicorn "
        f"worker on core {SERVER_CORE}")  # fmt: skip
    say(f"load averages before {info['loadavg_before']}, after {info['loadavg_after']}")
    names = list(cases)
    say(f"{'':32}" + "".join(f"{n:>18}" for n in names))
    rows_fmt = [
        ("requests/s", "requests_per_s", "{:,.0f}"),
        ("latency p50 ms", "p50_ms", "{:.2f}"),
        ("latency p99 ms", "p99_ms", "{:.2f}"),
        ("non-2xx / socket errors", None, ""),
        ("server CPU % of a core", "server_cpu_pct", "{:.0f}"),
        ("server CPU µs per request", "server_cpu_us_per_request", "{:,.0f}"),
        ("others on the server core %", "server_core_others_pct", "{:.0f}"),
        ("server's request count", "server_requests", "{}"),
        ("body bytes (encoding)", None, ""),
    ]
    for label, key, fmt in rows_fmt:
        cells = []
        for n in names:
            c = cases[n]
            if label.startswith("non-2xx"):
                cells.append(f"{c['non_2xx']} / {c['socket_errors']}")
            elif label.startswith("body"):
                cells.append(f"{c['body_bytes']:,} ({c['content_encoding']})")
            elif c[key] is None:
                cells.append("not exported")
            else:
                cells.append(fmt.format(c[key]))
        say(f"{label:32}" + "".join(f"{cell:>18}" for cell in cells))
    cached, base = cases["cached"], cases["uncached"]
    met = "met" if cached["requests_per_s"] >= 3000 else "MISSED"
    ratio = cached["requests_per_s"] / base["requests_per_s"]
    say(f"cached / uncached requests/s: {ratio:.1f}x; target >= 3,000 requests/s: {met}")
    out: dict[str, Any] = {
        k: cached[k] for k in ("requests_per_s", "p50_ms", "p99_ms", "non_2xx", "socket_errors")
    }
    out["server_cpu_pct"] = cached["server_cpu_pct"]
    out["server_cpu_us_per_request"] = cached["server_cpu_us_per_request"]
    for k in ("requests_per_s", "p50_ms", "p99_ms", "non_2xx", "server_cpu_pct"):
        out[f"uncached_{k}"] = base[k]
    out["speedup"] = cached["requests_per_s"] / base["requests_per_s"]
    out["machine"] = info
    out["cases"] = cases
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
