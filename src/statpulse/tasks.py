"""Stopping a background task for sure.

``task.cancel()`` followed by ``await task`` hangs for ever when something inside the task
swallows the ``CancelledError`` (seen here: the notifications loop, cancelled during a store
call, went back to its ``asyncio.sleep`` with the cancellation lost, and a test's teardown
waited 300 s). :func:`cancel_and_wait` cancels again every ``retry_s`` until the task is done,
so a lost cancellation costs a second, not a hang."""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

log = structlog.get_logger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any], *, retry_s: float = 1.0) -> None:
    """Cancel ``task`` and wait until it is done (re-cancelling while it is not); what it
    raised, cancellation included, is consumed and not re-raised."""
    attempts = 0
    while not task.done():
        task.cancel()
        attempts += 1
        await asyncio.wait({task}, timeout=retry_s)
    if attempts > 1:
        log.warning("task swallowed its cancellation", task=task.get_name(), cancels=attempts)
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("task failed while stopping", task=task.get_name(), error=repr(exc))
