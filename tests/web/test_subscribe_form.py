"""The subscribe form of a status page: linked from the page, one labelled form per kind the
server can deliver (e-mail and SMS only when configured), the page's components as
checkboxes, a refusal shown next to its field with what was typed, no inline script or style;
and, in a real browser with JavaScript off, a visitor subscribes a webhook through it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from statpulse.model import Component, StatusPage
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.public.snapshot import rewrite_html
from statpulse.web.services import Services
from tests.web import browser as web
from tests.web.browser import (
    LiveServer,
    browser,  # noqa: F401  (the module's Chromium)
)

live_server = web.live_server

CONFIGURED = {
    "smtp_host": "127.0.0.1",
    "smtp_port": 9,
    "smtp_from": "status@acme.test",
    "sms_twilio_account_sid": "AC1",
    "sms_twilio_auth_token": "token",
    "sms_twilio_from": "+15005550006",
}


class Site:
    def __init__(self, client: httpx.AsyncClient, page: StatusPage, comps: list[Component]):
        self.client, self.page, self.components = client, page, comps


async def _site(tmp_path: Path, **settings: Any) -> AsyncIterator[Site]:
    config = Settings(db=f"sqlite:///{tmp_path / 'form.db'}", data_dir=tmp_path, **settings)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        svc: Services = app.state.services
        org = await svc.store.create_org("acme", "Acme")
        page = await svc.store.create_page(org.id, "acme", "Acme", "")
        api = await svc.store.create_component(org.id, "API", "", None, [page.id])
        evil = await svc.store.create_component(org.id, "<b>Web</b>", "", None, [page.id])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Site(client, page, [api, evil])


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    async for found in _site(tmp_path, **CONFIGURED):
        yield found


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[Site]:
    async for found in _site(tmp_path):
        yield found


def _labelled(html: str) -> None:
    """Every input but hidden ones has a <label for=its id>."""
    for tag in re.findall(r"<input [^>]*>", html):
        if 'type="hidden"' in tag:
            continue
        found = re.search(r'id="([^"]+)"', tag)
        assert found, tag
        assert f'<label for="{found.group(1)}">' in html, tag


async def test_the_status_page_links_to_the_subscribe_form(site: Site) -> None:
    r = await site.client.get("/s/acme")
    assert '<a href="/s/acme/subscribe">Subscribe to updates</a>' in r.text


async def test_the_form_offers_every_configured_kind_with_labelled_fields(site: Site) -> None:
    r = await site.client.get("/s/acme/subscribe")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    kinds = re.findall(r'<input type="hidden" name="kind" value="(\w+)">', html)
    assert kinds == ["email", "sms", "webhook", "slack"]
    assert html.count('<form method="post" action="/s/acme/subscribe"') == 4
    for component in site.components:
        assert html.count(f'name="components" value="{component.id}"') == 4
    assert "&lt;b&gt;Web&lt;/b&gt;" in html and "<b>Web</b>" not in html
    assert 'type="tel" id="sms-address"' in html and 'type="email" id="email-address"' in html
    _labelled(html)
    assert "<script" not in html and "<style" not in html and " style=" not in html
    assert not re.search(r" on[a-z]+=", html)


async def test_only_the_kinds_the_server_can_deliver_are_offered(bare: Site) -> None:
    html = (await bare.client.get("/s/acme/subscribe")).text
    kinds = re.findall(r'<input type="hidden" name="kind" value="(\w+)">', html)
    assert kinds == ["webhook", "slack"]
    assert (await bare.client.get("/s/nope/subscribe")).status_code == 404


async def test_a_refusal_comes_back_next_to_its_field_with_what_was_typed(site: Site) -> None:
    chosen = str(site.components[1].id)
    r = await site.client.post(
        "/s/acme/subscribe",
        data={"kind": "email", "address": "not-an-address", "components": chosen},
    )
    assert r.status_code == 422
    html = r.text
    assert '<details class="subscribe-kind" id="subscribe-email" open>' in html
    assert '<details class="subscribe-kind" id="subscribe-sms">' in html  # the others closed
    assert re.search(
        r'id="email-address" [^>]*value="not-an-address" aria-invalid="true"'
        r' aria-describedby="email-address-error">\s*<span class="error"'
        r' id="email-address-error">Enter a valid e-mail address.</span>',
        html,
    ), html
    assert f'id="email-c-{chosen}" name="components" value="{chosen}" checked>' in html
    bad = await site.client.post(
        "/s/acme/subscribe", data={"kind": "webhook", "address": "ftp://x", "secret": "s3"}
    )
    assert bad.status_code == 422
    assert '<span class="error" id="webhook-secret-error">A webhook secret starts' in bad.text
    assert 'value="s3" aria-invalid="true" aria-describedby="webhook-secret-error">' in bad.text
    assert 'id="webhook-address" name="address" required value="ftp://x">' in bad.text
    unknown = await site.client.post("/s/acme/subscribe", data={"kind": "fax", "address": "x"})
    assert unknown.status_code == 422 and 'id="kind-error" role="alert">' in unknown.text


@pytest.mark.slow
def test_a_visitor_subscribes_a_webhook_with_javascript_off(
    live_server: LiveServer,
    browser: Any,  # noqa: F811
) -> None:
    server = live_server
    server.api("POST", "/api/v1/pages", {"slug": "form", "title": "Form Co"})
    component = server.api("POST", "/api/v1/components", {"name": "API", "pages": ["form"]})
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{server.base}/s/form")
        page.get_by_role("link", name="Subscribe to updates").click()
        page.wait_for_url(f"{server.base}/s/form/subscribe")
        if page.locator("#subscribe-webhook").get_attribute("open") is None:
            page.locator("#subscribe-webhook > summary").click()  # the first is open already
        page.get_by_label("Webhook URL (https://…)", exact=True).fill("ftp://nowhere")
        page.locator("#subscribe-webhook button[type=submit]").click()
        error = page.locator("#webhook-address-error")
        assert "URL" in error.inner_text()
        assert (
            page.get_by_label("Webhook URL (https://…)", exact=True).get_attribute("aria-invalid")
            == "true"
        )
        page.get_by_label("Webhook URL (https://…)", exact=True).fill("http://127.0.0.1:9/hook")
        page.locator("#subscribe-webhook").get_by_label("API").check()
        page.locator("#subscribe-webhook button[type=submit]").click()
        assert page.locator("h1").inner_text() == "Subscribed"
    finally:
        context.close()
    pages = server.api("GET", "/api/v1/pages", expect=200)
    form_page = next(p for p in pages if p["slug"] == "form")
    subscribers = server.api("GET", f"/api/v1/pages/{form_page['id']}/subscribers", expect=200)
    [sub] = subscribers
    assert sub["kind"] == "webhook" and sub["components"] == [component["id"]]


def test_a_static_snapshot_links_the_subscribe_form_on_the_live_server() -> None:
    html = '<p><a href="/s/acme/subscribe">Subscribe to updates</a></p>'
    public = "https://status.example.com/s/acme"
    out = rewrite_html(html, "incidents/1/index.html", "acme", {"index.html"}, public)
    assert out == f'<p><a href="{public}/subscribe">Subscribe to updates</a></p>'
