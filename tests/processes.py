"""Helpers for tests that start real StatPulse processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def statpulse(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "statpulse", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )


@contextmanager
def running(*args: str, cwd: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """``statpulse ARGS`` in the background until /healthz answers; SIGTERM afterwards and
    assert a clean exit."""
    log = (cwd / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "statpulse", *args, "--port", str(port)],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        wait_for(lambda: _healthy(port), timeout=30, what="server start", proc=proc, log=cwd)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("server did not stop within 15 s of SIGTERM") from None
        finally:
            log.close()
        # uvicorn re-raises SIGTERM after a graceful shutdown, so "killed by SIGTERM" is clean.
        assert code in (0, -signal.SIGTERM), (cwd / "server.log").read_text()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(
    check: Callable[[], T | bool | None],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[str] | None = None,
    log: Path | None = None,
    interval: float = 0.25,
) -> T:
    """Poll ``check`` until it returns something truthy; fail with the server log otherwise."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        last = check()
        if last:
            return last  # type: ignore[return-value]
        time.sleep(interval)
    server_log = (log / "server.log").read_text() if log else ""
    raise AssertionError(f"timed out waiting for {what}; last={last!r}\n{server_log[-4000:]}")
