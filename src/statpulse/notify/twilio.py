"""SMS through Twilio's Messages API
(https://www.twilio.com/docs/messaging/api/message-resource#create-a-message-resource).

One form POST per recipient, HTTP basic auth with the account SID and auth token. A body holds
at most 1600 characters (Twilio refuses longer ones with error 21617).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from statpulse.notify import config as cfg
from statpulse.notify.base import Delivered, HttpSender
from statpulse.notify.message import Message

DEFAULT_BASE_URL = "https://api.twilio.com"
MAX_BODY = 1600


def sms_body(message: Message, text: str) -> str:
    body = f"{message.title}\n{text}" + (f"\n{message.url}" if message.url else "")
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 1] + "…"


class TwilioNotifier:
    kind = "twilio"

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``account_sid``, ``auth_token``, ``from``, ``to`` (list); optional ``base_url``,
        ``template``."""
        out = {
            "account_sid": cfg.text(config, "account_sid"),
            "auth_token": cfg.text(config, "auth_token"),
            "from": cfg.text(config, "from"),
            "to": cfg.text_list(config, "to"),
            "base_url": cfg.url(config, "base_url", DEFAULT_BASE_URL),
        }
        return cfg.template(config, out)

    def secret_fields(self) -> tuple[str, ...]:
        return ("auth_token",)

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered:
        """Sends to every recipient; the first failure raises (a retry resends to all, which
        the idempotency token is there to absorb). ``detail`` lists the message SIDs."""
        sid = config["account_sid"]
        url = f"{config['base_url']}/2010-04-01/Accounts/{quote(sid, safe='')}/Messages.json"
        credentials = base64.b64encode(f"{sid}:{config['auth_token']}".encode()).decode()
        body = sms_body(message, cfg.body_text(message, config))
        recipients: list[str] = config["to"]
        sids: list[str] = []
        status: int | None = None
        for number in recipients:
            # One token per request: the same token on two recipients would drop the second.
            token = message.id if len(recipients) == 1 else f"{message.id}:{number}"
            delivered = await http.post_form(
                url,
                {"To": number, "From": config["from"], "Body": body},
                headers={
                    "Authorization": f"Basic {credentials}",
                    "I-Twilio-Idempotency-Token": token,
                },
                detail=cfg.json_field("sid"),
                redact=[config["auth_token"]],
            )
            status = delivered.status
            sids.append(delivered.detail)
        return Delivered(status, " ".join(s for s in sids if s))
