"""``/api/v1/pages/{page_id}/subscribers``: the page owner's redacted view, and deletion."""

from __future__ import annotations

import uuid

from statpulse.model import StatusPage
from statpulse.web.api.subscribers import redact
from tests.api.conftest import Env

SLACK = "http://127.0.0.1:9/services/T000/B000/SeCrEtToKeN"
HOOK = "http://127.0.0.1:9/hooks/private-path?key=abc"


async def _page(env: Env) -> StatusPage:
    return await env.services.store.create_page(env.org.id, "acme", "Acme", "")


async def test_subscribers_are_listed_without_their_secrets(env: Env) -> None:
    page = await _page(env)
    r = await env.client.post("/s/acme/subscribe", data={"kind": "slack", "address": SLACK})
    assert r.status_code == 201
    r = await env.client.post("/s/acme/subscribe", data={"kind": "webhook", "address": HOOK})
    assert r.status_code == 201 and "whsec_" in r.text  # the generated secret, shown once

    r = await env.client.get(f"/api/v1/pages/{page.id}/subscribers", headers=env.read)
    assert r.status_code == 200
    listed = r.json()
    assert [(s["kind"], s["address"], s["confirmed"]) for s in listed] == [
        ("slack", "slack", True),
        ("webhook", "http://127.0.0.1", True),
    ]
    assert "SeCrEtToKeN" not in r.text and "private-path" not in r.text and "whsec_" not in r.text


async def test_email_addresses_are_redacted() -> None:
    assert redact("email", "jo@example.com") == "j***@example.com"


async def test_deleting_a_subscriber_removes_it_and_other_tenants_get_404(env: Env) -> None:
    page = await _page(env)
    await env.client.post("/s/acme/subscribe", data={"kind": "slack", "address": SLACK})
    url = f"/api/v1/pages/{page.id}/subscribers"
    [sub] = (await env.client.get(url, headers=env.read)).json()

    assert (await env.client.get(url, headers=env.other)).status_code == 404
    assert (await env.client.delete(f"{url}/{sub['id']}", headers=env.other)).status_code == 404
    assert (await env.client.delete(f"{url}/{sub['id']}", headers=env.read)).status_code == 403
    assert (await env.client.delete(f"{url}/{sub['id']}", headers=env.write)).status_code == 204
    assert (await env.client.get(url, headers=env.read)).json() == []
    assert (await env.client.delete(f"{url}/{sub['id']}", headers=env.write)).status_code == 404
    missing = f"/api/v1/pages/{uuid.uuid4()}/subscribers"
    assert (await env.client.get(missing, headers=env.read)).status_code == 404
