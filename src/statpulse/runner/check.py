"""One check run: the probe (retried as the monitor says), judged against its conditions."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from statpulse.conditions import evaluate_all
from statpulse.model import (
    CheckResult,
    CheckSpec,
    ConditionResult,
    ErrorClass,
    Observation,
    new_id,
    utcnow,
)
from statpulse.probes import PROBES
from statpulse.probes.base import ProbeContext
from statpulse.runner.hostlimits import HostLimits

DEFAULT_CONDITIONS: dict[str, tuple[str, ...]] = {
    "http": ("[STATUS] < 400",),
    "tcp": ("[CONNECTED] == true",),
    "grpc": ("[BODY].status == SERVING",),
    "dns": ("[DNS_RCODE] == NOERROR",),
    "tls": ("[CONNECTED] == true",),
}
"""Applied when a monitor has no condition of its own."""

_MESSAGE_LIMIT = 500


def judge(
    spec: CheckSpec,
    obs: Observation,
    *,
    region: str,
    scheduled_at: datetime,
    started_at: datetime,
    attempts: int = 1,
) -> CheckResult:
    """The result of an observation (pure; ``started_at`` is "now" for time-based conditions).

    A probe error fails the check with the probe's error class. Otherwise failing conditions
    fail it (error class ``http_status`` when a failing condition is about ``[STATUS]``, else
    ``assertion``), except that conditions purely about latency only make it ``degraded``. A
    ``tls`` check whose certificate expires within ``spec.tls.warn_days`` is ``degraded``.
    ``conditions`` holds every evaluated condition (the store keeps them for failed and
    degraded results only).
    """
    ok, degraded = True, False
    error_class: ErrorClass | None = None
    message: str | None = None
    evaluated: list[ConditionResult] = []
    if obs.error_class is not None:
        ok, error_class, message = False, obs.error_class, obs.error_message
    else:
        conditions = spec.conditions or DEFAULT_CONDITIONS.get(spec.kind, ())
        evaluated = evaluate_all(conditions, obs, now=started_at)
        failed = [c for c in evaluated if not c.success]
        hard = [c for c in failed if not c.latency_only]
        if hard:
            ok = False
            about_status = any("[STATUS]" in c.condition.upper() for c in hard)
            error_class = ErrorClass.HTTP_STATUS if about_status else ErrorClass.ASSERTION
            message = "; ".join(c.description for c in hard)
        elif failed:
            degraded = True
            message = "; ".join(c.description for c in failed)
        expiring = _expiry_warning(spec, obs, started_at)
        if ok and expiring:
            degraded = True
            message = f"{message}; {expiring}" if message else expiring
    return CheckResult(
        id=new_id(),
        monitor_id=spec.monitor_id,
        region=region,
        scheduled_at=scheduled_at,
        started_at=started_at,
        latency_ms=obs.latency_ms,
        ok=ok,
        degraded=degraded,
        status_code=obs.status_code,
        phases=obs.phases,
        error_class=error_class,
        error_message=message[:_MESSAGE_LIMIT] if message else None,
        conditions=tuple(evaluated),
        attempts=attempts,
    )


def _expiry_warning(spec: CheckSpec, obs: Observation, now: datetime) -> str | None:
    if spec.kind != "tls" or obs.tls is None or obs.tls.not_after is None:
        return None
    left = obs.tls.not_after - now
    if left >= timedelta(days=spec.tls.warn_days):
        return None
    days = left.total_seconds() / 86400
    return f"certificate expires in {days:.1f} days ({obs.tls.not_after:%Y-%m-%d %H:%M} UTC)"


async def run_check(
    spec: CheckSpec,
    ctx: ProbeContext,
    *,
    region: str,
    scheduled_at: datetime,
    limits: HostLimits | None = None,
) -> CheckResult:
    """Run one check now: up to ``1 + spec.retries`` attempts, ``spec.retry_delay_s`` apart,
    until one is healthy; the last attempt's result is returned, with ``attempts`` set. With
    ``limits``, attempts against one host wait for a slot. Never raises for a failing target
    (only on cancellation)."""
    started_at = utcnow()
    attempts = 0
    while True:
        attempts += 1
        if limits is None:
            obs = await observe(spec, ctx)
        else:
            async with limits.slot(spec):
                obs = await observe(spec, ctx)
        result = judge(
            spec,
            obs,
            region=region,
            scheduled_at=scheduled_at,
            started_at=started_at,
            attempts=attempts,
        )
        if result.ok or attempts > spec.retries:
            return result
        await asyncio.sleep(spec.retry_delay_s)


async def observe(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """One probe attempt (an INTERNAL-class observation for a kind without a probe)."""
    probe = PROBES.get(spec.kind)
    if probe is None:
        return Observation(
            connected=False,
            latency_ms=None,
            error_class=ErrorClass.INTERNAL,
            error_message=f"no probe for kind {spec.kind!r}",
        )
    return await probe(spec, ctx)
