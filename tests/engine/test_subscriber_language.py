"""What subscribers receive speaks their page's language (the page appearance's ``language``):
the news of engine/subscriber_news.py on the real store (SQLite, PostgreSQL, PgBouncer), read
from the outbox, one appearance read per page per notification; and, through the real app,
the confirmation mail over a real aiosmtpd server, the webhook welcome, and the code and news
SMS through the stand-in Twilio server of tests/web/test_subscribe_sms.py. An English page's
subscribers get the English texts as before."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statpulse.engine.incident_jobs import IncidentJobs
from statpulse.engine.incidents import IncidentState
from statpulse.engine.maintenance import MaintenanceWindow, WindowKind
from statpulse.engine.subscriber_news import notify_subscribers
from statpulse.engine.subscriber_sms import MAX_SMS, fit
from statpulse.i18n import catalog
from statpulse.model import Component, Organization, StatusPage, new_id, utcnow
from statpulse.notify import NOTIFIERS
from statpulse.store.sql import SqlStore
from statpulse.store.sql_subscribers import Subscriber
from statpulse.web.public.appearance import PageAppearance
from tests.web import test_subscribe as mail
from tests.web import test_subscribe_sms as sms
from tests.web.test_i18n import all_messages

mail_site = mail.site  # the app on SQLite with a real aiosmtpd server
sms_site = sms.site  # the app on SQLite with a stand-in Twilio server

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
# The GSM 03.38 default alphabet (one septet each; the extension table is left out: its
# characters take two). Anything else makes Twilio send UCS-2, 70 characters a segment.
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


# The news on the store: one organisation, an English page and a German page.


@dataclass
class Org:
    store: SqlStore
    org: Organization
    en: StatusPage
    de: StatusPage
    api: Component

    async def subscriber(self, page: StatusPage, kind: str) -> Subscriber:
        sub_id = new_id()
        base = f"https://status.acme.test/s/{page.slug}"
        sub = Subscriber(
            id=sub_id,
            org_id=self.org.id,
            page_id=page.id,
            channel_id=sub_id,  # replaced by the store
            kind=kind,
            address="+447700900123" if kind == "sms" else "http://127.0.0.1",
            components=(),
            nonce=secrets.token_hex(16),
            page_url=base,
            unsubscribe_url=f"{base}/unsubscribe/{sub_id.hex}",
            confirmed_at=NOW,
            created_at=NOW,
        )
        if kind == "sms":
            twilio = {"account_sid": "AC1", "auth_token": "t", "from": "+15005550006"}
            config = NOTIFIERS["twilio"].validate({**twilio, "to": [sub.address]})
            return await self.store.create_subscriber(sub, "twilio", config, ("auth_token",))
        hook = {"url": "http://127.0.0.1:9/hook", "secret": "whsec_" + "A" * 32}
        config = NOTIFIERS["webhook"].validate(hook)
        return await self.store.create_subscriber(sub, "webhook", config, ("secret",))

    async def sent(self, sub: Subscriber) -> list[tuple[str, str]]:
        """(title, text) of every message queued for ``sub``, oldest first."""
        rows = await self.store.outbox_rows(sub.channel_id)
        return [(row["message"]["title"], row["message"]["text"]) for row in rows]


@pytest.fixture
async def acme(store: SqlStore) -> Org:
    org = await store.create_org("acme", "Acme")
    en = await store.create_page(org.id, "acme", "Acme", "")
    de = await store.create_page(org.id, "acme-de", "Acme DE", "")
    await store.set_page_appearance(de.id, PageAppearance(language="de"))
    api = await store.create_component(org.id, "API", "", None, [en.id, de.id])
    return Org(store, org, en, de, api)


def count_calls(monkeypatch: pytest.MonkeyPatch, store: SqlStore, method: str) -> list[int]:
    """Counts the calls of the store's ``method`` (which still runs), as in
    tests/web/test_live_fanout.py."""
    calls = [0]
    original: Callable[..., Awaitable[Any]] = getattr(store, method)

    async def counted(*args: Any) -> Any:
        calls[0] += 1
        return await original(*args)

    monkeypatch.setattr(store, method, counted)
    return calls


async def test_incident_news_speaks_each_subscribers_page_language(
    acme: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    en_hook = await acme.subscriber(acme.en, "webhook")
    en_sms = await acme.subscriber(acme.en, "sms")
    de_hooks = [await acme.subscriber(acme.de, "webhook") for _ in range(3)]
    de_sms = await acme.subscriber(acme.de, "sms")
    reads = count_calls(monkeypatch, acme.store, "get_page_appearance")
    store, org_id = acme.store, acme.org.id
    incident = await store.create_incident(
        org_id, "t", "t", title="API errors", body="Looking.", at=NOW, publish=True
    )
    assert await notify_subscribers(store, incident, "incident.opened", NOW) == 6
    assert reads == [2]  # once per page, not once per subscriber
    updated = await store.add_incident_update(
        org_id, incident.id, "t", "t", status=IncidentState.IDENTIFIED, body="A bad deploy.", at=NOW
    )
    assert updated is not None
    assert await notify_subscribers(store, updated, "incident.updated", NOW) == 6
    resolved = await store.add_incident_update(
        org_id, incident.id, "t", "t", status=IncidentState.RESOLVED, body="Fixed.", at=NOW
    )
    assert resolved is not None
    assert await notify_subscribers(store, resolved, "incident.resolved", NOW) == 6
    assert reads == [6]

    def link(sub: Subscriber) -> str:
        return f"{sub.page_url}/incidents/{incident.id}"

    for de_hook in de_hooks:
        unsubscribe = f"\n\nAbbestellen: {de_hook.unsubscribe_url}"
        assert await acme.sent(de_hook) == [
            ("Neue Störung: API errors", f"Wird untersucht: Looking.{unsubscribe}"),
            ("Update zur Störung: API errors", f"Ursache gefunden: A bad deploy.{unsubscribe}"),
            ("Behoben: API errors", f"Behoben: Fixed.{unsubscribe}"),
        ]
    unsubscribe = f"\n{link(de_sms)}\nAbbestellen: {de_sms.unsubscribe_url}"
    assert await acme.sent(de_sms) == [
        ("Neue Störung: API errors", f"Wird untersucht: Looking.{unsubscribe}"),
        ("Update zur Störung: API errors", f"Ursache gefunden: A bad deploy.{unsubscribe}"),
        ("Behoben: API errors", f"Behoben: Fixed.{unsubscribe}"),
    ]
    # The English page: the texts as they always were.
    unsubscribe = f"\n\nUnsubscribe: {en_hook.unsubscribe_url}"
    assert await acme.sent(en_hook) == [
        ("New incident: API errors", f"Investigating: Looking.{unsubscribe}"),
        ("Incident update: API errors", f"Identified: A bad deploy.{unsubscribe}"),
        ("Resolved: API errors", f"Resolved: Fixed.{unsubscribe}"),
    ]
    unsubscribe = f"\n{link(en_sms)}\nUnsubscribe: {en_sms.unsubscribe_url}"
    assert await acme.sent(en_sms) == [
        ("New incident: API errors", f"Investigating: Looking.{unsubscribe}"),
        ("Incident update: API errors", f"Identified: A bad deploy.{unsubscribe}"),
        ("Resolved: API errors", f"Resolved: Fixed.{unsubscribe}"),
    ]


async def test_maintenance_news_is_a_customer_text_in_the_page_language(
    acme: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    en_hook = await acme.subscriber(acme.en, "webhook")
    de_hook = await acme.subscriber(acme.de, "webhook")
    de_sms = await acme.subscriber(acme.de, "sms")
    window = MaintenanceWindow(
        kind=WindowKind.ONE_OFF, start=NOW - timedelta(minutes=8), end=NOW - timedelta(minutes=2)
    )
    await acme.store.create_maintenance(
        acme.org.id, "t", "DB upgrade", "We **upgrade** it.", window, (acme.api.id,), NOW
    )
    reads = count_calls(monkeypatch, acme.store, "get_page_appearance")
    assert await IncidentJobs(acme.store, clock=lambda: NOW).run_once() == (0, 2 * 3)
    assert reads == [4]  # started and ended: each reads each page once

    times = "2026-11-23 11:52 UTC", "2026-11-23 11:58 UTC"
    german = f"Geplant von {times[0]} bis {times[1]}."
    unsubscribe = f"\n\nAbbestellen: {de_hook.unsubscribe_url}"
    assert await acme.sent(de_hook) == [
        ("Wartung begonnen: DB upgrade", f"{german}\n\nWe **upgrade** it.{unsubscribe}"),
        ("Wartung beendet: DB upgrade", f"{german}\n\nWe **upgrade** it.{unsubscribe}"),
    ]
    unsubscribe = f"\n{de_sms.page_url}\nAbbestellen: {de_sms.unsubscribe_url}"
    assert await acme.sent(de_sms) == [
        ("Wartung begonnen: DB upgrade", f"{german} We upgrade it.{unsubscribe}"),
        ("Wartung beendet: DB upgrade", f"{german} We upgrade it.{unsubscribe}"),
    ]
    english = f"Scheduled from {times[0]} to {times[1]}."
    unsubscribe = f"\n\nUnsubscribe: {en_hook.unsubscribe_url}"
    assert await acme.sent(en_hook) == [
        ("Maintenance started: DB upgrade", f"{english}\n\nWe **upgrade** it.{unsubscribe}"),
        ("Maintenance ended: DB upgrade", f"{english}\n\nWe **upgrade** it.{unsubscribe}"),
    ]
    # The organisation's own channels keep the operator's message (none here): nothing else.
    assert await IncidentJobs(acme.store, clock=lambda: NOW).run_once() == (0, 0)


# The texts themselves.


def news_messages() -> set[str]:
    """The message ids of the subscriber news and SMS (engine/subscriber_*.py)."""
    return {ids[0] for where, ids in all_messages() if where.startswith("engine/subscriber_")}


def test_the_catalog_check_finds_the_news_message_ids() -> None:
    found = news_messages()
    assert {"New incident", "Maintenance ended", "Unsubscribe", "Investigating"} <= found
    assert "Scheduled from %(start)s to %(end)s." in found
    german = catalog("de")
    for message in found:
        assert isinstance(german.get(message), str) and german[message] != message, message


def test_the_german_sms_texts_keep_to_the_gsm7_alphabet() -> None:
    german = catalog("de")
    code = (
        "Your code is %(code)s. It is valid for %(n)s minute; "
        "if you did not ask for it, ignore this message."
    )
    texts = [german[m] for m in (*news_messages(), "%(title)s status updates")]
    texts += german[code]  # both plural forms
    for text in texts:
        assert isinstance(text, str) and set(text) <= GSM7, text


@pytest.mark.parametrize("label", ["Unsubscribe", "Abbestellen", "Abmeldung vom Statusdienst" * 3])
def test_fit_holds_the_limit_whatever_the_unsubscribe_label(label: str) -> None:
    unsubscribe = "https://status.example.com/s/acme/unsubscribe/" + "x" * 76
    url = "https://status.example.com/s/acme/incidents/" + "0" * 36
    for title, detail in [("t" * 500, "d" * 500), ("Short", "d" * 1000), ("t" * 400, "")]:
        head, text = fit(title, detail, url, unsubscribe, label)
        body = f"{head}\n{text}"
        assert len(body) <= MAX_SMS and body.endswith(f"\n{label}: {unsubscribe}"), body
    head, text = fit("Down", "Gestört.", None, unsubscribe, label)
    assert (head, text) == ("Down", f"Gestört.\n{label}: {unsubscribe}")


# Through the app: what the subscribe routes send.


async def german(site: mail.Site | sms.Site) -> None:
    r = await site.client.put(
        "/api/v1/pages/acme/appearance", json={"language": "de"}, headers=site.write
    )
    assert r.status_code == 200, r.text


def plain(message: Any) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content.replace("\r\n", "\n")


async def test_a_german_pages_email_subscriber_gets_german_mail(mail_site: mail.Site) -> None:
    site = mail_site
    await german(site)
    assert (await site.subscribe(kind="email", address="jo@example.com")).status_code == 202
    await site.deliver(expect_mails=1)
    [confirmation] = site.mailbox.mails
    assert confirmation["Subject"] == "Bestätigen Sie Ihr Abonnement für Acme"
    confirm = mail.link(confirmation, "subscribe/confirm")
    assert plain(confirmation) == (
        "Folgen Sie diesem Link, um Status-Updates von Acme per E-Mail zu erhalten:\n"
        f"http://test{confirm}\n\n"
        "Falls Sie das nicht angefordert haben, ignorieren Sie diese Nachricht: "
        f"Es wird nichts weiter gesendet.\n\nhttp://test{confirm}\n"
    )
    assert (await site.client.get(confirm)).status_code == 200

    incident = await site.incident("API errors", [str(site.api.id)])
    update = {"status": "identified", "body": "A bad deploy."}
    r = await site.client.post(
        f"/api/v1/incidents/{incident}/updates", json=update, headers=site.write
    )
    assert r.status_code in (200, 201), r.text
    r = await site.client.post(
        f"/api/v1/incidents/{incident}/resolve", json={"body": "Fixed."}, headers=site.write
    )
    assert r.status_code == 200, r.text
    await site.deliver(expect_mails=4)
    news = {str(m["Subject"]): plain(m) for m in site.mailbox.mails[1:]}
    assert sorted(news) == [
        "Behoben: API errors",
        "Neue Störung: API errors",
        "Update zur Störung: API errors",
    ]
    assert news["Neue Störung: API errors"].startswith(
        "Wird untersucht: We are looking into it.\n\nAbbestellen: http://test/s/acme/unsubscribe?"
    )
    assert news["Update zur Störung: API errors"].startswith("Ursache gefunden: A bad deploy.\n\n")
    assert news["Behoben: API errors"].startswith("Behoben: Fixed.\n\n")
    for text in news.values():
        assert "Unsubscribe" not in text
        assert re.search(r"\n\nAbbestellen: http://test/s/acme/unsubscribe\?token=[\w.-]+\n", text)
    for sent in site.mailbox.mails:  # the link a mail's HTML part adds, labelled in German
        html = sent.get_body(("html",))
        assert html is not None and ">Öffnen</a>" in html.get_content(), sent["Subject"]


async def test_an_english_pages_confirmation_mail_is_as_before(mail_site: mail.Site) -> None:
    site = mail_site
    assert (await site.subscribe(kind="email", address="jo@example.com")).status_code == 202
    await site.deliver(expect_mails=1)
    [confirmation] = site.mailbox.mails
    assert confirmation["Subject"] == "Confirm your subscription to Acme"
    confirm = mail.link(confirmation, "subscribe/confirm")
    assert plain(confirmation) == (
        f"Follow this link to get Acme status updates by e-mail:\nhttp://test{confirm}\n\n"
        "If you did not ask for this, ignore this message: nothing more will be sent."
        f"\n\nhttp://test{confirm}\n"
    )
    html = confirmation.get_body(("html",))
    assert html is not None and ">Open</a>" in html.get_content()


WELCOME = {
    "de": ("Acme abonniert", "Sie erhalten hier Updates zu Störungen und Wartungen von Acme."),
    "en": ("Subscribed to Acme", "You will get Acme incident and maintenance updates here."),
}
UNSUBSCRIBE_LABEL = {"de": "Abbestellen", "en": "Unsubscribe"}


@pytest.mark.parametrize("lang", ["de", "en"])
async def test_a_webhook_subscriber_is_welcomed_in_the_page_language(
    mail_site: mail.Site, lang: str
) -> None:
    site = mail_site
    if lang == "de":
        await german(site)
    form = {"kind": "webhook", "address": "http://127.0.0.1:9/hook"}
    assert (await site.subscribe(**form)).status_code == 201
    [sub] = await site.services.store.list_subscribers(site.org.id)
    [row] = await site.services.store.outbox_rows(sub.channel_id)
    title, text = WELCOME[lang]
    assert row["message"]["title"] == title
    assert row["message"]["text"] == f"{text}\n\n{UNSUBSCRIBE_LABEL[lang]}: {sub.unsubscribe_url}"


async def test_a_german_pages_sms_subscriber_gets_german_sms(sms_site: sms.Site) -> None:
    site = sms_site
    await german(site)
    form = await site.subscribe(kind="sms", address=sms.NUMBER)
    assert form.status_code == 202
    [code_sms] = site.twilio.to(sms.NUMBER)
    code = sms.code_of(code_sms)
    unsubscribe = sms.UNSUBSCRIBE.pattern.replace("Unsubscribe", "Abbestellen")
    expected = re.escape(
        f"Status-Updates von Acme\nIhr Code lautet {code}. Er ist 10 Minuten gültig; falls Sie"
        " ihn nicht angefordert haben, ignorieren Sie diese Nachricht.\n"
    )
    assert re.fullmatch(expected + unsubscribe, code_sms), code_sms
    assert (await site.enter(form, code)).status_code == 200

    await site.incident("Database **slow**", "Queries take [seconds](https://x.test/)." * 20)
    [_, news] = await site.deliver(sms.NUMBER, expect=2)
    assert news.startswith("Neue Störung: Database slow\nWird untersucht: Queries take seconds.")
    assert re.search(unsubscribe, news) and "Unsubscribe" not in news

    start = utcnow() - timedelta(minutes=1)
    window = {
        "kind": "one_off",
        "start": start.isoformat(),
        "end": (start + sms.WINDOW).isoformat(),
    }
    body = {"title": "Database upgrade", "body": "We **upgrade** it.", "window": window}
    r = await site.client.post("/api/v1/maintenances", json=body, headers=site.write)
    assert r.status_code == 201, r.text
    await site.services.incident_jobs.run_once()
    [*_, maintenance] = await site.deliver(sms.NUMBER, expect=3)
    times = [f"{t:%Y-%m-%d %H:%M} UTC" for t in (start, start + sms.WINDOW)]
    assert maintenance.startswith(
        f"Wartung begonnen: Database upgrade\nGeplant von {times[0]} bis {times[1]}."
        " We upgrade it.\nhttp://test/s/acme\n"
    ), maintenance
    assert re.search(unsubscribe, maintenance)
    for text in (code_sms, news, maintenance):
        assert len(text) <= MAX_SMS and set(text) <= GSM7, text
