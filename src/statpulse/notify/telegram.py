"""Telegram Bot API sendMessage with HTML parse mode (https://core.telegram.org/bots/api#sendmessage,
https://core.telegram.org/bots/api#html-style). The bot token sits in the URL path, so the URL
never appears in an error. A 429 answer carries ``parameters.retry_after``
(https://core.telegram.org/bots/api#responseparameters)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from html import escape
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify.base import ConfigError, Delivered, HttpSender
from statpulse.notify.message import Message

DEFAULT_BASE_URL = "https://api.telegram.org"
MAX_TEXT = 4096


def html_text(message: Message, text: str) -> str:
    """Title in bold, escaped text, a link when there is a URL; capped at 4096 characters."""
    body = escape(text, quote=False)[: MAX_TEXT - 512]
    out = f"<b>{escape(message.title, quote=False)[:300]}</b>\n{body}"
    if message.url:
        out += f'\n<a href="{escape(message.url)}">{escape(message.link_label)}</a>'
    return out


def retry_after(body: bytes) -> float | None:
    try:
        value = json.loads(body)["parameters"]["retry_after"]
    except (ValueError, KeyError, TypeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def message_id(body: bytes) -> str:
    try:
        return str(json.loads(body)["result"]["message_id"])
    except (ValueError, KeyError, TypeError):
        return ""


class TelegramNotifier:
    kind = "telegram"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``bot_token`` (a secret), ``chat_id`` (number or @channel); optional ``base_url``."""
        chat = config.get("chat_id")
        if isinstance(chat, int) and not isinstance(chat, bool):
            chat = str(chat)
        if not isinstance(chat, str) or not chat.strip():
            raise ConfigError("config.chat_id", "is required")
        out = {
            "bot_token": cfg.text(config, "bot_token"),
            "chat_id": chat.strip(),
            "base_url": cfg.url(config, "base_url", DEFAULT_BASE_URL),
        }
        return cfg.template(config, out)

    def secret_fields(self) -> tuple[str, ...]:
        return ("bot_token",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        url = f"{config['base_url']}/bot{config['bot_token']}/sendMessage"
        body = {
            "chat_id": config["chat_id"],
            "text": html_text(message, cfg.body_text(message, config)),
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        return await http.post_json(
            url, body, retry_hint=retry_after, detail=message_id, redact=[config["bot_token"]]
        )
