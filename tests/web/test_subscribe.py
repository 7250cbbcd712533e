"""Public subscriptions against the real app on SQLite, a real aiosmtpd server on port 0 and
the real outbox dispatcher: double opt-in, signed links, component filters, no leaks."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from statpulse.model import Component, Organization, Scope, StatusPage
from statpulse.notify import NOTIFIERS, HttpSender
from statpulse.notify.dispatcher import Dispatcher
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.services import Services


@dataclass
class Mailbox:
    port: int = 0
    mails: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 Message accepted"


@dataclass
class Site:
    client: httpx.AsyncClient
    services: Services
    mailbox: Mailbox
    org: Organization
    page: StatusPage
    api: Component
    web: Component
    write: dict[str, str]

    async def deliver(self, expect_mails: int | None = None) -> None:
        """Run the dispatcher until nothing is due; then wait for ``expect_mails`` in all (the
        app's own dispatcher may hold a row meanwhile)."""
        async with HttpSender(timeout=5.0) as http:
            await Dispatcher(self.services.store, http, NOTIFIERS).drain()
        for _ in range(100):
            if expect_mails is None or len(self.mailbox.mails) >= expect_mails:
                break
            await asyncio.sleep(0.05)
        if expect_mails is not None:
            assert len(self.mailbox.mails) == expect_mails

    async def subscribe(self, **form: Any) -> httpx.Response:
        return await self.client.post(f"/s/{self.page.slug}/subscribe", data=form)

    async def incident(self, title: str, components: list[str]) -> str:
        body = {"title": title, "body": "We are looking into it.", "publish": True}
        r = await self.client.post(
            "/api/v1/incidents", json={**body, "components": components}, headers=self.write
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    box = Mailbox()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(box), "127.0.0.1", 0)
    box.port = smtp.sockets[0].getsockname()[1]
    settings = Settings(
        db=f"sqlite:///{tmp_path / 'sub.db'}",
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=box.port,
        smtp_from="Acme Status <status@acme.test>",
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            svc: Services = app.state.services
            org = await svc.store.create_org("acme", "Acme")
            page = await svc.store.create_page(org.id, "acme", "Acme", "")
            api = await svc.store.create_component(org.id, "API", "", None, [page.id])
            web = await svc.store.create_component(org.id, "Website", "", None, [page.id])
            key = apikeys.generate()
            await svc.store.create_api_key(org.id, "t", Scope.WRITE, key.prefix, key.secret_hash)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield Site(
                    client,
                    svc,
                    box,
                    org,
                    page,
                    api,
                    web,
                    {"Authorization": f"Bearer {key.token}"},
                )
    finally:
        smtp.close()
        await smtp.wait_closed()


def link(mail: EmailMessage, path: str) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(rf"http://test(/s/acme/{path}\?token=[\w.-]+)", body.get_content())
    assert found, body.get_content()
    return found.group(1)


async def test_email_subscriber_gets_news_only_after_confirming_until_unsubscribing(
    site: Site,
) -> None:
    r = await site.subscribe(kind="email", address="Jo@Example.com")
    assert r.status_code == 202 and "Check your inbox" in r.text
    await site.deliver(expect_mails=1)
    [confirmation] = site.mailbox.mails
    assert confirmation["To"] == "jo@example.com"
    channels = await site.client.get("/api/v1/channels", headers=site.write)
    assert channels.status_code == 200 and "example.com" not in channels.text
    assert "Confirm your subscription" in str(confirmation["Subject"])

    await site.incident("Before confirming", [])  # unconfirmed: nothing is queued
    await site.deliver(expect_mails=1)

    r = await site.client.get(link(confirmation, "subscribe/confirm"))
    assert r.status_code == 200 and "confirmed" in r.text
    incident = await site.incident("API errors", [str(site.api.id)])
    await site.deliver(expect_mails=2)
    news = site.mailbox.mails[1]
    assert "New incident: API errors" in str(news["Subject"])
    unsubscribe = link(news, "unsubscribe")

    r = await site.client.get(unsubscribe)
    assert r.status_code == 200 and "Unsubscribed" in r.text
    r = await site.client.post(
        f"/api/v1/incidents/{incident}/resolve", json={"body": "Fixed."}, headers=site.write
    )
    assert r.status_code == 200
    await site.deliver(expect_mails=2)
    assert (await site.client.get(unsubscribe)).status_code == 400  # used up


async def test_updates_and_resolution_reach_a_confirmed_subscriber_once(site: Site) -> None:
    await site.subscribe(kind="email", address="ops@example.com")
    await site.deliver(expect_mails=1)
    await site.client.get(link(site.mailbox.mails[0], "subscribe/confirm"))
    incident = await site.incident("Slow pages", [])
    update = {"status": "identified", "body": "A bad deploy."}
    await site.client.post(f"/api/v1/incidents/{incident}/updates", json=update, headers=site.write)
    await site.client.post(f"/api/v1/incidents/{incident}/publish", headers=site.write)  # no-op
    await site.client.post(f"/api/v1/incidents/{incident}/resolve", headers=site.write)
    await site.deliver(expect_mails=4)
    subjects = sorted(str(m["Subject"]) for m in site.mailbox.mails[1:])
    assert subjects == [
        "Incident update: Slow pages",
        "New incident: Slow pages",
        "Resolved: Slow pages",
    ]


async def test_component_filter_is_respected(site: Site) -> None:
    await site.subscribe(kind="email", address="web@example.com", components=str(site.web.id))
    await site.deliver(expect_mails=1)
    await site.client.get(link(site.mailbox.mails[0], "subscribe/confirm"))
    await site.incident("API only", [str(site.api.id)])
    await site.deliver(expect_mails=1)
    await site.incident("Website down", [str(site.web.id)])
    await site.deliver(expect_mails=2)
    assert "Website down" in str(site.mailbox.mails[1]["Subject"])


async def test_a_repeated_subscription_gets_the_same_answer_and_no_second_mail(
    site: Site,
) -> None:
    first = await site.subscribe(kind="email", address="a@example.com")
    again = await site.subscribe(kind="email", address="a@example.com")
    assert (first.status_code, first.text) == (again.status_code, again.text)
    await site.deliver(expect_mails=1)


async def test_tampered_and_foreign_tokens_are_refused(site: Site) -> None:
    await site.subscribe(kind="email", address="t@example.com")
    await site.deliver(expect_mails=1)
    confirm = link(site.mailbox.mails[0], "subscribe/confirm")
    tampered = confirm[:-2] + ("AA" if not confirm.endswith("AA") else "BB")
    assert (await site.client.get(tampered)).status_code == 400
    # A confirm token is not an unsubscribe token.
    as_unsubscribe = confirm.replace("subscribe/confirm", "unsubscribe")
    assert (await site.client.get(as_unsubscribe)).status_code == 400
    assert (await site.client.get("/s/acme/unsubscribe?token=nonsense")).status_code == 400
    [sub] = await site.services.store.list_subscribers(site.org.id)
    assert sub.confirmed_at is None


async def test_bad_input_and_floods_are_refused(site: Site) -> None:
    assert (await site.subscribe(kind="email", address="not-an-address")).status_code == 422
    assert (await site.subscribe(kind="fax", address="x@example.com")).status_code == 422
    bad_component = await site.subscribe(kind="email", address="c@example.com", components="x")
    assert bad_component.status_code == 422
    codes = [(await site.subscribe(kind="email", address="f@example.com")).status_code]
    codes += [(await site.subscribe(kind="email", address="f@example.com")).status_code]
    codes += [(await site.subscribe(kind="email", address="F@example.com")).status_code]
    codes += [(await site.subscribe(kind="email", address="f@example.com")).status_code]
    assert codes == [202, 202, 202, 429]
    assert (await site.client.post("/s/nope/subscribe", data={})).status_code == 404
