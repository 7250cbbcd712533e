"""Discord webhook with an embed (https://discord.com/developers/docs/resources/webhook#execute-webhook).

A 429 carries ``retry_after`` (seconds, a float) in its JSON body besides the Retry-After
header (https://discord.com/developers/docs/topics/rate-limits#exceeding-a-rate-limit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message

COLOURS = {"none": 0x2ECC71, "minor": 0xF1C40F, "major": 0xE67E22, "critical": 0xE74C3C}


def retry_after(body: bytes) -> float | None:
    """Discord's JSON ``retry_after`` in seconds, or None."""
    try:
        value = json.loads(body).get("retry_after")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def embed(message: Message, text: str) -> dict[str, Any]:
    """One embed: title, description, colour by severity, fields, timestamp."""
    fields = [{"name": "Status", "value": message.status or message.event, "inline": True}]
    fields.append({"name": "Severity", "value": message.severity, "inline": True})
    if message.monitor_name:
        fields.append({"name": "Monitor", "value": message.monitor_name, "inline": True})
    if message.regions:
        fields.append({"name": "Regions", "value": ", ".join(message.regions), "inline": False})
    out: dict[str, Any] = {
        "title": message.title[:256],
        "description": text[:4096],
        "color": COLOURS.get(message.severity, COLOURS["major"]),
        "fields": fields,
        "timestamp": message.occurred_at_iso,
    }
    if message.url:
        out["url"] = message.url
    return out


class DiscordNotifier:
    kind = "discord"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``url`` (the webhook, a secret); optional ``template``."""
        return cfg.template(config, {"url": cfg.url(config, "url")})

    def secret_fields(self) -> tuple[str, ...]:
        return ("url",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        body: dict[str, Any] = {
            "embeds": [embed(message, cfg.body_text(message, config))],
            # Mentions stay off: a title must not ping @everyone.
            "allowed_mentions": {"parse": []},
        }
        return await http.post_json(config["url"], body, retry_hint=retry_after)
