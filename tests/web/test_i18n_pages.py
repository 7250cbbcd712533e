"""The public pages beyond the status and incident pages speak the language of the page's
appearance, through the real app on SQLite: the component page (and its SVG charts), the
sign-in of a private page, the subscribe form (with a refusal next to its field) and the SMS
pages (the code form against a local fake Twilio)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP

from statpulse.model import DayUptime
from statpulse.web.public.svg_charts import (
    LatencyPoint,
    calendar_heatmap,
    format_ms,
    heatmap_cell_title,
    long_date,
    response_time_chart,
)
from tests.api import conftest as api
from tests.api.conftest import Env
from tests.web import test_private_pages as private
from tests.web import test_subscribe_sms as sms
from tests.web.test_i18n import _post, visible_english

env = api.env  # the app on a temporary SQLite database (tests/api/conftest.py)


async def _german_page(env: Env, slug: str = "acme") -> dict[str, object]:
    """A page ``slug`` whose appearance says German, with one component "API" (returned)."""
    monitor = await _post(
        env, "/api/v1/monitors", {"name": "API", "kind": "http", "target": "http://127.0.0.1:9/"}
    )
    await _post(env, "/api/v1/pages", {"slug": slug, "title": "Acme & Co"})
    component = await _post(
        env, "/api/v1/components", {"name": "API", "monitor_id": monitor["id"], "pages": [slug]}
    )
    put = await env.client.put(
        f"/api/v1/pages/{slug}/appearance", json={"language": "de"}, headers=env.write
    )
    assert put.status_code == 200, put.text
    return component


async def test_a_german_component_page(env: Env) -> None:
    component = await _german_page(env)
    await _post(
        env,
        "/api/v1/incidents",
        {"title": "Errors", "body": "Looking", "impact": "minor", "publish": True},
    )
    r = await env.client.get(f"/s/acme/components/{component['id']}")
    assert r.status_code == 200, r.text
    html = r.text
    assert '<html lang="de"' in html
    assert visible_english(html) == []
    for expected in (
        '<h2 id="uptime-heading">Verfügbarkeit</h2>',
        "Keine Daten in den letzten 90 Tagen",
        "API: tägliche Verfügbarkeit",
        ">Keine Daten</text>",
        "API: Antwortzeit, täglich in den letzten 90 Tagen",
        "Keine Antwortzeitdaten in diesem Zeitraum.",
        "Letzte 24 Stunden, pro UTC-Stunde",
        "Störungen in den letzten 90 Tagen",
        "Wird untersucht · Geringe Auswirkung · <time",
        " · Betrifft alle Komponenten</p>",
        ">Alle Komponenten von Acme &amp; Co</a> · Zuletzt aktualisiert: <time",
        "Bereitgestellt mit StatPulse",
    ):
        assert expected in html, expected
    for english in ("Uptime", "No data", "Response time", "Incidents in the last", "Last updated"):
        assert english not in html, english


def test_the_charts_speak_the_language_given() -> None:
    first = date(2026, 2, 23)
    days = [
        DayUptime((first + timedelta(days=i)).isoformat(), 1440, 1438 if i == 3 else 1440, 0)
        for i in range(14)
    ]
    de = str(calendar_heatmap(days, label="API", uid="x", lang="de"))
    en = str(calendar_heatmap(days, label="API", uid="x"))
    assert "API: tägliche Verfügbarkeit vom 23. Feb. 2026 bis 8. März 2026" in de
    assert "API: daily uptime from 23 Feb 2026 to 8 Mar 2026" in en
    assert ">März</text>" in de and ">Mo</text>" in de and ">Fr</text>" in de
    assert ">Mar</text>" in en and ">Mon</text>" in en
    assert 'aria-label="Farblegende"' in de and "Unter 95 %</li>" in de
    assert "Tage mit Ausfällen: 1; der schlechteste, 26. Feb. 2026, hatte 99,86 %" in de
    for english in ("uptime", "Days", "No data", "Colour", "Below"):
        assert english not in de, english
    day = DayUptime("2026-02-26", 1440, 1438, 5)
    assert heatmap_cell_title(date(2026, 2, 26), day, "de") == (
        "26. Feb. 2026: 99,86 % Verfügbarkeit, 2 fehlgeschlagene Prüfungen von 1.440,"
        " 5 beeinträchtigt"
    )
    assert heatmap_cell_title(date(2026, 2, 26), day) == (
        "26 Feb 2026: 99.86 % uptime, 2 failed checks of 1,440, 5 degraded"
    )
    assert format_ms(1234.4, "de") == "1.234 ms" and format_ms(2.5, "de") == "2,5 ms"
    assert format_ms(None, "de") == "Keine Daten" and long_date(date(2026, 5, 1), "de") == (
        "1. Mai 2026"
    )

    start = datetime(2026, 3, 1)
    points = [LatencyPoint(start + timedelta(days=i), 40.0 + i, 90.5 + i) for i in range(20)]
    chart = str(response_time_chart(points, label="API", period="täglich", lang="de"))
    assert "API: Antwortzeit, täglich" in chart
    assert "p95: Minimum 90 ms, Median 100 ms, Maximum 110 ms." in chart
    assert "Tage ohne Daten: 0 von 20." in chart
    assert ">1. März</text>" in chart and ">15. März</text>" in chart
    hourly = [LatencyPoint(start + timedelta(hours=i), None, None) for i in range(24)]
    empty = str(response_time_chart(hourly, label="API", period="x", hourly=True, lang="de"))
    assert "Keine Antwortzeitdaten in diesem Zeitraum." in empty and ">Keine Daten</text>" in empty


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[sms.Site]:
    """The SMS tests' site (a fake Twilio and an aiosmtpd server on loopback) with its page
    "acme" in German."""
    smtp = await asyncio.get_running_loop().create_server(
        lambda: SMTP(private.Mailbox()), "127.0.0.1", 0
    )
    settings = {
        "sms_twilio_account_sid": sms.SID,
        "sms_twilio_auth_token": sms.TOKEN,
        "sms_twilio_from": sms.SENDER,
        "sms_twilio_url": "set by _site",
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.sockets[0].getsockname()[1],
        "smtp_from": "Acme Status <status@acme.test>",
    }
    try:
        async for found in sms._site(tmp_path, **settings):
            put = await found.client.put(
                "/api/v1/pages/acme/appearance", json={"language": "de"}, headers=found.write
            )
            assert put.status_code == 200, put.text
            yield found
    finally:
        smtp.close()
        await smtp.wait_closed()


async def test_a_german_sign_in_page(site: sms.Site) -> None:
    client = site.client
    rules = {"password": "open sesame 42", "email_domains": ["acme.test"]}
    put = await client.put("/api/v1/pages/acme/access", json=rules, headers=site.write)
    assert put.status_code == 200, put.text
    form = await client.get("/s/acme/access")
    assert form.status_code == 200
    wrong = await client.post("/s/acme/access", data={"password": "wrong", "next": "/s/acme"})
    notice = await client.post("/s/acme/access", data={"email": "you@acme.test"})
    bad = await client.post("/s/acme/access", data={"email": "not an address"})
    assert (wrong.status_code, notice.status_code, bad.status_code) == (401, 202, 422)
    for r in (form, wrong, notice, bad):
        assert '<html lang="de"' in r.text, r.text
        assert visible_english(r.text) == [], r.status_code
        for expected in (
            "<title>Anmelden · Acme</title>",
            ">Diese Statusseite ist privat.</p>",
            ">Mit dem Passwort anmelden</h2>",
            '<button type="submit">Link senden</button>',
        ):
            assert expected in r.text, (r.status_code, expected)
        for english in ("Sign in", "Password", "private", "e-mail", "Send me"):
            assert english not in r.text, (r.status_code, english)
    assert 'id="access-error">Falsches Passwort.</p>' in wrong.text
    assert "Wenn you@acme.test diese Seite sehen darf, ist eine Nachricht" in notice.text
    assert "innerhalb von 15 Minuten.</p>" in notice.text
    assert 'id="access-error">Bitte eine gültige E-Mail-Adresse eingeben.</p>' in bad.text
    # A page without an appearance of its own keeps English.
    await site.services.store.create_page(site.org.id, "beta", "Beta", "")
    await client.put("/api/v1/pages/beta/access", json=rules, headers=site.write)
    english = (await client.get("/s/beta/access")).text
    assert '<html lang="en"' in english and ">This status page is private.</p>" in english


def _german(html: str) -> None:
    assert '<html lang="de"' in html
    assert visible_english(html) == []
    for english in ("Subscribe", "Back to", "Enter", "text message", "Invalid", "messages"):
        assert english not in html, english


async def test_a_german_subscribe_form_and_its_refusals(site: sms.Site) -> None:
    form = await site.client.get("/s/acme/subscribe")
    assert form.status_code == 200
    _german(form.text)
    for expected in (
        "<title>Updates abonnieren · Acme</title>",
        "<h1>Updates von Acme abonnieren</h1>",
        "<summary>Per SMS</summary>",
        '<label for="email-address">E-Mail-Adresse</label>',
        '<button type="submit">Per Webhook abonnieren</button>',
        "<legend>Komponenten (keine ausgewählt: alle)</legend>",
        ">Zurück zu Acme</a>",
    ):
        assert expected in form.text, expected

    bad = await site.subscribe(kind="sms", address="12")
    assert bad.status_code == 422
    _german(bad.text)
    assert (
        '<span class="error" id="sms-address-error">Bitte eine Mobilnummer im internationalen'
        " Format eingeben: + und 8 bis 15 Ziffern.</span>"
    ) in bad.text
    unknown = await site.subscribe(kind="fax", address="x")
    assert ">Bitte E-Mail, SMS, Webhook oder Slack wählen.</p>" in unknown.text
    _german(unknown.text)

    hook = await site.subscribe(kind="webhook", address="https://hooks.example.com/x")
    assert hook.status_code == 201, hook.text
    assert "<h1>Abonniert</h1>" in hook.text and "Signaturen mit diesem Geheimnis" in hook.text
    _german(hook.text)


async def test_german_sms_pages(site: sms.Site) -> None:
    r = await site.subscribe(kind="sms", address="+44 7700 900-123")
    assert r.status_code == 202, r.text
    _german(r.text)
    assert "<h1>Code eingeben</h1>" in r.text
    assert "Wir haben einen 6-stelligen Code per SMS an +44********23 gesendet." in r.text
    assert '<label for="sms-code">6-stelliger Code</label>' in r.text
    wrong = await site.enter(r, "12ab")
    assert wrong.status_code == 422
    _german(wrong.text)
    assert ">Bitte die 6 Ziffern des Codes eingeben.</span>" in wrong.text
    [code_sms] = site.twilio.sms
    done = await site.enter(r, sms.code_of(code_sms["Body"]))
    assert done.status_code == 200 and "<h1>Abonnement bestätigt</h1>" in done.text
    _german(done.text)

    unsubscribe = re.search(r"(https?://\S+/unsubscribe/\S+)", code_sms["Body"])
    assert unsubscribe is not None, code_sms["Body"]
    asked = await site.client.get(unsubscribe.group(1))
    assert asked.status_code == 200 and "<h1>Acme abbestellen?</h1>" in asked.text
    assert '<button type="submit">Abbestellen</button>' in asked.text
    _german(asked.text)
    gone = await site.client.post(unsubscribe.group(1))
    assert gone.status_code == 200 and "<h1>Abbestellt</h1>" in gone.text
    _german(gone.text)
    again = await site.client.post(unsubscribe.group(1))
    assert again.status_code == 400 and "<h1>Ungültiger Link</h1>" in again.text
    _german(again.text)
