"""Service level objectives: SLI, error budget, burn rate and status (pure, no I/O).

Definitions (events are checks, summed over every region):

- **availability** SLO with target ``T`` % (e.g. 99.9): good = ok checks (degraded counts as ok,
  as uptime does, see ``engine/stats.py``), total = all checks.
- **latency** SLO "``P`` % of checks answer within ``threshold_ms``" (``P`` = 95 or 99, the
  target): good = ok checks with latency <= threshold, total = ok checks with a latency (the
  same population as the P95/P99 figures; failed checks are the availability SLO's business).
  With the target at ``P`` the SLO holds exactly when the P-th percentile is within the
  threshold. Good events are counted from the latency sketch (:func:`latency_good`).

From good/total over the window (rolling, ``window_days``) and over the last 1 h and 6 h:

- SLI = 100 * good / total.
- error budget (allowed bad share) = ``1 - T/100``; consumed % = ``100 * (bad/total) / budget``
  (may exceed 100); remaining % = ``100 - consumed`` (negative once breached).
- budget in minutes = ``window minutes * budget``; remaining minutes = total minutes *
  remaining % / 100: the bad share of checks is read as the same share of the window's time.
- burn rate over 1 h / 6 h = ``(bad/total in that window) / budget``: 1.0 spends exactly the
  budget over the SLO window; None without checks in that window.
- status: ``no_data`` (no events in the window), ``breached`` (SLI < target), ``at_risk``
  (remaining < 25 %, or the multiwindow fast-burn alerts of the Google SRE workbook, "Alerting
  on SLOs": burn rate >= 14.4 over 1 h or >= 6 over 6 h), else ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from statpulse.engine.sketch import LatencySketch, bucket_index

AT_RISK_REMAINING_PCT = 25.0
FAST_BURN_1H = 14.4  # spends 2 % of a 30-day budget in one hour
FAST_BURN_6H = 6.0  # spends 5 % of a 30-day budget in six hours


class SloState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    NO_DATA = "no_data"


@dataclass(frozen=True, slots=True)
class Events:
    """Good and total events (checks) of one time window; ``0 <= good <= total``."""

    good: int
    total: int

    def __post_init__(self) -> None:
        if not 0 <= self.good <= self.total:
            raise ValueError(f"need 0 <= good <= total, got {self.good}/{self.total}")

    @property
    def bad_ratio(self) -> float | None:
        """Share of bad events (0..1); None without events."""
        return (self.total - self.good) / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class SloReport:
    """What :func:`evaluate` computed (percentages are 0..100 unless stated)."""

    sli_pct: float | None
    target_pct: float
    budget_total_pct: float
    """The allowed share of bad events, ``100 - target``."""
    budget_consumed_pct: float | None
    """Share of the budget spent (may exceed 100)."""
    budget_remaining_pct: float | None
    """``100 - consumed`` (negative once breached)."""
    budget_total_minutes: float
    budget_remaining_minutes: float | None
    burn_rate_1h: float | None
    burn_rate_6h: float | None
    status: SloState


def evaluate(
    target_pct: float, window_minutes: float, window: Events, last_1h: Events, last_6h: Events
) -> SloReport:
    """The SLO's figures (see the module docstring). ValueError unless ``0 < target_pct < 100``
    and ``window_minutes > 0``."""
    if not 0 < target_pct < 100:
        raise ValueError(f"target_pct must be between 0 and 100 (exclusive): {target_pct}")
    if window_minutes <= 0:
        raise ValueError(f"window_minutes must be positive: {window_minutes}")
    budget = 1 - target_pct / 100
    budget_minutes = window_minutes * budget
    bad = window.bad_ratio
    if bad is None:
        sli = consumed = remaining = remaining_minutes = None
    else:
        sli = 100.0 * window.good / window.total
        consumed = 100.0 * bad / budget
        remaining = 100.0 - consumed
        remaining_minutes = budget_minutes * remaining / 100
    burn_1h, burn_6h = burn_rate(last_1h, budget), burn_rate(last_6h, budget)
    return SloReport(
        sli_pct=sli,
        target_pct=target_pct,
        budget_total_pct=100.0 - target_pct,
        budget_consumed_pct=consumed,
        budget_remaining_pct=remaining,
        budget_total_minutes=budget_minutes,
        budget_remaining_minutes=remaining_minutes,
        burn_rate_1h=burn_1h,
        burn_rate_6h=burn_6h,
        status=_state(sli, target_pct, remaining, burn_1h, burn_6h),
    )


def burn_rate(events: Events, budget: float) -> float | None:
    """``bad share / budget`` (``budget`` in 0..1, exclusive); None without events."""
    bad = events.bad_ratio
    return None if bad is None else bad / budget


def met(sli_pct: float | None, target_pct: float) -> bool | None:
    """Whether an SLI meets its target; None without events."""
    return None if sli_pct is None else sli_pct >= target_pct


def _state(
    sli: float | None,
    target: float,
    remaining: float | None,
    burn_1h: float | None,
    burn_6h: float | None,
) -> SloState:
    if sli is None or remaining is None:
        return SloState.NO_DATA
    if sli < target:
        return SloState.BREACHED
    if (
        remaining < AT_RISK_REMAINING_PCT
        or (burn_1h is not None and burn_1h >= FAST_BURN_1H)
        or (burn_6h is not None and burn_6h >= FAST_BURN_6H)
    ):
        return SloState.AT_RISK
    return SloState.OK


def latency_good(sketch: LatencySketch, threshold_ms: float) -> int:
    """How many of the sketch's latencies are <= ``threshold_ms`` (approximately).

    Exact when every value is on one side of the threshold (the sketch keeps exact min and max).
    Otherwise every value in the threshold's own log bucket counts as good, so values up to
    ~2 % slower than the threshold (``GAMMA`` = 1.0202, see ``engine/sketch.py``) may be
    counted as good; values at or below it never count as bad.
    """
    if sketch.count == 0 or sketch.min is None or sketch.max is None:
        return 0
    if sketch.max <= threshold_ms:
        return sketch.count
    if sketch.min > threshold_ms:
        return 0
    limit = bucket_index(threshold_ms)
    return sum(count for index, count in sketch.bins() if index <= limit)
