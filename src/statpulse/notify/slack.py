"""Slack incoming webhook with Block Kit (https://api.slack.com/messaging/webhooks,
https://api.slack.com/reference/block-kit/blocks). ``text`` is the notification fallback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def blocks(message: Message, text: str) -> list[dict[str, Any]]:
    """Header (title), section (text), context (status, regions, time), and a button."""
    context = [f"*{message.status or message.event}*"]
    if message.regions:
        context.append("Regions: " + ", ".join(message.regions))
    # Slack renders <!date^...> in the reader's time zone.
    stamp = int(message.occurred_at.timestamp())
    context.append(f"<!date^{stamp}^{{date_short_pretty}} {{time}}|{message.occurred_at_iso}>")
    out: list[dict[str, Any]] = [
        # The header block takes plain_text of at most 150 characters.
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text or " ", 3000)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": c} for c in context]},
    ]
    if message.url:
        button = {
            "type": "button",
            "text": {"type": "plain_text", "text": message.link_label},
        }
        out.append({"type": "actions", "elements": [{**button, "url": message.url}]})
    return out


class SlackNotifier:
    kind = "slack"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``url`` (the incoming webhook, a secret); optional ``template``."""
        return cfg.template(config, {"url": cfg.url(config, "url")})

    def secret_fields(self) -> tuple[str, ...]:
        return ("url",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        text = cfg.body_text(message, config)
        body = {"text": f"{message.title}\n{text}", "blocks": blocks(message, text)}
        return await http.post_json(config["url"], body)
