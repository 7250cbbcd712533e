"""PagerDuty Events API v2 (https://developer.pagerduty.com/docs/events-api-v2/overview/).

The ``dedup_key`` is the incident id (else the monitor id): a trigger with the same key joins
the open alert, and resolve/acknowledge must reuse it
(https://developer.pagerduty.com/docs/events-api-v2/trigger-events/). Accepted events get 202.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message

DEFAULT_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY = {"none": "info", "minor": "warning", "major": "error", "critical": "critical"}
RESOLVE = {"incident.resolved", "monitor.up"}
# PagerDuty has no maintenance event: those messages are not sent.
SKIP = {"maintenance.started", "maintenance.ended"}


def event_action(message: Message) -> str | None:
    """``trigger``, ``acknowledge``, ``resolve``, or None when the event is not sent."""
    if message.status == "acknowledged":
        return "acknowledge"
    if message.event in RESOLVE:
        return "resolve"
    return None if message.event in SKIP else "trigger"


def event(message: Message, routing_key: str, action: str) -> dict[str, Any]:
    dedup = message.incident_id or message.monitor_id or message.id
    out: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup}
    if action == "trigger":
        out["payload"] = {
            "summary": message.title[:1024],
            "source": message.monitor_name or message.org or "statpulse",
            "severity": SEVERITY.get(message.severity, "error"),
            "timestamp": message.occurred_at_iso,
            "custom_details": {"text": message.text, "regions": list(message.regions)},
        }
        if message.components:
            out["payload"]["component"] = ", ".join(message.components)
        if message.url:
            out["links"] = [{"href": message.url, "text": "StatPulse"}]
    return out


class PagerDutyNotifier:
    kind = "pagerduty"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``routing_key`` (the integration key, a secret); optional ``url``; optional
        ``webhook_secret``, the signing secret of a PagerDuty V3 webhook subscription pointed at
        ``/api/v1/integrations/pagerduty/{channel id}`` (acknowledge and resolve flow back)."""
        out = {
            "routing_key": cfg.text(config, "routing_key"),
            "url": cfg.url(config, "url", DEFAULT_URL),
        }
        if config.get("webhook_secret") is not None:
            out["webhook_secret"] = cfg.text(config, "webhook_secret")
        return out

    def secret_fields(self) -> tuple[str, ...]:
        return ("routing_key", "webhook_secret")

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        action = event_action(message)
        if action is None:
            return Delivered(None, f"not sent: PagerDuty has no {message.event} event")
        body = event(message, config["routing_key"], action)
        detail = cfg.json_field("dedup_key")
        return await http.post_json(
            config["url"], body, detail=detail, redact=[config["routing_key"]]
        )
