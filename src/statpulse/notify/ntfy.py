"""ntfy publish by POST to the topic URL with headers (https://docs.ntfy.sh/publish/).

Header values must be Latin-1 on the wire, so non-ASCII titles use RFC 2047 encoded words,
which ntfy decodes (https://docs.ntfy.sh/publish/#message-title).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.header import Header
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message

# https://docs.ntfy.sh/publish/#message-priority: 1 min .. 5 max.
PRIORITY = {"none": "2", "minor": "3", "major": "4", "critical": "5"}
# https://docs.ntfy.sh/publish/#tags-emojis: known shortcodes render as emojis.
TAGS = {
    "none": "white_check_mark",
    "minor": "warning",
    "major": "rotating_light",
    "critical": "rotating_light",
}


def header_value(value: str) -> str:
    """One line, encoded as an RFC 2047 word when it is not plain ASCII."""
    line = " ".join(value.split())
    return line if line.isascii() else Header(line, "utf-8").encode()


def ntfy_headers(message: Message) -> dict[str, str]:
    headers = {
        "Title": header_value(message.title),
        "Priority": PRIORITY.get(message.severity, "4"),
        "Tags": ",".join([TAGS.get(message.severity, "warning"), message.event]),
    }
    if message.url:
        headers["Click"] = message.url
    return headers


class NtfyNotifier:
    kind = "ntfy"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``url`` (the topic URL); optional ``token`` (an access token, a secret)."""
        out: dict[str, Any] = {"url": cfg.url(config, "url")}
        if config.get("token") is not None:
            out["token"] = cfg.text(config, "token")
        return cfg.template(config, out)

    def secret_fields(self) -> tuple[str, ...]:
        return ("token",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        headers = ntfy_headers(message)
        if config.get("token"):
            headers["Authorization"] = f"Bearer {config['token']}"
        body = cfg.body_text(message, config).encode()
        return await http.request(
            "POST", config["url"], data=body, headers=headers, detail=cfg.json_field("id")
        )
