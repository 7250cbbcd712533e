"""Microsoft Teams via a Workflows (or legacy incoming) webhook, posting an Adaptive Card
(https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message


def card(message: Message, text: str) -> dict[str, Any]:
    """An Adaptive Card 1.4: title, text, facts, and an Open button when there is a URL."""
    facts = [{"title": "Status", "value": message.status or message.event}]
    facts.append({"title": "Severity", "value": message.severity})
    if message.regions:
        facts.append({"title": "Regions", "value": ", ".join(message.regions)})
    facts.append({"title": "Time", "value": message.occurred_at_iso})
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": message.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
            },
            {"type": "TextBlock", "text": text, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    if message.url:
        content["actions"] = [
            {"type": "Action.OpenUrl", "title": message.link_label, "url": message.url}
        ]
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": content}
    return {"type": "message", "attachments": [attachment]}


class TeamsNotifier:
    kind = "teams"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``url`` (the webhook, signed with a sig= token: a secret); optional ``template``."""
        return cfg.template(config, {"url": cfg.url(config, "url")})

    def secret_fields(self) -> tuple[str, ...]:
        return ("url",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        return await http.post_json(config["url"], card(message, cfg.body_text(message, config)))
