"""SMS subscribers against the real app on SQLite, the real outbox dispatcher and a local HTTP
server standing in for Twilio's Messages API (it records every request): a code by SMS,
confirming it, news as short SMS ending with the unsubscribe link, unsubscribing, wrong and
expired codes, bad numbers, and SMS refused when the server has no SMS settings."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from statpulse.engine.subscriber_news import notify_maintenance
from statpulse.engine.subscriber_sms import MAX_SMS, fit
from statpulse.model import Component, Organization, Scope, StatusPage, utcnow
from statpulse.notify import NOTIFIERS, HttpSender, Message
from statpulse.notify.dispatcher import Dispatcher
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.public.subscribe import signing_key
from statpulse.web.public.subscribe_sms import code_hash
from statpulse.web.services import Services

SID, TOKEN, SENDER = "AC0123456789abcdef", "twilio-secret-token", "+15005550006"
NUMBER = "+447700900123"
UNREACHABLE = "+447700900999"  # "Twilio" answers 400 (error 21211) for this one
WINDOW = timedelta(hours=2)
UNSUBSCRIBE = re.compile(r"Unsubscribe: http://test(/s/acme/unsubscribe/[\w.-]+)$")


@dataclass
class FakeTwilio:
    """Records the form of every ``POST .../Messages.json`` with its Authorization header."""

    url: str = ""
    sms: list[dict[str, str]] = field(default_factory=list)

    async def messages(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        sms = {k: str(v) for k, v in form.items()}
        sms["path"] = request.path
        sms["auth"] = request.headers.get("Authorization", "")
        if sms["To"] == UNREACHABLE:
            body = {"code": 21211, "message": "The 'To' number is not a valid phone number."}
            return web.json_response(body, status=400)
        self.sms.append(sms)
        return web.json_response({"sid": f"SM{len(self.sms):032d}"}, status=201)

    def to(self, number: str) -> list[str]:
        return [s["Body"] for s in self.sms if s["To"] == number]


@dataclass
class Site:
    client: httpx.AsyncClient
    services: Services
    twilio: FakeTwilio
    org: Organization
    page: StatusPage
    api: Component
    write: dict[str, str]

    async def deliver(self, number: str, expect: int) -> list[str]:
        """Run the dispatcher until nothing is due; then wait for ``expect`` SMS to ``number``
        in all (the app's own dispatcher may hold a row meanwhile)."""
        async with HttpSender(timeout=5.0) as http:
            await Dispatcher(self.services.store, http, NOTIFIERS).drain()
        for _ in range(100):
            if len(self.twilio.to(number)) >= expect:
                break
            await asyncio.sleep(0.05)
        found = self.twilio.to(number)
        assert len(found) == expect, found
        return found

    async def subscribe(self, **form: Any) -> httpx.Response:
        return await self.client.post(f"/s/{self.page.slug}/subscribe", data=form)

    async def enter(self, response: httpx.Response, code: str) -> httpx.Response:
        found = re.search(r'name="token" value="([\w.-]+)"', response.text)
        assert found, response.text
        return await self.client.post(
            "/s/acme/subscribe/sms", data={"token": found.group(1), "code": code}
        )

    async def incident(self, title: str, body: str = "We are looking into it.") -> str:
        incident = {"title": title, "body": body, "publish": True, "components": []}
        r = await self.client.post("/api/v1/incidents", json=incident, headers=self.write)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def code_of(body: str) -> str:
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


async def _site(tmp_path: Path, **settings: Any) -> AsyncIterator[Site]:
    twilio = FakeTwilio()
    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", twilio.messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    twilio.url = f"http://127.0.0.1:{port}"
    config = Settings(db=f"sqlite:///{tmp_path / 'sms.db'}", data_dir=tmp_path, **settings)
    if "sms_twilio_url" in settings:
        config = config.model_copy(update={"sms_twilio_url": twilio.url})
    statpulse = create_app(config)
    try:
        async with statpulse.router.lifespan_context(statpulse):
            svc: Services = statpulse.state.services
            org = await svc.store.create_org("acme", "Acme")
            page = await svc.store.create_page(org.id, "acme", "Acme", "")
            api = await svc.store.create_component(org.id, "API", "", None, [page.id])
            key = apikeys.generate()
            await svc.store.create_api_key(org.id, "t", Scope.WRITE, key.prefix, key.secret_hash)
            transport = httpx.ASGITransport(app=statpulse)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                write = {"Authorization": f"Bearer {key.token}"}
                yield Site(client, svc, twilio, org, page, api, write)
    finally:
        await runner.cleanup()


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    sms = {
        "sms_twilio_account_sid": SID,
        "sms_twilio_auth_token": TOKEN,
        "sms_twilio_from": SENDER,
        "sms_twilio_url": "set by _site",
    }
    async for found in _site(tmp_path, **sms):
        yield found


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[Site]:
    async for found in _site(tmp_path):
        yield found


async def test_sms_subscriber_confirms_a_code_and_gets_short_news_until_unsubscribing(
    site: Site,
) -> None:
    r = await site.subscribe(kind="sms", address="+44 7700 900-123")
    assert r.status_code == 202 and "Enter your code" in r.text and "+44********23" in r.text
    [code_sms] = site.twilio.sms
    assert (code_sms["To"], code_sms["From"]) == (NUMBER, SENDER)
    assert code_sms["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert code_sms["auth"].startswith("Basic ")
    assert UNSUBSCRIBE.search(code_sms["Body"]) and len(code_sms["Body"]) <= MAX_SMS
    listed = await site.client.get(f"/api/v1/pages/{site.page.id}/subscribers", headers=site.write)
    [sub] = listed.json()
    assert (sub["kind"], sub["address"], sub["confirmed"]) == ("sms", "+44********23", False)
    channels = await site.client.get("/api/v1/channels", headers=site.write)
    assert "900123" not in channels.text and TOKEN not in channels.text

    await site.incident("Before confirming")  # unconfirmed: nothing is queued
    await site.deliver(NUMBER, expect=1)

    r = await site.enter(r, code_of(code_sms["Body"]))
    assert r.status_code == 200 and "Subscription confirmed" in r.text
    await site.incident("Database **slow**", "Queries take [seconds](https://x.test/)." * 20)
    [_, news] = await site.deliver(NUMBER, expect=2)
    assert news.startswith("New incident: Database slow\nInvestigating: Queries take seconds.")
    assert len(news) <= MAX_SMS and "**" not in news and "](" not in news
    unsubscribe = UNSUBSCRIBE.search(news)
    assert unsubscribe is not None, news

    # Opening the link (as a link preview would) only asks.
    asked = await site.client.get(unsubscribe.group(1))
    assert asked.status_code == 200 and '<button type="submit">Unsubscribe' in asked.text
    assert len(await site.services.store.list_subscribers(site.org.id)) == 1
    r = await site.client.post(unsubscribe.group(1))
    assert r.status_code == 200 and "Unsubscribed" in r.text
    assert await site.services.store.list_subscribers(site.org.id) == []
    await site.incident("After unsubscribing")
    await site.deliver(NUMBER, expect=2)
    assert (await site.client.post(unsubscribe.group(1))).status_code == 400  # used up


async def test_five_wrong_codes_end_the_attempt(site: Site) -> None:
    form = await site.subscribe(kind="sms", address=NUMBER)
    right = code_of(site.twilio.sms[0]["Body"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    not_a_code = await site.enter(form, "12ab")  # not counted
    assert not_a_code.status_code == 422 and 'aria-invalid="true"' in not_a_code.text
    for _ in range(5):
        r = await site.enter(form, wrong)
        assert r.status_code == 422 and "This code is not right" in r.text
    r = await site.enter(form, right)
    assert r.status_code == 429
    assert await site.services.store.list_subscribers(site.org.id) == []


async def test_a_right_code_after_wrong_ones_confirms(site: Site) -> None:
    form = await site.subscribe(kind="sms", address=NUMBER)
    right = code_of(site.twilio.sms[0]["Body"])
    wrong = f"{(int(right) + 7) % 1_000_000:06d}"
    assert (await site.enter(form, wrong)).status_code == 422
    assert (await site.enter(form, f" {right[:3]} {right[3:]} ")).status_code == 200
    [sub] = await site.services.store.list_subscribers(site.org.id, confirmed=True)
    assert sub.kind == "sms"


async def test_an_expired_code_is_refused(site: Site) -> None:
    form = await site.subscribe(kind="sms", address=NUMBER)
    [sub] = await site.services.store.list_subscribers(site.org.id)
    key = signing_key(site.services.settings)
    past = utcnow() - timedelta(seconds=1)
    await site.services.store.set_subscriber_code(sub.id, code_hash(key, sub, "123456"), past)
    assert (await site.enter(form, "123456")).status_code == 410
    assert await site.services.store.list_subscribers(site.org.id, confirmed=True) == []


@pytest.mark.parametrize(
    "number",
    ["12345678", "+0123456789", "+1234567", "+1234567890123456", "+44 7700 abc", "", "+"],
)
async def test_a_number_not_in_e164_is_a_422_next_to_the_field(site: Site, number: str) -> None:
    r = await site.subscribe(kind="sms", address=number)
    assert r.status_code == 422
    assert 'id="sms-address" name="address"' in r.text
    assert 'aria-invalid="true" aria-describedby="sms-address-error"' in r.text
    assert 'id="sms-address-error">Enter a mobile number in international format' in r.text
    assert site.twilio.sms == []
    assert await site.services.store.list_subscribers(site.org.id) == []


async def test_eight_and_fifteen_digits_are_numbers(site: Site) -> None:
    assert (await site.subscribe(kind="sms", address="+12345678")).status_code == 202
    assert (await site.subscribe(kind="sms", address="+123456789012345")).status_code == 202
    assert [s["To"] for s in site.twilio.sms] == ["+12345678", "+123456789012345"]


async def test_a_number_twilio_refuses_is_a_422_and_stores_nothing(site: Site) -> None:
    r = await site.subscribe(kind="sms", address=UNREACHABLE)
    assert r.status_code == 422 and "cannot receive text messages" in r.text
    assert await site.services.store.list_subscribers(site.org.id) == []


async def test_subscribing_a_number_again_sends_a_new_code_and_the_same_answer(
    site: Site,
) -> None:
    first = await site.subscribe(kind="sms", address=NUMBER)
    again = await site.subscribe(kind="sms", address="+44 (7700) 900123")
    assert first.status_code == again.status_code == 202
    assert len(site.twilio.sms) == 2
    assert len(await site.services.store.list_subscribers(site.org.id)) == 1
    # Only the newest code is valid.
    old, new = (code_of(s["Body"]) for s in site.twilio.sms)
    if old != new:
        assert (await site.enter(again, old)).status_code == 422
    assert (await site.enter(again, new)).status_code == 200


async def test_the_address_limit_counts_a_number_however_it_is_spaced(site: Site) -> None:
    codes = [
        (await site.subscribe(kind="sms", address=spaced)).status_code
        for spaced in (NUMBER, "+44 7700 900123", "+44-7700-900-123", "+44 77 00 90 01 23")
    ]
    assert codes == [202, 202, 202, 429]


async def test_without_sms_settings_sms_is_refused_and_not_offered(bare: Site) -> None:
    r = await bare.subscribe(kind="sms", address=NUMBER)
    assert r.status_code == 422
    assert 'id="kind-error" role="alert">Text messages are not available' in r.text
    assert bare.twilio.sms == []
    form = await bare.client.get("/s/acme/subscribe")
    assert form.status_code == 200 and 'value="sms"' not in form.text


def test_fit_keeps_an_sms_within_320_characters_and_ends_with_the_unsubscribe_link() -> None:
    unsubscribe = "https://status.example.com/s/acme/unsubscribe/" + "x" * 76
    url = "https://status.example.com/s/acme/incidents/" + "0" * 36
    for title, detail in [("t" * 500, "d" * 500), ("Short", "d" * 1000), ("t" * 400, "")]:
        head, text = fit(title, detail, url, unsubscribe)
        body = f"{head}\n{text}"
        assert len(body) <= MAX_SMS and body.endswith(f"\nUnsubscribe: {unsubscribe}"), body
        assert url in body
    head, text = fit("Down", "It is **down**.\n\nSee [here](https://x)", None, unsubscribe)
    assert (head, text) == ("Down", f"It is down. See here\nUnsubscribe: {unsubscribe}")


async def test_maintenance_reaches_a_confirmed_sms_subscriber_as_a_short_sms(site: Site) -> None:
    form = await site.subscribe(kind="sms", address=NUMBER)
    assert (await site.enter(form, code_of(site.twilio.sms[0]["Body"]))).status_code == 200
    start = utcnow() + timedelta(hours=1)
    window = {"kind": "one_off", "start": start.isoformat(), "end": (start + WINDOW).isoformat()}
    body = {"title": "Database upgrade", "body": "We **upgrade** it.", "window": window}
    r = await site.client.post("/api/v1/maintenances", json=body, headers=site.write)
    assert r.status_code == 201, r.text
    [maintenance] = await site.services.store.list_maintenances(site.org.id)
    message = Message(
        id="",
        event="maintenance.started",
        title="Maintenance started: Database upgrade",
        text="We **upgrade** it. " * 40,
        occurred_at=start,
        severity="none",
    )
    store = site.services.store
    queued = await notify_maintenance(store, maintenance, message, "maint:t", utcnow())
    assert queued == 1
    [_, sms] = await site.deliver(NUMBER, expect=2)
    assert sms.startswith("Maintenance started: Database upgrade\nWe upgrade it.")
    assert len(sms) <= MAX_SMS and "**" not in sms and UNSUBSCRIBE.search(sms)


async def test_the_unsubscribe_link_works_when_the_page_turns_private(site: Site) -> None:
    form = await site.subscribe(kind="sms", address=NUMBER)
    assert (await site.enter(form, code_of(site.twilio.sms[0]["Body"]))).status_code == 200
    unsubscribe = UNSUBSCRIBE.search(site.twilio.sms[0]["Body"])
    assert unsubscribe is not None
    rules = {"ip_allowlist": ["10.0.0.0/8"]}
    r = await site.client.put("/api/v1/pages/acme/access", json=rules, headers=site.write)
    assert r.status_code == 200, r.text
    assert (await site.client.get("/s/acme/subscribe")).status_code in (303, 401)
    assert (await site.client.get(unsubscribe.group(1))).status_code == 200
    assert (await site.client.post(unsubscribe.group(1))).status_code == 200
    assert await site.services.store.list_subscribers(site.org.id) == []
