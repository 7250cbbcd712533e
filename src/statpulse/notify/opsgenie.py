"""Opsgenie Alert API (https://docs.opsgenie.com/docs/alert-api).

Alerts are created with ``alias`` = incident (else monitor) id: Opsgenie de-duplicates open
alerts by alias, and closes them by it (``/v2/alerts/{alias}/close?identifierType=alias``).
Requests are processed asynchronously and answered 202 with a ``requestId``. The EU instance
is https://api.eu.opsgenie.com.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message

DEFAULT_URL = "https://api.opsgenie.com"
PRIORITY = {"none": "P5", "minor": "P3", "major": "P2", "critical": "P1"}
CLOSE = {"incident.resolved", "monitor.up"}
SKIP = {"maintenance.started", "maintenance.ended"}


def alias(message: Message) -> str:
    return message.incident_id or message.monitor_id or message.id


def create_body(message: Message) -> dict[str, Any]:
    """The create-alert body; Opsgenie caps message at 130 and description at 15,000."""
    return {
        "message": message.title[:130],
        "alias": alias(message)[:512],
        "description": message.text[:15000],
        "priority": PRIORITY.get(message.severity, "P2"),
        "source": "StatPulse",
        "tags": [message.event, *message.regions],
        "details": {"status": message.status, "url": message.url or ""},
    }


class OpsgenieNotifier:
    kind = "opsgenie"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``api_key`` (a secret); optional ``url`` (the US or EU API base)."""
        url = cfg.url(config, "url", DEFAULT_URL).rstrip("/")
        return {"api_key": cfg.text(config, "api_key"), "url": url}

    def secret_fields(self) -> tuple[str, ...]:
        return ("api_key",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        headers = {"Authorization": f"GenieKey {config['api_key']}"}
        base = config["url"]
        detail = cfg.json_field("requestId")
        if message.event in SKIP:
            return Delivered(None, f"not sent: no Opsgenie action for {message.event}")
        action = "acknowledge" if message.status == "acknowledged" else None
        action = "close" if message.event in CLOSE else action
        if action is not None:
            # https://docs.opsgenie.com/docs/alert-api#close-alert (and #acknowledge-alert)
            path = f"/v2/alerts/{quote(alias(message), safe='')}/{action}"
            body = {"source": "StatPulse", "note": message.title}
            url = f"{base}{path}?identifierType=alias"
            return await http.post_json(url, body, headers=headers, detail=detail)
        return await http.post_json(
            f"{base}/v2/alerts", create_body(message), headers=headers, detail=detail
        )
