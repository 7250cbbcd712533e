"""Generic webhook: ``Message.payload()`` as JSON, signed per Standard Webhooks 1.0
(https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

``webhook-id`` is the message id, so a receiver drops the duplicate of a retried message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from statpulse.notify import config as cfg
from statpulse.notify import signing
from statpulse.notify.base import ConfigError, Delivered, HttpSender
from statpulse.notify.message import Message

_RESERVED = {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type", "host"}


class WebhookNotifier:
    kind = "webhook"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``url``; ``secret`` one whsec_ secret or a list (rotation); optional ``headers``."""
        secrets = cfg.text_list(config, "secret")
        for secret in secrets:
            try:
                signing.sign(secret, "probe", 0, b"")
            except ValueError as exc:
                raise ConfigError("config.secret", str(exc)) from None
        out: dict[str, Any] = {"url": cfg.url(config, "url"), "secret": secrets}
        headers = config.get("headers") or {}
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ConfigError("config.headers", "must map header names to strings")
        for name, value in headers.items():
            if name.lower() in _RESERVED:
                raise ConfigError("config.headers", f"{name} is set by StatPulse")
            if any(c in name + value for c in "\r\n"):
                raise ConfigError("config.headers", "must not contain line breaks")
        out["headers"] = dict(headers)
        return out

    def secret_fields(self) -> tuple[str, ...]:
        # Custom headers commonly carry an Authorization token.
        return ("secret", "headers")

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        body = json.dumps(message.payload(), separators=(",", ":")).encode()
        headers = dict(config.get("headers") or {})
        headers.update(signing.headers(config["secret"], message.id, int(time.time()), body))
        headers["Content-Type"] = "application/json"
        return await http.request("POST", config["url"], data=body, headers=headers)
