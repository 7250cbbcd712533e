"""``statpulse serve --workers N``: N processes sharing the web and runner ports.

Each process binds the ports with ``SO_REUSEPORT`` (the kernel spreads connections over them,
so the runner API's TLS handshakes use every core; each process admits 1/N of the uploads
``web/admission.py`` allows in database work at once), runs ingest and an evaluator in the
Redis Streams consumer group (so a batch is evaluated by one of them) and relays live updates
through Redis pub/sub. Only the first also runs the embedded runner, the heartbeat sweeper and
retention. The first process starts the others once its own
services are up (so the schema is migrated once), with the same command line and
``STATPULSE_WORKER_INDEX``, and stops them when it stops.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING

import structlog

if TYPE_CHECKING:
    from statpulse.web.app import StartupHook
    from statpulse.web.services import Services

log = structlog.get_logger(__name__)
STOP_TIMEOUT_S = 15


def listen(host: str, port: int) -> socket.socket:
    """A listening socket several processes can bind at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock


def spawn(count: int) -> list[subprocess.Popen[bytes]]:
    """Start workers 1..count-1 with this process's command line and environment."""
    children = []
    for index in range(1, count):
        env = {**os.environ, "STATPULSE_WORKER_INDEX": str(index)}
        argv = [sys.executable, "-m", "statpulse", *sys.argv[1:]]
        children.append(subprocess.Popen(argv, env=env))  # noqa: S603 (our own command line)
        log.info("worker started", index=index, pid=children[-1].pid)
    return children


def stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every worker, then wait (SIGKILL after STOP_TIMEOUT_S)."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def start_others(count: int) -> StartupHook:
    """A startup hook of the first worker: spawn the others, stop them at shutdown."""

    async def hook(_services: Services, stack: AsyncExitStack) -> None:
        children = spawn(count)
        stack.push_async_callback(asyncio.to_thread, stop, children)

    return hook
