"""One check: run the probe, judge its observation against the monitor's conditions."""

from __future__ import annotations

from datetime import datetime

from statpulse.conditions import evaluate_all
from statpulse.model import CheckResult, CheckSpec, ErrorClass, Observation, new_id, utcnow
from statpulse.probes import PROBES
from statpulse.probes.base import ProbeContext

DEFAULT_CONDITIONS: dict[str, tuple[str, ...]] = {
    "http": ("[STATUS] < 400",),
    "tcp": ("[CONNECTED] == true",),
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
) -> CheckResult:
    """The result of an observation (pure).

    A probe error fails the check with the probe's error class. Otherwise failing conditions
    fail it (error class ``http_status`` when a failing condition is about ``[STATUS]``, else
    ``assertion``), except that conditions purely about latency only make it ``degraded``.
    """
    ok, degraded = True, False
    error_class: ErrorClass | None = None
    message: str | None = None
    if obs.error_class is not None:
        ok, error_class, message = False, obs.error_class, obs.error_message
    else:
        conditions = spec.conditions or DEFAULT_CONDITIONS.get(spec.kind, ())
        failed = [c for c in evaluate_all(conditions, obs) if not c.success]
        hard = [c for c in failed if not c.latency_only]
        if hard:
            ok = False
            about_status = any("[STATUS]" in c.condition.upper() for c in hard)
            error_class = ErrorClass.HTTP_STATUS if about_status else ErrorClass.ASSERTION
            message = "; ".join(c.description for c in hard)
        elif failed:
            degraded = True
            message = "; ".join(c.description for c in failed)
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
    )


async def run_check(
    spec: CheckSpec, ctx: ProbeContext, *, region: str, scheduled_at: datetime
) -> CheckResult:
    """Run one check now. Never raises for a failing target (only on cancellation)."""
    started_at = utcnow()
    probe = PROBES.get(spec.kind)
    if probe is None:
        obs = Observation(
            connected=False,
            latency_ms=None,
            error_class=ErrorClass.INTERNAL,
            error_message=f"no probe for kind {spec.kind!r}",
        )
    else:
        obs = await probe(spec, ctx)
    return judge(spec, obs, region=region, scheduled_at=scheduled_at, started_at=started_at)
