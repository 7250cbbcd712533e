"""Checks on a whole monitor config that depend on its kind (after pydantic's field checks).

Raises ``ApiError`` 422 naming the field, e.g. ``conditions[1]`` with the error position.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from statpulse.conditions import ConditionError, validate
from statpulse.engine.heartbeat import HEARTBEAT_KIND, PUSH_REGION
from statpulse.model import MonitorConfig
from statpulse.probes import PROBES
from statpulse.probes.tcp import parse_host_port
from statpulse.probes.tls import parse_tls_target
from statpulse.web.errors import invalid


def check_config(config: MonitorConfig) -> None:
    if config.kind == HEARTBEAT_KIND:
        _check_heartbeat(config)
    elif config.kind not in PROBES:
        kinds = ", ".join(sorted([*PROBES, HEARTBEAT_KIND]))
        raise invalid("kind", f"unsupported kind {config.kind!r} (supported: {kinds})")
    else:
        _check_target(config.kind, config.target)
        if PUSH_REGION in config.regions:
            raise invalid("regions", f"{PUSH_REGION!r} is reserved for heartbeat monitors")
    if config.timeout_s > config.interval_s:
        raise invalid("timeout_s", "must not exceed interval_s")
    try:
        validate(config.conditions)
    except ConditionError as exc:
        index = getattr(exc, "index", 0)
        raise invalid(f"conditions[{index}]", str(exc)) from exc


def _check_heartbeat(config: MonitorConfig) -> None:
    """A heartbeat monitor is pinged, not probed: no target, no conditions."""
    if config.target:
        raise invalid("target", "must be empty for heartbeat monitors (they are pinged)")
    if config.conditions:
        raise invalid("conditions", "heartbeat monitors have no conditions")


_DNS_NAME = re.compile(
    r"^(?=.{1,253}\.?$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?\.?$"
)


def _check_target(kind: str, target: str) -> None:
    if not target:
        raise invalid("target", "must not be empty")
    if kind == "http":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid("target", "must be an http:// or https:// URL with a host")
        try:
            _ = parts.port
        except ValueError as exc:
            raise invalid("target", f"invalid port: {exc}") from exc
    elif kind in ("tcp", "grpc", "tls"):
        try:
            (parse_tls_target if kind == "tls" else parse_host_port)(target)
        except ValueError as exc:
            raise invalid("target", str(exc)) from exc
    elif kind == "dns" and not _DNS_NAME.match(target):
        raise invalid("target", "must be a domain name to query, e.g. example.com")
