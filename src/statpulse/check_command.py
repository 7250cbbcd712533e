"""``statpulse check``: one check now, from the command line, with the monitor's own rules.

The input goes through the same validation as the API (so an invalid condition or target is
reported with its field and position, exit code 2); the check runs through the runner's
``run_check`` (the same probes, defaults and judge). Exit code 0 when every condition holds,
1 when any fails (a probe error or a failed latency condition included).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from statpulse.model import CheckResult, Monitor, MonitorConfig, Observation, Status
from statpulse.probes import ProbeContext
from statpulse.runner.check import judge, observe
from statpulse.web.api.schemas import MonitorIn
from statpulse.web.api.validation import check_config
from statpulse.web.errors import ApiError, field_path


class CheckInputError(ValueError):
    """Invalid input for a one-off check; the message names the option."""


def infer_kind(target: str) -> str:
    return "http" if "://" in target else "tcp"


def build_config(fields: dict[str, Any]) -> MonitorConfig:
    """Validate ``fields`` (MonitorIn names) as the API would; raises ``CheckInputError``."""
    try:
        config = MonitorIn.model_validate({"name": "statpulse check", **fields}).to_config()
    except ValidationError as exc:
        err = exc.errors()[0]
        raise CheckInputError(f"{field_path(err['loc'])}: {err['msg']}") from None
    try:
        check_config(config)
    except ApiError as exc:
        raise CheckInputError(f"{exc.field}: {exc.message}" if exc.field else exc.message) from None
    return config


async def _run(config: MonitorConfig) -> tuple[Observation, CheckResult]:
    now = datetime.now(UTC)
    monitor = Monitor(uuid.uuid4(), uuid.uuid4(), config, False, Status.UNKNOWN, None, now, now)
    spec = monitor.spec()
    async with ProbeContext() as ctx:
        obs = await observe(spec, ctx)
    return obs, judge(spec, obs, region="cli", scheduled_at=now, started_at=now)


def run_one(config: MonitorConfig) -> tuple[Observation, CheckResult]:
    """Run one check now (no retries: a one-off check shows what one attempt sees)."""
    return asyncio.run(_run(config))


def passed(result: CheckResult) -> bool:
    return result.ok and not result.degraded


def _facts(obs: Observation) -> dict[str, Any]:
    facts: dict[str, Any] = {"ip": obs.ip, "http_version": obs.http_version}
    if obs.tls is not None:
        t = obs.tls
        facts["tls"] = {
            "version": t.version,
            "cipher": t.cipher,
            "subject": t.subject,
            "issuer": t.issuer,
            "sans": list(t.sans),
            "not_before": t.not_before.isoformat() if t.not_before else None,
            "not_after": t.not_after.isoformat() if t.not_after else None,
            "chain_valid": t.chain_valid,
            "hostname_valid": t.hostname_valid,
            "verify_error": t.verify_error,
        }
    if obs.dns is not None:
        facts["dns"] = {"rcode": obs.dns.rcode, "answers": list(obs.dns.answers)}
    if obs.redirects:
        facts["redirects"] = [
            {"url": h.url, "status_code": h.status_code, "location": h.location}
            for h in obs.redirects
        ]
    if obs.grpc_status is not None:
        facts["grpc_status"] = obs.grpc_status
    return facts


def result_document(obs: Observation, result: CheckResult) -> dict[str, Any]:
    """The JSON the ``--json`` option prints."""
    p = result.phases
    return {
        "ok": passed(result),
        "healthy": result.ok,
        "degraded": result.degraded,
        "error_class": result.error_class.value if result.error_class else None,
        "error_message": result.error_message,
        "status_code": result.status_code,
        "latency_ms": result.latency_ms,
        "phases": {
            "dns_ms": p.dns_ms,
            "connect_ms": p.connect_ms,
            "tls_ms": p.tls_ms,
            "first_byte_ms": p.first_byte_ms,
            "total_ms": result.latency_ms,
        },
        **_facts(obs),
        "conditions": [
            {"condition": c.condition, "success": c.success, "description": c.description}
            for c in result.conditions
        ],
    }


def print_json(obs: Observation, result: CheckResult) -> None:
    print(json.dumps(result_document(obs, result), indent=2))


def _text(value: object) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} ms"


def print_table(
    console: Console, config: MonitorConfig, obs: Observation, result: CheckResult
) -> None:
    summary = Table(title=f"{config.kind} check of {config.target}", show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    verdict = "[green]pass[/green]" if passed(result) else "[red]fail[/red]"
    if result.ok and result.degraded:
        verdict = "[yellow]degraded[/yellow]"
    summary.add_row("result", verdict)
    if result.error_class is not None:
        summary.add_row("error", f"{result.error_class.value}: {result.error_message}")
    if result.status_code is not None:
        summary.add_row("status", str(result.status_code))
    p = result.phases
    for label, value in (
        ("dns", p.dns_ms),
        ("connect", p.connect_ms),
        ("tls", p.tls_ms),
        ("first byte", p.first_byte_ms),
        ("total", result.latency_ms),
    ):
        summary.add_row(label, _ms(value))
    for name, value in _facts(obs).items():
        if value is None:
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                summary.add_row(f"{name} {key}", _text(item))
        elif isinstance(value, list):
            for i, item in enumerate(value, 1):
                summary.add_row(f"{name} {i}", _text(item))
        else:
            summary.add_row(name.replace("_", " "), _text(value))
    console.print(summary)
    if result.conditions:
        table = Table(title="conditions")
        table.add_column("")
        table.add_column("condition")
        table.add_column("evaluated")
        for c in result.conditions:
            mark = "[green]✓[/green]" if c.success else "[red]✗[/red]"
            table.add_row(mark, c.condition, c.description)
        console.print(table)
