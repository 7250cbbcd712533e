"""The channels API: create (validated, secrets redacted), send a test, tenants kept apart."""

from __future__ import annotations

from standardwebhooks import Webhook

from statpulse.notify.signing import new_secret
from tests.api.conftest import Env
from tests.notify.conftest import Recorder
from tests.notify.conftest import server as server  # the fixture


async def _create(env: Env, url: str, secret: str) -> dict:  # type: ignore[type-arg]
    body = {"kind": "webhook", "name": "ops", "config": {"url": url, "secret": secret}}
    r = await env.client.post("/api/v1/channels", json=body, headers=env.write)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_a_webhook_channel_sends_a_test_message_signed_per_standard_webhooks(
    env: Env, server: Recorder
) -> None:
    secret = new_secret()
    channel = await _create(env, server.url + "/hook", secret)
    r = await env.client.post(f"/api/v1/channels/{channel['id']}/test", headers=env.write)
    assert r.status_code == 200 and r.json()["delivered"] is True
    got = server.last
    assert got.path == "/hook"
    Webhook(secret).verify(got.body, got.headers)
    assert got.json()["type"] == "test"


async def test_the_secret_is_redacted_in_every_response(env: Env, server: Recorder) -> None:
    secret = new_secret()
    channel = await _create(env, server.url, secret)
    listed = await env.client.get("/api/v1/channels", headers=env.read)
    one = await env.client.get(f"/api/v1/channels/{channel['id']}", headers=env.read)
    for text in (str(channel), listed.text, one.text):
        assert secret not in text
    assert one.json()["config"]["secret"] == "********"


async def test_a_bad_config_names_the_field(env: Env) -> None:
    body = {"kind": "webhook", "name": "ops", "config": {"secret": new_secret()}}
    r = await env.client.post("/api/v1/channels", json=body, headers=env.write)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "config.url"


async def test_an_unknown_kind_names_the_field(env: Env) -> None:
    body = {"kind": "carrier-pigeon", "name": "x", "config": {}}
    r = await env.client.post("/api/v1/channels", json=body, headers=env.write)
    assert r.status_code == 422 and r.json()["error"]["field"] == "kind"


async def test_a_failing_receiver_gives_502_with_its_error(env: Env, server: Recorder) -> None:
    channel = await _create(env, server.url, new_secret())
    server.answer(500)
    r = await env.client.post(f"/api/v1/channels/{channel['id']}/test", headers=env.write)
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "delivery_failed" and "500" in r.json()["error"]["message"]


async def test_another_organisation_cannot_see_or_test_the_channel(
    env: Env, server: Recorder
) -> None:
    channel = await _create(env, server.url, new_secret())
    for method, path in (("GET", ""), ("POST", "/test"), ("DELETE", "")):
        r = await env.client.request(
            method, f"/api/v1/channels/{channel['id']}{path}", headers=env.other
        )
        assert r.status_code == 404
    assert server.received == []


async def test_a_read_only_key_cannot_create_a_channel(env: Env, server: Recorder) -> None:
    body = {"kind": "webhook", "name": "ops", "config": {"url": server.url, "secret": new_secret()}}
    r = await env.client.post("/api/v1/channels", json=body, headers=env.read)
    assert r.status_code == 403
