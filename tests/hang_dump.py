"""A pytest plugin that explains a hung test: when one test (setup, call and teardown) has run
for ``HANG_DUMP_S`` seconds, it prints the stack of every asyncio task of every running event
loop and of every thread to stderr, once; the test goes on (pytest-timeout's ``timeout`` in
pyproject.toml fails it later). A hang in an async fixture's teardown otherwise shows only
``EpollSelector.select``: the task that waits is what tells the story.

Registered in tests/conftest.py (``pytest_plugins``)."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import traceback
from collections.abc import Iterator

import pytest

HANG_DUMP_S = float(os.environ.get("STATPULSE_HANG_DUMP_S", "240"))


def _running_loops() -> list[asyncio.AbstractEventLoop]:
    return [
        o for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and o.is_running()
    ]


def _dump(nodeid: str) -> None:
    out = sys.__stderr__
    if out is None:
        return
    print(f"\n=== {nodeid} still running after {HANG_DUMP_S:.0f} s ===", file=out)
    for loop in _running_loops():
        try:
            tasks = list(asyncio.all_tasks(loop))
        except RuntimeError:  # the set changed while read from this thread: try once more
            tasks = list(asyncio.all_tasks(loop))
        print(f"--- loop {loop!r}: {len(tasks)} tasks", file=out)
        for task in tasks:
            print(f"task {task.get_name()} {task!r}", file=out)
            task.print_stack(limit=12, file=out)
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        if frame is not None and thread is not threading.current_thread():
            print(f"--- thread {thread.name}", file=out)
            traceback.print_stack(frame, limit=15, file=out)
    out.flush()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    timer = threading.Timer(HANG_DUMP_S, _dump, args=(item.nodeid,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
