from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from standardwebhooks import Webhook

from statpulse.notify import signing
from statpulse.notify.base import ConfigError, HttpSender
from statpulse.notify.message import Message
from statpulse.notify.webhook import WebhookNotifier
from tests.notify.conftest import Recorder

webhook = WebhookNotifier()


async def test_webhook_posts_the_payload_signed_for_the_official_verifier(
    server: Recorder, http: HttpSender, make_message: Callable[..., Message]
) -> None:
    secret = signing.new_secret()
    config = webhook.validate({"url": server.url + "/in", "secret": secret})
    await webhook.send(make_message(), config, http)
    got = server.last
    assert Webhook(secret).verify(got.body, got.headers) == make_message().payload()


async def test_webhook_id_is_the_message_id(
    server: Recorder, http: HttpSender, make_message: Callable[..., Message]
) -> None:
    config = webhook.validate({"url": server.url, "secret": signing.new_secret()})
    await webhook.send(make_message(id="msg_idem"), config, http)
    await webhook.send(make_message(id="msg_idem"), config, http)
    assert [r.headers["webhook-id"] for r in server.received] == ["msg_idem", "msg_idem"]


async def test_webhook_signs_with_every_secret_during_rotation(
    server: Recorder, http: HttpSender, make_message: Callable[..., Message]
) -> None:
    old, new = signing.new_secret(), signing.new_secret()
    config = webhook.validate({"url": server.url, "secret": [old, new]})
    await webhook.send(make_message(), config, http)
    got = server.last
    Webhook(old).verify(got.body, got.headers)
    Webhook(new).verify(got.body, got.headers)
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60


async def test_webhook_sends_custom_headers(
    server: Recorder, http: HttpSender, make_message: Callable[..., Message]
) -> None:
    config = webhook.validate(
        {"url": server.url, "secret": signing.new_secret(), "headers": {"X-Team": "ops"}}
    )
    await webhook.send(make_message(), config, http)
    assert server.last.headers["X-Team"] == "ops"


def test_webhook_refuses_a_custom_header_overriding_the_signature() -> None:
    with pytest.raises(ConfigError) as caught:
        webhook.validate(
            {
                "url": "https://x.test",
                "secret": signing.new_secret(),
                "headers": {"Webhook-Signature": "v1,forged"},
            }
        )
    assert caught.value.field == "config.headers"


def test_webhook_refuses_a_secret_without_whsec_prefix() -> None:
    with pytest.raises(ConfigError) as caught:
        webhook.validate({"url": "https://x.test", "secret": "hunter2"})
    assert caught.value.field == "config.secret"
    assert "hunter2" not in str(caught.value)
