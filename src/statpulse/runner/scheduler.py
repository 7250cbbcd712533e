"""The scheduler: wakes at the next due time, starts checks, bounds work in flight, sheds load.

Timing. Runs are due at absolute wall-clock (epoch) times (see ``schedule``). The scheduler
sleeps to the earliest one with a precise timer: on Linux a ``timerfd`` armed at the absolute
``CLOCK_REALTIME`` deadline (sub-millisecond, one wake-up per deadline); elsewhere, or with an
injected clock, a loop timer rounded *up* to the loop's millisecond granularity and re-armed when
it fires early (uvloop's timers can fire ~1 ms early; they are never spun on). Every run due by
the time it wakes is started in that wake-up. Lateness (start of the check minus its scheduled
time, both on the same wall clock) is recorded for every run started; no run starts early.

Missed runs, counted in ``statpulse_checks_missed_total`` by reason, are never run in a burst:

- ``overlap``: the monitor's previous check is still running (or waiting) when the next is due;
  a slow target only holds its own monitor.
- ``behind``: the loop fell whole intervals behind (e.g. the process was stopped).
- ``overload``: the run could not start within ``max_lateness_s`` of its scheduled time.

Overload. At most ``max_concurrent`` checks run at once. Below that hard cap the scheduler keeps
an adaptive limit: whenever its own wake-up comes more than ``max_loop_lag_s`` late, the event
loop is saturated (CPU-bound), and the limit drops to 90 % of the checks in flight; each punctual
wake-up raises it by one again. Due runs beyond the limit wait; when a slot frees, the most recent
waiting run starts first (so under sustained overload the runs that do start are nearly on time)
and runs older than ``max_lateness_s`` are skipped as ``overload``. So with more checks than a
core can run, the runner keeps running about as many as it can, skips and counts the rest, keeps
lateness bounded, and keeps the loop responsive enough that the checks it runs measure the
target, not the runner's own backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import math
import os
import sys
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

import structlog

from statpulse.metrics import Metrics
from statpulse.model import CheckSpec
from statpulse.runner.schedule import Due, Schedule

log = structlog.get_logger(__name__)

RunCheck = Callable[[CheckSpec, float], Awaitable[None]]
"""Runs one check of ``spec`` scheduled at the given epoch time."""

DEFAULT_MAX_LATENESS_S = 1.0
"""A run that cannot start within this many seconds of its scheduled time is skipped."""
DEFAULT_MAX_LOOP_LAG_S = 0.025
"""A wake-up later than this means the loop is saturated: the scheduler starts fewer checks."""
MIN_LIMIT = 4


class Scheduler:
    def __init__(
        self,
        run_check: RunCheck,
        metrics: Metrics,
        *,
        max_concurrent: int = 500,
        max_lateness_s: float = DEFAULT_MAX_LATENESS_S,
        max_loop_lag_s: float = DEFAULT_MAX_LOOP_LAG_S,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._run_check = run_check
        self._metrics = metrics
        self._clock = wall_clock
        self._max_concurrent = max_concurrent
        self._max_lateness_s = max_lateness_s
        self._max_loop_lag_s = max_loop_lag_s
        self._limit = max_concurrent  # adaptive, in [min(MIN_LIMIT, max_concurrent), max]
        self._schedule = Schedule()
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}
        self._waiting: deque[Due] = deque()  # due runs waiting for a slot, oldest on the left
        self._waiting_ids: set[uuid.UUID] = set()
        self._timer: _Timer | None = None
        self._armed_at: float | None = None  # when the timer should fire (None: not armed)
        self._stopped: asyncio.Future[None] | None = None
        # Bound once: these run for every check.
        self._observe_lateness = metrics.lateness.observe
        self._missed_overlap = metrics.missed.labels(reason="overlap")
        self._missed_behind = metrics.missed.labels(reason="behind")
        self._missed_overload = metrics.missed.labels(reason="overload")

    @property
    def monitor_count(self) -> int:
        return len(self._schedule)

    @property
    def limit(self) -> int:
        """How many checks may run at once now (adaptive, at most ``max_concurrent``)."""
        return self._limit

    def update(self, specs: Iterable[CheckSpec]) -> None:
        """Replace the set of checks; takes effect at once."""
        self._schedule.set(specs, self._clock())
        if self._timer is not None:
            self._tick(woken=False)

    async def run(self) -> None:
        """Run until cancelled; cancelling also cancels the checks in flight."""
        loop = asyncio.get_running_loop()
        self._stopped = loop.create_future()
        self._timer = _make_timer(loop, self._tick, self._clock)
        try:
            self._tick(woken=False)
            await self._stopped  # only ever set to an exception: a bug in _tick
        finally:
            self._timer.close()
            self._timer = None
            self._armed_at = None
            self._waiting.clear()
            self._waiting_ids.clear()
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _tick(self, woken: bool = True) -> None:
        """Start every run due now, then sleep to the next due time."""
        try:
            now = self._clock()
            if woken and self._armed_at is not None:
                self._adapt(now - self._armed_at)
            for due in self._schedule.pop_due(now):
                self._start(due, now)
            self._start_waiting(now)
            next_due = self._schedule.next_due()
            self._armed_at = None if next_due is None else max(next_due, self._clock())
            if self._timer is not None:
                self._timer.arm(next_due)
        except Exception as exc:  # a bug: fail run() loudly rather than stop scheduling quietly
            if self._stopped is not None and not self._stopped.done():
                self._stopped.set_exception(exc)

    def _adapt(self, lag: float) -> None:
        if lag > self._max_loop_lag_s:
            floor = min(MIN_LIMIT, self._max_concurrent)
            self._limit = max(floor, int(min(self._limit, len(self._running)) * 0.9))
        elif self._limit < self._max_concurrent:
            self._limit += 1

    def _start(self, due: Due, now: float) -> None:
        if due.skipped:
            self._missed_behind.inc(due.skipped)
        monitor_id = due.spec.monitor_id
        if monitor_id in self._running or monitor_id in self._waiting_ids:
            self._missed_overlap.inc()
        elif now - due.scheduled_at > self._max_lateness_s:
            self._missed_overload.inc()
        elif len(self._running) < self._limit and not self._waiting:
            self._running[monitor_id] = asyncio.create_task(self._guarded(due))
        else:
            self._waiting.append(due)
            self._waiting_ids.add(monitor_id)

    def _start_waiting(self, now: float) -> None:
        """Skip waiting runs that are too late; start the most recent ones while slots are free."""
        waiting = self._waiting
        if not waiting:
            return
        while waiting and now - waiting[0].scheduled_at > self._max_lateness_s:
            self._waiting_ids.discard(waiting.popleft().spec.monitor_id)
            self._missed_overload.inc()
        while waiting and len(self._running) < self._limit:
            due = waiting.pop()
            self._waiting_ids.discard(due.spec.monitor_id)
            self._running[due.spec.monitor_id] = asyncio.create_task(self._guarded(due))

    async def _guarded(self, due: Due) -> None:
        monitor_id = due.spec.monitor_id
        try:
            lateness = self._clock() - due.scheduled_at
            if lateness > self._max_lateness_s:
                # Queued behind a saturated loop for too long: running it now would only add
                # to the backlog.
                self._missed_overload.inc()
                return
            self._observe_lateness(max(0.0, lateness))
            await self._run_check(due.spec, due.scheduled_at)
        except Exception:
            # run_check turns target failures into results; this is a bug, keep scheduling.
            log.exception("check crashed", monitor_id=str(monitor_id))
        finally:
            self._running.pop(monitor_id, None)
            if self._waiting and self._stopped is not None and not self._stopped.done():
                self._start_waiting(self._clock())


# --------------------------------------------------------------------------------------------
# Timers


class _Timer(Protocol):
    def arm(self, deadline: float | None) -> None:
        """Call back once at the wall-clock time ``deadline`` (replacing any earlier arming);
        None disarms."""

    def close(self) -> None: ...


def _make_timer(
    loop: asyncio.AbstractEventLoop, callback: Callable[[], None], clock: Callable[[], float]
) -> _Timer:
    if clock is time.time and sys.platform == "linux":
        try:
            return _TimerFd(loop, callback)
        except (OSError, AttributeError, NotImplementedError, RuntimeError):
            log.debug("timerfd unavailable; using the loop's millisecond timers")
    return _LoopTimer(loop, callback, clock)


class _LoopTimer:
    """The event loop's timers, rounded up to whole milliseconds (their granularity); when one
    fires early anyway, it is re-armed for the remainder (rounded up again, so never spun on)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        callback: Callable[[], None],
        clock: Callable[[], float],
    ) -> None:
        self._loop = loop
        self._callback = callback
        self._clock = clock
        self._deadline: float | None = None
        self._handle: asyncio.TimerHandle | None = None

    def arm(self, deadline: float | None) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._deadline = deadline
        if deadline is not None:
            delay = math.ceil(max(0.0, deadline - self._clock()) * 1000) / 1000
            self._handle = self._loop.call_later(delay, self._fire)

    def _fire(self) -> None:
        self._handle = None
        deadline = self._deadline
        if deadline is not None and self._clock() < deadline:
            self.arm(deadline)  # early
        else:
            self._callback()

    def close(self) -> None:
        self.arm(None)


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


_CLOCK_REALTIME = 0
_TFD_TIMER_ABSTIME = 1
_libc: ctypes.CDLL | None = None


class _TimerFd:
    """A Linux timerfd on CLOCK_REALTIME (the clock of ``time.time``), armed at absolute
    deadlines and read by the event loop: wake-ups within tens of microseconds, one per deadline.
    Through ctypes, as ``os.timerfd_*`` only exist from Python 3.13."""

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
        global _libc
        if _libc is None:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
            libc.timerfd_create.restype = ctypes.c_int
            libc.timerfd_settime.argtypes = (
                ctypes.c_int,
                ctypes.c_int,
                ctypes.POINTER(_Itimerspec),
                ctypes.c_void_p,
            )
            libc.timerfd_settime.restype = ctypes.c_int
            _libc = libc
        self._libc = _libc
        fd = self._libc.timerfd_create(_CLOCK_REALTIME, os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create failed")
        self._fd = fd
        self._spec = _Itimerspec()
        self._spec_ref = ctypes.byref(self._spec)
        self._callback = callback
        self._loop = loop
        self._rearmed = False
        try:
            loop.add_reader(fd, self._fire)
        except BaseException:
            os.close(fd)
            raise

    def arm(self, deadline: float | None) -> None:
        value = self._spec.it_value
        if deadline is None:
            value.tv_sec = value.tv_nsec = 0  # disarms
        else:
            # Rounded up (plus 1 µs for float rounding) so that time.time() has reached the
            # deadline when it fires; a zero it_value would disarm, hence at least 1 ns.
            ns = max(1, math.ceil(deadline * 1_000_000_000) + 1_000)
            value.tv_sec, value.tv_nsec = divmod(ns, 1_000_000_000)
        if self._libc.timerfd_settime(self._fd, _TFD_TIMER_ABSTIME, self._spec_ref, None) < 0:
            raise OSError(ctypes.get_errno(), "timerfd_settime failed")
        self._rearmed = True

    def _fire(self) -> None:
        # Re-arming (or disarming) resets the expiry count, so the callback, which always arms
        # the timer again, also makes the fd unreadable: no read() needed on that path.
        self._rearmed = False
        self._callback()
        if not self._rearmed:
            with contextlib.suppress(BlockingIOError):
                os.read(self._fd, 8)

    def close(self) -> None:
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
