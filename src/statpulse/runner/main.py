"""``statpulse runner``: one remote runner process until SIGTERM/SIGINT (or a refusal)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import structlog

from statpulse.runner.remote import EngineError, RemoteRunner
from statpulse.security import pki
from statpulse.security.egress import EgressPolicy

log = structlog.get_logger(__name__)


async def run_remote_runner(
    *,
    region: str,
    engine_url: str,
    cert: Path,
    key: Path,
    ca: Path,
    spool_dir: Path,
    max_concurrent: int,
    egress: EgressPolicy,
) -> None:
    """Runs until a signal (then flushes into the spool and exits) or until the engine refuses
    this runner (EngineError: a revoked or foreign certificate, a region mismatch)."""
    context = pki.client_context(cert, key, ca)
    runner = RemoteRunner(
        region=region,
        engine_url=engine_url,
        context=context,
        spool_dir=spool_dir,
        max_concurrent=max_concurrent,
        egress=egress,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runner.start()
    log.info("runner started", region=region, engine=engine_url, spool=str(spool_dir))
    uploads = asyncio.ensure_future(runner.wait())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({uploads, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        await runner.stop()
        log.info("runner stopped", region=region, spooled=runner.spool.stats().records)
    if uploads.done() and not uploads.cancelled():
        with contextlib.suppress(asyncio.CancelledError):
            uploads.result()  # re-raises EngineError


__all__ = ["EngineError", "run_remote_runner"]
