"""CPU, timing and memory of the check runner against Prometheus blackbox_exporter.

    python bench/runner.py [--quick] [--monitors N] [--duration S] [--cases http,https,...]
                           [--profile CASE]

N monitors (default 10,000) at a 10 s interval run against a stock Debian nginx on loopback
(started here on free ports with a temporary config; plain HTTP and an HTTPS server block with a
self-signed certificate made here with `cryptography`). The runner under test is the real code,
`statpulse.runner.agent.Runner` (Scheduler -> run_check -> ProbeContext, results through the
Uploader to a send that drops them) on uvloop, in a child process pinned to one core; nginx and
the load driver sit on another core. Cases: plain HTTP, HTTPS (fresh TLS handshake per check),
TCP connect, mixed (half HTTPS), and overload (about 3x the rate one core can sustain, derived
from the HTTP case): the runner must shed load (counted as missed) and keep lateness bounded.

blackbox_exporter (Debian `prometheus-blackbox-exporter`, GOMAXPROCS=1) is pinned to the same
core and measured at a different time (right after the runner case of the same kind), driven
from a separate process (an aiohttp keep-alive
client on the other core issuing `/probe?target=...&module=...` at the same fixed rate); its CPU
comes from /proc/PID/stat before and after the window.

Lateness is `time.time()` at check start minus the scheduled time, for every check started in
the measured window; missed runs come from the runner's Metrics counters. CPU is the child's
user+system time in the window (after a warm-up) divided by the checks completed in it.

Missing nginx / blackbox_exporter binaries are installed with scripts/install-debian-packages.
Every process started here is stopped on exit, Ctrl-C included. `--quick` ends within ~2 min
(8 s windows), a full run in ~9 min (60 s windows). The last line printed is one JSON object
(figures of the plain HTTP case, then per-case keys). See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import ipaddress
import json
import multiprocessing as mp
import os
import platform
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "scripts" / "install-debian-packages"
DEB_PACKAGES = ("nginx-light|nginx", "prometheus-blackbox-exporter")
BODY = b"<!doctype html><title>ok</title><p>ok</p>\n"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# What the issue asks for: runner CPU per check at most this fraction of blackbox_exporter's.
TARGET_RATIO = {"http": 0.5, "https": 0.9, "tcp": 0.33, "mixed": 0.7}
BLACKBOX_MODULE = {"http": "http_2xx", "https": "https", "tcp": "tcp_connect"}
RUNNER_CASES = ("http", "https", "tcp", "mixed", "overload")
BLACKBOX_CASES = ("http", "https", "tcp", "mixed")


# --------------------------------------------------------------------------------------------
# Targets: monitors and the URLs they check


@dataclass(frozen=True)
class Ports:
    http: int
    https: int
    blackbox: int = 0


def kind_of(case: str, i: int) -> str:
    """The check kind of monitor ``i`` in a case: mixed alternates plain HTTP and HTTPS."""
    if case == "mixed":
        return "https" if i % 2 else "http"
    return "http" if case == "overload" else case


def target_of(kind: str, i: int, ports: Ports) -> str:
    """A distinct target per monitor (real monitors do not share one URL), same nginx file."""
    if kind == "tcp":
        return f"127.0.0.1:{ports.http}"
    port = ports.https if kind == "https" else ports.http
    return f"{kind}://127.0.0.1:{port}/index.html?m={i}"


# --------------------------------------------------------------------------------------------
# Machine, binaries, processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(*candidates: str) -> str | None:
    for name in candidates:
        path = shutil.which(name) or (name if os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


def ensure_binaries() -> tuple[str, str]:
    def find() -> tuple[str | None, str | None]:
        return (
            find_binary("nginx", "/usr/sbin/nginx"),
            find_binary("prometheus-blackbox-exporter", "/usr/bin/prometheus-blackbox-exporter"),
        )

    nginx, blackbox = find()
    if nginx is None or blackbox is None:
        print(f"installing {' '.join(DEB_PACKAGES)} with {INSTALL.relative_to(REPO)}", flush=True)
        subprocess.run([str(INSTALL), *DEB_PACKAGES], check=True)
        nginx, blackbox = find()
    if nginx is None or blackbox is None:
        sys.exit("nginx or prometheus-blackbox-exporter still missing after install")
    return nginx, blackbox


def version_of(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "?"
    return ((out.stdout + out.stderr).strip().splitlines() or ["?"])[0]


def machine(nginx: str, blackbox: str) -> dict[str, Any]:
    import aiohttp
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
        "uvloop": uvloop.__version__,
        "aiohttp": aiohttp.__version__,
        "nginx": version_of([nginx, "-v"]).removeprefix("nginx version: "),
        "blackbox_exporter": version_of([blackbox, "--version"]),
    }


def pin(core: int) -> Callable[[], None]:
    def pin_self() -> None:
        os.sched_setaffinity(0, {core})

    return pin_self


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def proc_cpu_s(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of a whole process (all threads), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK


def core_busy_s(core: int) -> float:
    """CPU seconds the core has spent busy (anything but idle and iowait), from /proc/stat."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(f"cpu{core} "):
            ticks = [int(x) for x in line.split()[1:]]
            idle = ticks[3] + ticks[4]
            return (sum(ticks[:8]) - idle) / CLK_TCK
    return float("nan")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_for_port(port: int, proc: subprocess.Popen[bytes], what: str, log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    sys.exit(f"{what} did not listen on {port}:\n{log.read_text()[-2000:]}")


def self_signed(tmp: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "statpulse-bench.localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


NGINX_CONF = """\
{user}worker_processes 1;
worker_rlimit_nofile 65536;
events {{ worker_connections 32768; }}
http {{
    access_log off;
    sendfile on;
    keepalive_timeout 30;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type text/html;
    server {{
        listen 127.0.0.1:{http} backlog=4096;
        root {tmp}/www;
    }}
    server {{
        listen 127.0.0.1:{https} ssl backlog=4096;
        root {tmp}/www;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        # A full handshake for every check, as a monitor should measure it.
        ssl_session_cache off;
        ssl_session_tickets off;
    }}
}}
"""


def start_nginx(nginx: str, tmp: Path, ports: Ports, core: int) -> subprocess.Popen[bytes]:
    cert, key = self_signed(tmp)
    (tmp / "www").mkdir()
    (tmp / "www" / "index.html").write_bytes(BODY)
    # As root, nginx's workers would switch to `nobody`, who cannot read the private temp dir.
    user = "user root;\n" if os.geteuid() == 0 else ""
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            user=user, tmp=tmp, http=ports.http, https=ports.https, cert=cert, key=key
        )
    )
    log = tmp / "nginx.log"
    cmd = [nginx, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(conf)]
    cmd += ["-g", f"daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log warn;"]
    proc = subprocess.Popen(
        cmd,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        preexec_fn=pin(core),
        start_new_session=True,  # Ctrl-C reaches us, and we stop it
    )
    wait_for_port(ports.http, proc, "nginx", log)
    wait_for_port(ports.https, proc, "nginx", log)
    return proc


BLACKBOX_CONF = """\
modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
  https:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      tls_config:
        insecure_skip_verify: true
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
"""


def start_blackbox(blackbox: str, tmp: Path, port: int, core: int) -> subprocess.Popen[bytes]:
    conf = tmp / "blackbox.yml"
    conf.write_text(BLACKBOX_CONF)
    log = tmp / "blackbox.log"
    proc = subprocess.Popen(
        [
            blackbox,
            f"--config.file={conf}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "GOMAXPROCS": "1"},
        preexec_fn=pin(core),  # before exec: every thread inherits it
        start_new_session=True,
    )
    wait_for_port(port, proc, "blackbox_exporter", log)
    return proc


# --------------------------------------------------------------------------------------------
# The runner under test (child process)


@dataclass(frozen=True)
class RunnerCase:
    name: str
    monitors: int
    interval_s: int
    warmup_s: float
    duration_s: float
    ports: Ports
    core: int
    aux_core: int  # nginx's
    profile: str | None = None  # write cProfile stats of the window to this path


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_runner_case(case: RunnerCase, conn: Any) -> None:
    """Child process: run the real Runner on uvloop, pinned to ``case.core``."""
    os.sched_setaffinity(0, {case.core})
    with contextlib.suppress(ValueError, OSError):
        _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    import uvloop

    from statpulse.logging import configure

    configure(level="warning")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the parent cleans up
        conn.send(uvloop.run(_runner_case(case)))


async def _runner_case(case: RunnerCase) -> dict[str, Any]:
    from statpulse.metrics import Metrics
    from statpulse.model import CheckResult, CheckSpec, HttpOptions, new_id
    from statpulse.runner.agent import Runner

    insecure = HttpOptions(verify_tls=False)  # blackbox's insecure_skip_verify
    specs: list[CheckSpec] = []
    for i in range(case.monitors):
        kind = kind_of(case.name, i)
        specs.append(
            CheckSpec(
                monitor_id=new_id(),
                kind="tcp" if kind == "tcp" else "http",
                target=target_of(kind, i, case.ports),
                interval_s=case.interval_s,
                timeout_s=5,
                http=insecure if kind == "https" else HttpOptions(),
            )
        )

    class Source:
        async def fetch(self) -> Sequence[CheckSpec]:
            return specs

    sent = 0
    latencies = array("d")  # milliseconds, as the checks measured them

    async def send(batch: Sequence[CheckResult]) -> None:
        nonlocal sent
        sent += len(batch)
        if recording:
            latencies.extend(r.latency_ms for r in batch if r.latency_ms is not None)

    lateness = array("d")
    recording = False

    class BenchRunner(Runner):
        async def _check(self, spec: CheckSpec, scheduled_at: float) -> None:
            if recording:
                lateness.append(time.time() - scheduled_at)
            await super()._check(spec, scheduled_at)

    metrics = Metrics()
    runner = BenchRunner(Source(), send, metrics, region="bench", refresh_interval_s=3600)

    def counters() -> dict[str, float]:
        out: dict[str, float] = {}
        for metric in metrics.registry.collect():
            for sample in metric.samples:
                if sample.name == "statpulse_checks_total":
                    key = f"checks_{sample.labels['outcome']}"
                elif sample.name == "statpulse_checks_missed_total":
                    key = f"missed_{sample.labels['reason']}"
                else:
                    continue
                out[key] = out.get(key, 0.0) + sample.value
        return out

    def cpu_s() -> tuple[float, float]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime, ru.ru_stime

    await runner.start()
    try:
        await asyncio.sleep(case.warmup_s)
        profiler = None
        if case.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        before, (user0, sys0), t0 = counters(), cpu_s(), time.monotonic()
        core0, aux0 = core_busy_s(case.core), core_busy_s(case.aux_core)
        recording = True
        await asyncio.sleep(case.duration_s)
        recording = False
        after, (user1, sys1), t1 = counters(), cpu_s(), time.monotonic()
        core1, aux1 = core_busy_s(case.core), core_busy_s(case.aux_core)
        if profiler is not None and case.profile:
            profiler.disable()
            profiler.dump_stats(case.profile)
    finally:
        await runner.stop()
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after.keys() | before.keys()}
    checks = sum(v for k, v in delta.items() if k.startswith("checks_"))
    missed = sum(v for k, v in delta.items() if k.startswith("missed_"))
    window = t1 - t0
    late = sorted(lateness)
    took = sorted(latencies)
    cpu = (user1 - user0) + (sys1 - sys0)
    return {
        "case": case.name,
        "monitors": case.monitors,
        "expected_per_s": case.monitors / case.interval_s,
        "checks_per_s": checks / window,
        "checks": int(checks),
        "down": int(delta.get("checks_down", 0)),
        "missed": int(missed),
        "missed_by_reason": {k[7:]: int(v) for k, v in delta.items() if k[:7] == "missed_" and v},
        "lateness_p50_ms": percentile(late, 0.5) * 1000,
        "lateness_p99_ms": percentile(late, 0.99) * 1000,
        "lateness_max_ms": (late[-1] if late else float("nan")) * 1000,
        "started": len(late),
        "latency_p50_ms": percentile(took, 0.5),
        "latency_p99_ms": percentile(took, 0.99),
        "cpu_s": cpu,
        "cpu_busy": cpu / window,
        "cpu_us_per_check": cpu / checks * 1e6 if checks else float("nan"),
        "cpu_sys_share": (sys1 - sys0) / cpu if cpu else float("nan"),
        # Other processes on the measured core during the window: should be ~0 %.
        "others_busy": max(0.0, (core1 - core0) - cpu) / window,
        # nginx's core: nginx itself needs ~10-25 %; much more means someone else is there.
        "aux_busy": (aux1 - aux0) / window if case.aux_core != case.core else float("nan"),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "results_sent": sent,
    }


# --------------------------------------------------------------------------------------------
# The blackbox_exporter driver (child process on the other core)


@dataclass(frozen=True)
class BlackboxCase:
    name: str
    rate: float
    warmup_s: float
    duration_s: float
    ports: Ports
    exporter_pid: int
    exporter_core: int
    core: int
    max_in_flight: int = 1024


def run_blackbox_case(case: BlackboxCase, conn: Any) -> None:
    os.sched_setaffinity(0, {case.core})
    import uvloop

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the parent cleans up
        conn.send(uvloop.run(_drive_blackbox(case)))


async def _drive_blackbox(case: BlackboxCase) -> dict[str, Any]:
    """Issue /probe requests at a fixed rate (open loop, bounded in flight) over keep-alive."""
    import aiohttp

    base = f"http://127.0.0.1:{case.ports.blackbox}/probe"
    urls = []
    for i in range(1000):
        kind = kind_of(case.name, i)
        target = quote(target_of(kind, i, case.ports), safe="")
        urls.append(f"{base}?module={BLACKBOX_MODULE[kind]}&target={target}")
    ok = failed = dropped = 0
    in_flight = 0
    counting = False

    connector = aiohttp.TCPConnector(limit=case.max_in_flight, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def probe(url: str) -> None:
            nonlocal ok, failed, in_flight
            try:
                async with session.get(url) as resp:
                    body = await resp.read()
                success = resp.status == 200 and b"\nprobe_success 1" in body
            except (aiohttp.ClientError, OSError):
                success = False
            finally:
                in_flight -= 1
            if counting:
                if success:
                    ok += 1
                else:
                    failed += 1

        tasks: set[asyncio.Task[None]] = set()
        start = time.monotonic()
        window_start = start + case.warmup_s
        end = window_start + case.duration_s
        sent = 0
        t0 = t1 = 0.0
        cpu0 = cpu1 = (0.0, 0.0)
        core0 = core1 = 0.0
        while True:
            now = time.monotonic()
            if not t0 and now >= window_start:
                counting, cpu0, t0 = True, proc_cpu_s(case.exporter_pid), now
                core0 = core_busy_s(case.exporter_core)
            elif t0 and now >= end:
                counting = False
                cpu1, t1 = proc_cpu_s(case.exporter_pid), now
                core1 = core_busy_s(case.exporter_core)
                break
            due = int((now - start) * case.rate)
            while sent < due:
                sent += 1
                if in_flight >= case.max_in_flight:
                    dropped += counting
                    continue
                in_flight += 1
                task = asyncio.create_task(probe(urls[sent % len(urls)]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.001)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    window = t1 - t0
    probes = ok + failed
    cpu = (cpu1[0] - cpu0[0]) + (cpu1[1] - cpu0[1])
    return {
        "case": case.name,
        "rate": case.rate,
        "probes_per_s": probes / window,
        "ok": ok,
        "failed": failed,
        "dropped": dropped,
        "cpu_s": cpu,
        "cpu_busy": cpu / window,
        "cpu_us_per_probe": cpu / probes * 1e6 if probes else float("nan"),
        "cpu_sys_share": (cpu1[1] - cpu0[1]) / cpu if cpu else float("nan"),
        "others_busy": max(0.0, (core1 - core0) - cpu) / window,
        "rss_mb": proc_rss_mb(case.exporter_pid),
    }


# --------------------------------------------------------------------------------------------
# Orchestration


def in_child(target: Callable[[Any, Any], None], case: Any, timeout: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")  # a fresh interpreter: RSS is the runner's own
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=target, args=(case, child), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(timeout):
            raise RuntimeError(f"case {case.name} gave no result within {timeout:.0f} s")
        result: dict[str, Any] = parent.recv()
        proc.join(15)
        return result
    except EOFError:
        raise RuntimeError(f"case {case.name} died (exit code {proc.exitcode})") from None
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join(5)


@contextlib.contextmanager
def sigterm_as_exit() -> Iterator[None]:
    def handler(_signum: int, _frame: object) -> None:
        raise SystemExit(143)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:,.{digits}f}"


def print_table(runner: dict[str, dict[str, Any]], blackbox: dict[str, dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(170, shutil.get_terminal_size().columns))
    table = Table(
        title="StatPulse runner (one process, one core) vs blackbox_exporter (GOMAXPROCS=1)",
        caption="late: check start - scheduled time; took: the checks' own latency; "
        "CPU s/1k: CPU seconds per 1,000 checks; core %: of the measured core (sys %: kernel "
        "share); others %: other processes on that core (should be ~0); nginx core %: all of "
        "the other core (nginx needs 10-25 %)",
    )
    columns = ("case", "monitors", "checks/s", "offered/s", "missed", "down",
               "late p50/p99/max ms", "took p50/p99 ms", "CPU s/1k", "core %", "sys %",
               "others %", "nginx core %", "RSS MB", "blackbox s/1k", "ratio",
               "target")  # fmt: skip
    for col in columns:
        table.add_column(col, justify="left" if col == "case" else "right")
    for name, r in runner.items():
        b = blackbox.get("http" if name == "overload" else name)
        ratio = r["cpu_us_per_check"] / b["cpu_us_per_probe"] if b else None
        target = TARGET_RATIO.get(name)
        table.add_row(
            name,
            f"{r['monitors']:,}",
            fmt(r["checks_per_s"], 0),
            fmt(r["expected_per_s"], 0),
            f"{r['missed']:,}",
            f"{r['down']:,}",
            f"{fmt(r['lateness_p50_ms'], 2)} / {fmt(r['lateness_p99_ms'], 2)} / "
            f"{fmt(r['lateness_max_ms'], 1)}",
            f"{fmt(r['latency_p50_ms'], 1)} / {fmt(r['latency_p99_ms'], 1)}",
            fmt(r["cpu_us_per_check"] / 1000, 3),
            fmt(r["cpu_busy"] * 100, 0),
            fmt(r["cpu_sys_share"] * 100, 0),
            fmt(r["others_busy"] * 100, 0),
            fmt(r["aux_busy"] * 100, 0),
            fmt(r["rss_mb"], 0),
            fmt(b["cpu_us_per_probe"] / 1000, 3) if b else "-",
            fmt(ratio, 2),
            f"≤ {target}" if target else "-",
        )
    console.print(table)
    bb = Table(title="blackbox_exporter, driven at the runner's rate from the other core")
    columns = ("case", "rate/s", "probes/s", "ok", "failed", "dropped", "CPU s/1k", "µs/probe",
               "core %", "sys %", "others %", "RSS MB")  # fmt: skip
    for col in columns:
        bb.add_column(col, justify="left" if col == "case" else "right")
    for name, b in blackbox.items():
        bb.add_row(
            name,
            fmt(b["rate"], 0),
            fmt(b["probes_per_s"], 0),
            f"{b['ok']:,}",
            f"{b['failed']:,}",
            f"{b['dropped']:,}",
            fmt(b["cpu_us_per_probe"] / 1000, 3),
            fmt(b["cpu_us_per_probe"], 0),
            fmt(b["cpu_busy"] * 100, 0),
            fmt(b["cpu_sys_share"] * 100, 0),
            fmt(b["others_busy"] * 100, 0),
            fmt(b["rss_mb"], 0),
        )
    if blackbox:
        console.print(bb)
    for name, r in runner.items():
        if r["missed_by_reason"]:
            console.print(f"missed in {name}: {r['missed_by_reason']}")
    console.print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def summary(
    runner: dict[str, dict[str, Any]], blackbox: dict[str, dict[str, Any]], info: dict[str, Any]
) -> dict[str, Any]:
    def r3(x: float) -> float | None:
        return None if x != x else round(x, 3)

    out: dict[str, Any] = {}
    for name, r in runner.items():
        prefix = "" if name == "http" else f"{name}_"
        b = blackbox.get("http" if name == "overload" else name)
        out[f"{prefix}checks_per_s"] = r3(r["checks_per_s"])
        out[f"{prefix}missed"] = r["missed"]
        out[f"{prefix}down"] = r["down"]
        out[f"{prefix}lateness_p50_ms"] = r3(r["lateness_p50_ms"])
        out[f"{prefix}lateness_p99_ms"] = r3(r["lateness_p99_ms"])
        out[f"{prefix}lateness_max_ms"] = r3(r["lateness_max_ms"])
        out[f"{prefix}cpu_us_per_check"] = r3(r["cpu_us_per_check"])
        out[f"{prefix}rss_mb"] = r3(r["rss_mb"])
        out[f"{prefix}check_latency_p50_ms"] = r3(r["latency_p50_ms"])
        out[f"{prefix}check_latency_p99_ms"] = r3(r["latency_p99_ms"])
        out[f"{prefix}others_busy_pct"] = r3(r["others_busy"] * 100)
        out[f"{prefix}nginx_core_busy_pct"] = r3(r["aux_busy"] * 100)
        if b:
            out[f"{prefix}blackbox_cpu_us_per_probe"] = r3(b["cpu_us_per_probe"])
            out[f"{prefix}ratio"] = r3(r["cpu_us_per_check"] / b["cpu_us_per_probe"])
        if name == "overload":
            out["overload_monitors"] = r["monitors"]
            out["overload_offered_per_s"] = r["expected_per_s"]
    for name, b in blackbox.items():
        if name not in runner:
            out[f"{name}_blackbox_cpu_us_per_probe"] = r3(b["cpu_us_per_probe"])
    out["monitors"] = runner.get("http", {}).get("monitors")
    out["machine"] = info
    return out


def runner_case(
    name: str,
    args: argparse.Namespace,
    done: dict[str, dict[str, Any]],
    ports: Ports,
    cores: tuple[int, int],
) -> RunnerCase:
    monitors = args.monitors
    if name == "overload":
        rate = args.overload_rate
        if rate is None:
            # About 3x what one core sustains: 1 s of CPU / the CPU of one plain HTTP check.
            base = done.get("http", {}).get("cpu_us_per_check")
            sustainable = 1e6 / base if base else 3 * args.monitors / args.interval
            rate = args.overload_factor * sustainable
        monitors = round(rate * args.interval)
    return RunnerCase(
        name=name,
        monitors=monitors,
        interval_s=args.interval,
        warmup_s=args.warmup,
        duration_s=args.duration,
        ports=ports,
        core=cores[0],
        aux_core=cores[1],
        profile=str(REPO / f"bench-runner-{name}.prof") if args.profile == name else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short windows; ends within ~2 min")
    parser.add_argument("--monitors", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=10, help="seconds between checks")
    parser.add_argument("--duration", type=float, help="measured seconds per runner case")
    parser.add_argument("--blackbox-duration", type=float, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, help="seconds before each measured window")
    parser.add_argument("--cases", default=",".join(RUNNER_CASES), help="runner cases to run")
    parser.add_argument("--blackbox-cases", default=",".join(BLACKBOX_CASES))
    parser.add_argument(
        "--overload-factor", type=float, default=3.0, help="x the rate one core sustains"
    )
    parser.add_argument("--overload-rate", type=float, help="checks/s offered in overload")
    parser.add_argument("--profile", metavar="CASE", help="cProfile this runner case (slower)")
    parser.add_argument("--core", type=int, help="core for the runner and blackbox_exporter")
    args = parser.parse_args()
    args.duration = args.duration or (8.0 if args.quick else 60.0)
    bb_duration = args.blackbox_duration or (4.0 if args.quick else 30.0)
    if args.warmup is None:
        args.warmup = 1.5 if args.quick else 3.0
    cases = [c for c in args.cases.split(",") if c]
    bb_cases = [c for c in args.blackbox_cases.split(",") if c]
    for c in cases + bb_cases:
        if c not in RUNNER_CASES or (c in bb_cases and c not in BLACKBOX_CASES):
            parser.error(f"unknown case {c!r}")

    cores = sorted(os.sched_getaffinity(0))
    core = args.core if args.core is not None else cores[0]
    aux = next((c for c in cores if c != core), core)
    if aux == core:
        print("warning: one core only: nginx and the load driver share the measured core")
    os.sched_setaffinity(0, {aux})

    nginx, blackbox_bin = ensure_binaries()
    info = machine(nginx, blackbox_bin)
    info["cores"] = {"measured": core, "nginx_and_driver": aux}
    print(
        f"machine: {info['nproc']} cpus ({info['cpu']}), load {info['loadavg']}, "
        f"kernel {info['kernel']}, python {info['python']}, uvloop {info['uvloop']}, "
        f"aiohttp {info['aiohttp']}, nginx {info['nginx']}, {info['blackbox_exporter']}",
        flush=True,
    )

    runner: dict[str, dict[str, Any]] = {}
    blackbox: dict[str, dict[str, Any]] = {}
    started: list[subprocess.Popen[bytes]] = []
    with sigterm_as_exit(), tempfile.TemporaryDirectory(prefix="statpulse-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ports = Ports(http=free_port(), https=free_port(), blackbox=free_port())
        try:
            started.append(start_nginx(nginx, tmp, ports, aux))
            exporter = None
            if bb_cases:
                # Idle (and pinned to the measured core) while the runner is measured.
                exporter = start_blackbox(blackbox_bin, tmp, ports.blackbox, core)
                started.append(exporter)
            # Each runner case right before blackbox_exporter's case of the same kind, so that
            # the two figures of a ratio are measured minutes, not quarters of an hour, apart.
            order = [c for c in RUNNER_CASES if c in cases or c in bb_cases]
            for name in order:
                if name in cases:
                    case = runner_case(name, args, runner, ports, (core, aux))
                    monitors, duration = case.monitors, case.duration_s
                    print(f"runner {name}: {monitors:,} monitors, {duration:.0f} s", flush=True)
                    runner[name] = in_child(run_runner_case, case, case.warmup_s + duration + 120)
                    if case.profile:
                        print_profile(case.profile)
                if name in bb_cases and exporter is not None:
                    rate = args.monitors / args.interval
                    print(f"blackbox_exporter {name}: {rate:,.0f}/s, {bb_duration:.0f} s")
                    bcase = BlackboxCase(
                        name=name,
                        rate=rate,
                        warmup_s=min(args.warmup, 1.0),
                        duration_s=bb_duration,
                        ports=ports,
                        exporter_pid=exporter.pid,
                        exporter_core=core,
                        core=aux,
                    )
                    blackbox[name] = in_child(run_blackbox_case, bcase, bb_duration + 60)
        finally:
            for proc in reversed(started):
                stop_process(proc)
    info["loadavg_after"] = os.getloadavg()
    print_table(runner, blackbox)
    print(json.dumps(summary(runner, blackbox, info)))


def print_profile(path: str) -> None:
    import pstats

    print(f"cProfile of the measured window ({path}); top 30 by own time:")
    pstats.Stats(path).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # every process started here has been stopped by then
        sys.exit("interrupted")
