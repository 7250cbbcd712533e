"""End to end with real processes and real mutual TLS: one engine (`statpulse serve` with the
runner API), five remote runner processes (regions r1..r5) checking one local target. Two regions
fail (their runners run with the egress guard, which refuses the loopback target): the monitor
is degraded, not down. Runner r3 is killed with SIGKILL and restarted failing: three of five
regions fail and the monitor goes down. No result is stored twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port, running, statpulse, wait_for

pytestmark = pytest.mark.slow

REGIONS = ("r1", "r2", "r3", "r4", "r5")


class _Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@contextmanager
def _target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/health"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class _Runners:
    """Runner processes by region, each with its own spool directory and log file."""

    def __init__(self, root: Path, pki_dir: Path, engine: str) -> None:
        self.root = root
        self.pki_dir = pki_dir
        self.engine = engine
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self._logs: list[Any] = []

    def start(self, region: str, *, failing: bool) -> None:
        log = (self.root / f"runner-{region}.log").open("a")
        self._logs.append(log)
        env = {**os.environ, "NO_COLOR": "1", "STATPULSE_EGRESS_GUARD": str(failing).lower()}
        self.procs[region] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "statpulse",
                "runner",
                "--region",
                region,
                "--engine",
                self.engine,
                "--cert",
                str(self.pki_dir / f"runner-{region}.crt"),
                "--key",
                str(self.pki_dir / f"runner-{region}.key"),
                "--ca",
                str(self.pki_dir / "ca.crt"),
                "--spool",
                str(self.root / f"spool-{region}"),
            ],
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )

    def kill(self, region: str) -> None:
        proc = self.procs.pop(region)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs.values())

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.root.glob("runner-*.log"))
        )

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM every runner; their exit codes (None: did not stop in time, then killed)."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for region, proc in self.procs.items():
            try:
                codes[region] = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes[region] = None
        for log in self._logs:
            log.close()
        return codes


def _issue_pki(tmp_path: Path) -> Path:
    pki_dir = tmp_path / "pki"
    init = statpulse("pki", "init", "--dir", str(pki_dir), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    for region in REGIONS:
        issued = statpulse(
            "pki", "issue-runner", "--region", region, "--dir", str(pki_dir), cwd=tmp_path
        )
        assert issued.returncode == 0, issued.stderr
        cert, key = (Path(line) for line in issued.stdout.strip().splitlines()[-2:])
        assert cert.is_file() and key.is_file()
        # The runners find them under these names.
        assert cert == pki_dir / f"runner-{region}.crt", cert
        assert key == pki_dir / f"runner-{region}.key", key
    return pki_dir


def test_quorum_over_five_runner_processes_and_a_killed_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("STATPULSE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STATPULSE_EMBEDDED_RUNNER", "false")

    pki_dir = _issue_pki(tmp_path)
    db = f"sqlite:///{tmp_path / 'regions.db'}"
    created = statpulse("apikey", "create", "--org", "regions", "--db", db, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    auth = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}

    port, runner_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    args = ("serve", "--db", db, "--runner-port", str(runner_port), "--pki", str(pki_dir))
    with _target() as target_url, running(*args, cwd=tmp_path, port=port):
        monitor = httpx.post(
            f"{base}/api/v1/monitors",
            headers=auth,
            json={
                "name": "Everywhere",
                "kind": "http",
                "target": target_url,
                "interval_s": 10,
                "timeout_s": 2,
                "failure_threshold": 1,
                "recovery_threshold": 1,
                "regions": list(REGIONS),
                "conditions": ["[STATUS] == 200"],
            },
        )
        assert monitor.status_code == 201, monitor.text
        monitor_id = monitor.json()["id"]

        def results() -> list[dict[str, Any]]:
            response = httpx.get(
                f"{base}/api/v1/monitors/{monitor_id}/results",
                headers=auth,
                params={"limit": 500},
                timeout=5,
            )
            response.raise_for_status()
            data: list[dict[str, Any]] = response.json()["data"]
            return data

        def status() -> str:
            response = httpx.get(f"{base}/api/v1/monitors/{monitor_id}", headers=auth, timeout=5)
            response.raise_for_status()
            value: str = response.json()["status"]
            return value

        runners = _Runners(tmp_path, pki_dir, f"https://127.0.0.1:{runner_port}")
        try:
            for region in REGIONS:
                runners.start(region, failing=region in ("r1", "r2"))

            def all_regions_degraded() -> tuple[str, list[dict[str, Any]]] | None:
                assert runners.alive(), runners.logs()
                found = results()
                if {r["region"] for r in found} != set(REGIONS):
                    return None
                current = status()
                return (current, found) if current == "degraded" else None

            _, found = wait_for(
                all_regions_degraded, timeout=45, what="results from five regions", log=tmp_path
            )
            latest: dict[str, dict[str, Any]] = {}
            for r in found:  # newest first
                latest.setdefault(r["region"], r)
            for region in ("r1", "r2"):
                assert not latest[region]["ok"]
                assert latest[region]["error_class"] == "blocked", latest[region]
            for region in ("r3", "r4", "r5"):
                assert latest[region]["ok"], latest[region]
                assert latest[region]["error_class"] is None
            assert status() == "degraded"  # 2 of 5 down: not a majority

            runners.kill("r3")
            runners.start("r3", failing=True)  # same spool directory

            def down() -> bool:
                assert runners.alive(), runners.logs()
                return status() == "down"

            wait_for(down, timeout=40, what="monitor down (3 of 5)", log=tmp_path)
            newest_r3 = next(r for r in results() if r["region"] == "r3")
            assert not newest_r3["ok"] and newest_r3["error_class"] == "blocked"

            final = results()
            ids = Counter(r["id"] for r in final)
            assert [i for i, n in ids.items() if n > 1] == []
            slots = Counter((r["region"], r["scheduled_at"]) for r in final)
            assert [s for s, n in slots.items() if n > 1] == [], final
        finally:
            codes = runners.stop_all()
        assert codes == dict.fromkeys(REGIONS, 0), runners.logs()
