"""Private status pages through the real app (SQLite, httpx's ASGI transport, a real aiosmtpd
server on loopback): every public URL of a private page is refused without access and granted
with a valid cookie or from an allowed address; passwords, one-time e-mail links, cookies that
are forged, tampered with, expired or outdated; the page cache, custom domains and snapshots."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from statpulse.cli import app as cli
from statpulse.model import Scope, new_id, utcnow
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.store.sql import open_store
from statpulse.store.sql_access import PageAccess
from statpulse.web.app import create_app
from statpulse.web.public.access import COOKIE, cookie_valid, keys, make_cookie
from statpulse.web.public.snapshot import (
    PrivatePage,
    SnapshotPublisher,
    SnapshotTarget,
    export_page,
    renderer,
)
from statpulse.web.services import Services

PASSWORD = "open sesame 42"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OUTSIDE = ("198.51.100.7", 50000)  # not in any allowlist below
NEUTRAL = "If {} may see this page, a message with a sign-in link is on its way."


@dataclass
class Mailbox:
    mails: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(mail, EmailMessage)
        self.mails.append(mail)
        return "250 Message accepted"

    async def wait_for(self, count: int) -> None:
        for _ in range(200):
            if len(self.mails) >= count:
                break
            await asyncio.sleep(0.025)
        assert len(self.mails) == count


@dataclass
class Site:
    app: FastAPI
    settings: Settings
    services: Services
    mailbox: Mailbox
    write: dict[str, str]
    incident: str
    component: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def visitor(
        self, client: tuple[str, int] = OUTSIDE, base_url: str = "http://status.test"
    ) -> httpx.AsyncClient:
        """A new browser: its own cookie jar, from address ``client``."""
        transport = httpx.ASGITransport(app=self.app, client=client)
        found = httpx.AsyncClient(transport=transport, base_url=base_url)
        self.clients.append(found)
        return found

    async def rules(self, **body: Any) -> dict[str, Any]:
        r = await self.visitor().put("/api/v1/pages/acme/access", json=body, headers=self.write)
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    async def access(self) -> PageAccess:
        found = await self.services.store.page_access_by_slug("acme")
        assert found is not None
        return found

    def urls(self) -> list[str]:
        """Every GET URL of page acme that is not the event stream (the cookie's path,
        ``/s/acme``, leaves out ``/api/v1/status/acme``: see ``all_urls``)."""
        page = "/s/acme"
        component = f"{page}/components/{self.component}"
        return [
            page,
            f"{page}/",
            f"{page}?before={self.incident}",
            f"{page}/incidents/{self.incident}",
            *(
                f"{page}/api/v2/{name}.json"
                for name in (
                    "summary",
                    "status",
                    "components",
                    "incidents",
                    "incidents/unresolved",
                    "scheduled-maintenances",
                    "scheduled-maintenances/upcoming",
                    "scheduled-maintenances/active",
                )
            ),
            f"{page}/feed.rss",
            f"{page}/feed.atom",
            f"{page}/badge/status.svg",
            f"{component}/badge/uptime.svg",
            f"{component}/badge/response.svg",
            component,
            f"{page}/subscribe/confirm?token=x",
            f"{page}/theme.css",
            f"{page}/logo",
            f"{page}/favicon",
            f"{page}/widget.js",
        ]

    def all_urls(self) -> list[str]:
        return [*self.urls(), "/api/v1/status/acme"]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    box = Mailbox()
    loop = asyncio.get_running_loop()
    smtp = await loop.create_server(lambda: SMTP(box), "127.0.0.1", 0)
    settings = Settings(
        db=f"sqlite:///{tmp_path / 'private.db'}",
        data_dir=tmp_path,
        embedded_runner=False,
        custom_domains=True,
        public_hosts=["status.test"],
        smtp_host="127.0.0.1",
        smtp_port=smtp.sockets[0].getsockname()[1],
        smtp_from="Acme Status <status@acme.test>",
    )
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            svc: Services = app.state.services
            org = await svc.store.create_org("acme", "Acme")
            page = await svc.store.create_page(org.id, "acme", "Acme", "")
            beta = await svc.store.create_page(org.id, "beta", "Beta", "")
            component = await svc.store.create_component(org.id, "API", "", None, [page.id])
            await svc.store.create_component(org.id, "Web", "", None, [beta.id])
            key = apikeys.generate()
            await svc.store.create_api_key(org.id, "t", Scope.WRITE, key.prefix, key.secret_hash)
            write = {"Authorization": f"Bearer {key.token}"}
            site = Site(app, settings, svc, box, write, "", str(component.id))
            body = {"title": "API errors", "body": "Looking into it.", "publish": True}
            r = await site.visitor().post(
                "/api/v1/incidents", json={**body, "components": [site.component]}, headers=write
            )
            assert r.status_code == 201, r.text
            site.incident = r.json()["id"]
            yield site
            for client in site.clients:
                await client.aclose()
    finally:
        smtp.close()
        await smtp.wait_closed()


async def sign_in(
    client: httpx.AsyncClient, password: str = PASSWORD, root: str = "/s/acme"
) -> httpx.Response:
    return await client.post(f"{root}/access", data={"password": password, "next": root or "/"})


def assert_refused(r: httpx.Response, url: str) -> None:
    assert r.status_code == 401, (url, r.status_code, r.text)
    assert r.json()["error"]["code"] == "private_page", url
    assert r.headers["cache-control"] == "no-store", url
    assert "access-control-allow-origin" not in r.headers


def assert_granted(r: httpx.Response, url: str) -> None:
    assert r.status_code not in (303, 401), (url, r.status_code, r.text)
    assert r.headers["cache-control"] == "private, no-store", url
    assert "access-control-allow-origin" not in r.headers, url


async def test_a_page_without_rules_stays_public_and_cacheable(site: Site) -> None:
    r = await site.visitor().get("/s/acme", headers=HTML)
    assert r.status_code == 200
    assert r.headers["cache-control"].startswith("public")
    assert (await site.visitor().get("/s/acme/access")).status_code == 303


async def test_every_url_of_a_private_page_is_refused_without_access(site: Site) -> None:
    await site.rules(password=PASSWORD)
    anonymous = site.visitor()
    for url in site.all_urls():
        assert_refused(await anonymous.get(url), url)
    assert_refused(await anonymous.get("/s/acme/events"), "/s/acme/events")
    events = await anonymous.get("/s/acme/events", headers={"Accept": "text/event-stream"})
    assert_refused(events, "events")
    subscribe = await anonymous.post("/s/acme/subscribe", data={"address": "jo@example.com"})
    assert_refused(subscribe, "subscribe")
    assert site.mailbox.mails == []
    # The other page, and unknown pages, are not affected.
    assert (await anonymous.get("/s/beta")).status_code == 200
    assert (await anonymous.get("/s/nope")).status_code == 404


async def test_a_browser_is_sent_to_the_sign_in_form_and_back(site: Site) -> None:
    await site.rules(password=PASSWORD)
    browser = site.visitor()
    r = await browser.get(f"/s/acme/incidents/{site.incident}", headers=HTML)
    assert r.status_code == 303
    assert r.headers["location"] == f"/s/acme/access?next=/s/acme/incidents/{site.incident}"
    form = await browser.get(r.headers["location"])
    assert form.status_code == 200
    assert form.headers["cache-control"] == "no-store"
    assert '<label for="access-password">Password</label>' in form.text
    assert 'id="access-email"' not in form.text  # no e-mail sign-in offered
    signed = await sign_in(browser)
    assert signed.status_code == 303
    assert signed.headers["location"] == "/s/acme"
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "Path=/s/acme;" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here
    page = await browser.get("/s/acme", headers=HTML)
    assert page.status_code == 200 and "API errors" in page.text
    assert page.headers["cache-control"] == "private, no-store"


async def test_the_right_password_grants_every_url(site: Site) -> None:
    await site.rules(password=PASSWORD)
    browser = site.visitor()
    assert (await sign_in(browser)).status_code == 303
    for url in site.urls():
        assert_granted(await browser.get(url), url)
    # The API's copy of the status is outside the cookie's path: allowed addresses only.
    assert_refused(await browser.get("/api/v1/status/acme"), "api v1")
    assert (await browser.get("/s/acme")).status_code == 200
    assert (await browser.get("/s/acme/api/v2/summary.json")).json()["page"]["name"] == "Acme"


async def test_over_https_the_cookie_is_secure(site: Site) -> None:
    await site.rules(password=PASSWORD)
    r = await sign_in(site.visitor(base_url="https://status.test"))
    assert "; Secure" in r.headers["set-cookie"]


async def test_a_wrong_password_is_refused_and_attempts_are_limited(site: Site) -> None:
    await site.rules(password=PASSWORD)
    browser = site.visitor()
    for _ in range(10):
        r = await sign_in(browser, "wrong password")
        assert r.status_code == 401 and "Wrong password." in r.text
        assert "set-cookie" not in r.headers
    limited = await sign_in(browser)
    assert limited.status_code == 429
    assert "set-cookie" not in limited.headers
    # Another client is not affected.
    assert (await sign_in(site.visitor(("203.0.113.9", 1)))).status_code == 303


async def test_forged_tampered_expired_and_foreign_cookies_are_refused(site: Site) -> None:
    await site.rules(password=PASSWORD)
    access = await site.access()
    key = keys(site.app).get()
    now = time.time()
    good = make_cookie(key, access, "password", now)
    page_id, version, expires, method, mac = good.split(".")
    beta = await site.services.store.get_page("beta")
    assert beta is not None
    cookies = {
        "forged": make_cookie(b"another key" * 3, access, "password", now),
        "tampered version": ".".join([page_id, "9", expires, method, mac]),
        "tampered expiry": ".".join([page_id, version, str(int(expires) + 999), method, mac]),
        "expired": make_cookie(key, access, "password", now - 8 * 24 * 3600),
        "other page": make_cookie(key, replace(access, page_id=beta.id), "password", now),
        "method not offered": make_cookie(key, access, "email", now),
        "garbage": "x.y",
    }
    client = site.visitor()
    for name, value in cookies.items():
        r = await client.get("/s/acme/feed.rss", headers={"Cookie": f"{COOKIE}={value}"})
        assert r.status_code == 401, name
    ok = await client.get("/s/acme/feed.rss", headers={"Cookie": f"a=b; {COOKIE}={good}"})
    assert ok.status_code == 200


async def test_a_cookie_dies_when_the_password_changes(site: Site) -> None:
    await site.rules(password=PASSWORD)
    browser = site.visitor()
    await sign_in(browser)
    assert (await browser.get("/s/acme/api/v2/status.json")).status_code == 200
    await site.rules(password="a new password")
    assert_refused(await browser.get("/s/acme/api/v2/status.json"), "after change")
    assert (await sign_in(browser)).status_code == 401
    assert (await sign_in(browser, "a new password")).status_code == 303
    assert (await browser.get("/s/acme/api/v2/status.json")).status_code == 200


async def test_an_allowed_address_needs_no_sign_in(site: Site) -> None:
    await site.rules(ip_allowlist=["10.0.0.0/8", "2001:db8::/32"])
    for address in ("10.1.2.3", "::ffff:10.1.2.3", "2001:db8::7"):
        inside = site.visitor((address, 1234))
        for url in site.all_urls():
            assert_granted(await inside.get(url), f"{address} {url}")
    outside = site.visitor()
    forwarded = {"X-Forwarded-For": "10.1.2.3", "Forwarded": "for=10.1.2.3"}
    assert_refused(await outside.get("/s/acme", headers=forwarded), "forwarded")
    form = await outside.get("/s/acme/access")
    assert form.status_code == 200 and "allowed" in form.text
    assert 'id="access-password"' not in form.text


async def test_the_page_cache_never_serves_a_private_page_without_access(site: Site) -> None:
    anonymous = site.visitor()
    assert (await anonymous.get("/s/acme")).status_code == 200  # public: rendered and cached
    await site.rules(password=PASSWORD)
    assert_refused(await anonymous.get("/s/acme"), "cached while public")
    browser = site.visitor()
    await sign_in(browser)
    for _ in range(2):  # the second answer comes from CachedPages, before routing
        assert_granted(await browser.get("/s/acme"), "signed in")
    assert site.app.state.render_cache.fresh(("acme", None)) is not None
    renders = site.app.state.render_cache.renders
    assert_refused(await anonymous.get("/s/acme"), "cached while private")
    r = await anonymous.get("/s/acme", headers={**HTML, "If-None-Match": "*"})
    assert r.status_code == 303
    assert site.app.state.render_cache.renders == renders


async def test_an_email_link_signs_in_once_for_an_allowed_domain(site: Site) -> None:
    await site.rules(email_domains=["example.com"])
    browser = site.visitor()
    form = await browser.get("/s/acme/access")
    assert '<label for="access-email">' in form.text and 'id="access-password"' not in form.text
    r = await browser.post("/s/acme/access", data={"email": "Alice@EXAMPLE.com"})
    assert r.status_code == 202
    assert NEUTRAL.format("alice@example.com") in r.text
    await site.mailbox.wait_for(1)
    mail = site.mailbox.mails[0]
    assert mail["To"] == "alice@example.com"
    assert "Sign in to Acme" in str(mail["Subject"])
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(
        r"http://status\.test(/s/acme/access/link\?token=[\w.-]+)", body.get_content()
    )
    assert found, body.get_content()
    link = found.group(1)
    signed = await browser.get(link)
    assert signed.status_code == 303 and signed.headers["location"] == "/s/acme"
    assert (await browser.get("/s/acme", headers=HTML)).status_code == 200
    again = await site.visitor().get(link)
    assert again.status_code == 400 and "already used" in again.text
    assert "set-cookie" not in again.headers


async def test_a_disallowed_domain_gets_the_same_answer_and_no_mail(site: Site) -> None:
    await site.rules(email_domains=["example.com"])
    browser = site.visitor()
    answers = []
    for address in ("bob@evil.test", "carol@sub.example.com", "dave@example.com"):
        r = await browser.post("/s/acme/access", data={"email": address})
        answers.append((r.status_code, r.text.replace(address, "ADDRESS")))
    assert answers[0] == answers[1] == answers[2]
    await site.mailbox.wait_for(1)  # the allowed address's mail, and only that one
    await asyncio.sleep(0.2)
    assert [m["To"] for m in site.mailbox.mails] == ["dave@example.com"]


async def test_a_link_dies_when_the_rules_change_and_a_forged_link_does_nothing(
    site: Site,
) -> None:
    await site.rules(email_domains=["example.com"], password=PASSWORD)
    browser = site.visitor()
    await browser.post("/s/acme/access", data={"email": "erin@example.com"})
    await site.mailbox.wait_for(1)
    body = site.mailbox.mails[0].get_body(("plain",))
    assert body is not None
    token = re.search(r"token=([\w.-]+)", body.get_content())
    assert token
    forged = token.group(1)[:-3] + "AAA"
    assert (await browser.get(f"/s/acme/access/link?token={forged}")).status_code == 400
    await site.rules(email_domains=["example.com", "example.org"])
    r = await browser.get(f"/s/acme/access/link?token={token.group(1)}")
    assert r.status_code == 400
    assert_refused(await browser.get("/s/acme/feed.atom"), "after a dead link")


async def test_a_mail_link_is_never_built_from_an_unknown_host(site: Site) -> None:
    await site.rules(email_domains=["example.com"])
    # Without custom domains any Host reaches the app: a forged one must not become the
    # address of a link that is a credential.
    open_hosts = create_app(site.settings.model_copy(update={"custom_domains": False}))
    async with open_hosts.router.lifespan_context(open_hosts):
        transport = httpx.ASGITransport(app=open_hosts, client=OUTSIDE)
        async with httpx.AsyncClient(transport=transport, base_url="http://evil.test") as c:
            r = await c.post("/s/acme/access", data={"email": "frank@example.com"})
            assert r.status_code == 202
            assert NEUTRAL.format("frank@example.com") in r.text
            await asyncio.sleep(0.3)
            assert site.mailbox.mails == []
        transport = httpx.ASGITransport(app=open_hosts, client=OUTSIDE)
        async with httpx.AsyncClient(transport=transport, base_url="http://status.test") as c:
            r = await c.post("/s/acme/access", data={"email": "frank@example.com"})
            assert r.status_code == 202
            await site.mailbox.wait_for(1)


async def test_cross_site_sign_in_posts_are_refused(site: Site) -> None:
    await site.rules(password=PASSWORD)
    browser = site.visitor()
    data = {"password": PASSWORD}
    for headers in (
        {"Origin": "https://evil.test"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        r = await browser.post("/s/acme/access", data=data, headers=headers)
        assert r.status_code == 403, headers
        assert "set-cookie" not in r.headers
    same = await browser.post("/s/acme/access", data=data, headers={"Origin": "http://status.test"})
    assert same.status_code == 303


@pytest.mark.parametrize(
    "next_path", ["//evil.test/x", "https://evil.test/", "/s/beta", "/s/acme/access", "/\\evil"]
)
async def test_after_sign_in_the_visitor_never_leaves_the_page(site: Site, next_path: str) -> None:
    await site.rules(password=PASSWORD)
    r = await site.visitor().post("/s/acme/access", data={"password": PASSWORD, "next": next_path})
    assert r.status_code == 303 and r.headers["location"] == "/s/acme"


async def test_unsubscribing_stays_possible_on_a_private_page(site: Site) -> None:
    await site.rules(password=PASSWORD)
    r = await site.visitor().get("/s/acme/unsubscribe?token=x")
    assert r.status_code == 400 and "Invalid link" in r.text


async def test_a_private_pages_custom_domain_is_guarded_too(site: Site) -> None:
    store = site.services.store
    page = await store.get_page("acme")
    assert page is not None
    domain = await store.create_domain(page.org_id, page.id, "status.acme.example", "t")
    await store.mark_domain_verified(page.org_id, domain.id, utcnow())
    await site.rules(password=PASSWORD)
    browser = site.visitor(base_url="http://status.acme.example")
    r = await browser.get("/", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/access?next=/"
    assert_refused(await browser.get("/api/v2/summary.json"), "custom domain json")
    assert_refused(await browser.get("/s/acme/feed.rss"), "custom domain own path")
    form = await browser.get("/access")
    assert form.status_code == 200 and 'action="/access"' in form.text
    signed = await sign_in(browser, root="")
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    assert "Path=/;" in signed.headers["set-cookie"]
    assert_granted(await browser.get("/", headers=HTML), "custom domain page")
    assert_granted(await browser.get("/api/v2/summary.json"), "custom domain json")
    # The cookie of the custom domain is not a cookie of the main host.
    assert_refused(await site.visitor().get("/s/acme/feed.rss"), "main host")


async def test_a_private_page_is_never_snapshotted(site: Site, tmp_path: Path) -> None:
    await site.rules(ip_allowlist=["127.0.0.0/8"])  # the snapshot's own client address
    out = tmp_path / "snapshot"
    with pytest.raises(PrivatePage, match="'acme' is private"):
        await export_page(site.settings, "acme", SnapshotTarget.from_url(str(out)))
    assert not out.exists()
    render = renderer(site.app, site.services.store, "https://status.example/s")
    publisher = SnapshotPublisher(
        render, SnapshotTarget.from_url(str(out)), ["acme", "beta"], site.services.live
    )
    await publisher.publish_once()
    assert sorted(p.name for p in out.iterdir()) == ["beta"]  # the public page only


def test_export_static_refuses_a_private_page(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"

    async def setup() -> None:
        store = await open_store(db)
        try:
            org = await store.create_org("acme", "Acme")
            page = await store.create_page(org.id, "acme", "Acme", "")
            await store.set_page_access(
                page.id, password_hash=None, email_domains=[], ip_allowlist=["10.0.0.0/8"]
            )
        finally:
            await store.close()

    asyncio.run(setup())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        [
            "export-static",
            "--page",
            "acme",
            "--out",
            str(out),
            "--db",
            db,
            "--data-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "'acme' is private" in result.output
    assert not out.exists()


RULES = PageAccess(new_id(), "hash", ("example.com",), (), 3, utcnow())
KEY = b"k" * 32


@given(st.integers(min_value=0, max_value=200), st.characters(codec="utf-8"))
def test_any_change_to_a_cookie_makes_it_invalid(position: int, char: str) -> None:
    now = 1_800_000_000.0
    good = make_cookie(KEY, RULES, "email", now)
    assert cookie_valid(KEY, good, RULES, now)
    i = position % len(good)
    changed = good[:i] + char + good[i + 1 :]
    if changed != good:
        assert not cookie_valid(KEY, changed, RULES, now)
    assert not cookie_valid(KEY, good[:i], RULES, now)
