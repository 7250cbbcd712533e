"""SMS subscribers of a status page: double opt-in by a code sent by SMS (Twilio).

``POST /s/{slug}/subscribe`` with ``kind=sms`` (``subscribe.py`` hands it to ``start``) takes a
phone number in E.164 (``+`` and 8 to 15 digits; spaces, dots, dashes and brackets typed
between them are dropped), stores an unconfirmed subscriber whose hidden channel is a Twilio
channel built from the operator's ``sms_twilio_*`` settings (number and token sealed), and
sends it a 6-digit code at once (not through the outbox: the visitor waits for it, and a
failure is told now). Only an HMAC of the code is stored (under the links' signing key, bound
to the subscriber), with its expiry (``CODE_TTL``) and the attempts made; the answer is the
code form (``POST /s/{slug}/subscribe/sms``: ``token``, ``code``). After ``MAX_ATTEMPTS``
tries no code is accepted any more (the next try removes an unconfirmed subscriber). A
number already subscribed gets a new code and the same answer: the form never tells who is.

The code SMS, like the news, is in the page's language (``engine/subscriber_sms.py`` says why
German needs no transliteration). Every SMS ends with ``Unsubscribe: <page>/unsubscribe/<token>``
(the label in the page's language: ``Abbestellen``; the token is the signed token of
``subscribe.py``, in the path: shorter than ``?token=``). Its ``GET`` only asks (SMS apps open
links to preview them); the button ``POST``s to the same URL, which removes the subscriber.
Under ``/unsubscribe`` it stays open on a private page, as the e-mail link does (access.py).
Without the settings, SMS subscriptions are refused (422).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from statpulse.engine.subscriber_sms import UNSUBSCRIBE, fit
from statpulse.i18n import N_, translate, translate_plural
from statpulse.model import StatusPage, new_id, utcnow
from statpulse.notify import NOTIFIERS, ConfigError, DeliveryError
from statpulse.notify.message import Message
from statpulse.settings import Settings
from statpulse.store.sql_subscribers import Subscriber
from statpulse.web.api.subscribers import redact
from statpulse.web.deps import ServicesDep
from statpulse.web.public.subscribe import (
    INVALID_LINK,
    MAX_FORM,
    _html,
    _new,
    check_token,
    make_token,
    page_language,
    signing_key,
)
from statpulse.web.public.subscribe_form import Refusal, form_response, render, sms_available
from statpulse.web.services import Services

router = APIRouter(tags=["public"], include_in_schema=False)

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_SEPARATORS = re.compile(r"[\s().\-]")
CODE = re.compile(r"^[0-9]{6}$")
CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
BAD_NUMBER = N_("Enter a mobile number in international format: + and 8 to 15 digits.")


def phone_number(raw: str) -> str | None:
    """``raw`` as an E.164 number, or None when it is not one."""
    number = _SEPARATORS.sub("", raw)
    return number if E164.match(number) else None


def sms_config(settings: Settings, number: str) -> dict[str, Any] | None:
    """The Twilio channel config sending to ``number``; None when SMS is not set up."""
    token = settings.sms_twilio_auth_token
    if not sms_available(settings) or token is None:
        return None
    config = {
        "account_sid": settings.sms_twilio_account_sid,
        "auth_token": token.get_secret_value(),
        "from": settings.sms_twilio_from,
        "to": [number],
        "base_url": settings.sms_twilio_url,
    }
    try:
        return NOTIFIERS["twilio"].validate(config)
    except ConfigError:
        return None  # e.g. sms_twilio_url not a URL: as if not set up


def code_hash(key: bytes, sub: Subscriber, code: str) -> str:
    return hmac.new(
        key, f"sms-code|{sub.id}|{sub.nonce}|{code}".encode(), hashlib.sha256
    ).hexdigest()


async def start(
    svc: Services,
    request: Request,
    page: StatusPage,
    values: dict[str, str],
    components: list[uuid.UUID],
) -> HTMLResponse:
    """Stores (or finds) the SMS subscriber of ``values["address"]`` following ``components``
    (checked by the caller) and texts it a code: the code form (202), or the subscribe form
    refused with the reason next to its field."""

    lang = await page_language(svc, page)

    async def refused(field: str, text: str, status: int = 422) -> HTMLResponse:
        chosen = [str(c) for c in components]
        refusal = Refusal("sms", {field: translate(lang, text)}, values, chosen)
        pairs = await svc.store.page_components(page.id)
        return form_response(page, pairs, svc.settings, status, refusal, lang)

    if not sms_available(svc.settings):
        return await refused("kind", N_("Text messages are not available on this server."))
    number = phone_number(values.get("address", ""))
    if number is None:
        return await refused("address", BAD_NUMBER)
    config = sms_config(svc.settings, number)
    if config is None:
        return await refused("kind", N_("Text messages are not available on this server."))
    key = signing_key(svc.settings)
    sub = await svc.store.find_subscriber(page.id, "sms", number)
    created = sub is None
    if sub is None:
        new, _ = _new(request, svc, page, "sms", number, components)
        token = make_token(key, "unsubscribe", new.id, new.nonce)
        short = f"{new.page_url}/unsubscribe/{token}"
        new = replace(new, confirmed_at=None, unsubscribe_url=short)
        notifier = NOTIFIERS["twilio"]
        sub = await svc.store.create_subscriber(
            new, "twilio", config, (*notifier.secret_fields(), "to")
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    await svc.store.set_subscriber_code(sub.id, code_hash(key, sub, code), utcnow() + CODE_TTL)
    minutes = int(CODE_TTL.total_seconds() // 60)
    title, text = fit(
        translate(lang, "%(title)s status updates", title=page.title),
        translate_plural(
            lang,
            "Your code is %(code)s. It is valid for %(n)s minute; "
            "if you did not ask for it, ignore this message.",
            "Your code is %(code)s. It is valid for %(n)s minutes; "
            "if you did not ask for it, ignore this message.",
            minutes,
            code=code,
        ),
        None,
        sub.unsubscribe_url,
        translate(lang, UNSUBSCRIBE),
    )
    message = Message(
        id=str(new_id()),
        event="subscriber.confirm",
        title=title,
        text=text,
        occurred_at=utcnow(),
        severity="none",
    )
    try:
        await NOTIFIERS["twilio"].send(message, config, svc.http)
    except DeliveryError as exc:
        if created:
            await svc.store.delete_subscriber(None, sub.id)
        if exc.permanent and exc.status is not None and 400 <= exc.status < 500:
            return await refused("address", N_("This number cannot receive text messages."))
        failed = N_("The text message could not be sent; try again later.")
        return await refused("kind", failed, 502)
    return _code_form(page, sub, key, 202, lang)


def _code_form(
    page: StatusPage,
    sub: Subscriber,
    key: bytes,
    status: int,
    lang: str,
    error: str | None = None,
) -> HTMLResponse:
    """The form for the code, in ``lang``; ``error`` is a message id."""
    number = redact("sms", sub.address)
    return render(
        "subscribe_sms.html",
        status,
        page=page,
        lang=lang,
        heading=translate(lang, "Enter your code"),
        lines=[
            translate(lang, "We sent a 6-digit code by text message to %(number)s.", number=number),
            translate(lang, "Nothing else is sent until you enter it here."),
        ],
        token=make_token(key, "sms-code", sub.id, sub.nonce),
        error=translate(lang, error) if error else None,
    )


async def _form(request: Request) -> dict[str, str] | None:
    body = await request.body()
    if len(body) > MAX_FORM:
        return None
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


@router.post("/s/{slug}/subscribe/sms", response_class=HTMLResponse)
async def confirm_code(slug: str, request: Request, svc: ServicesDep) -> HTMLResponse:
    """Checks the code: 200 confirmed; 422 a wrong code (the form again, with the attempts
    left); 410 expired; 429 when the attempts are used up; 400 a bad token."""
    values = await _form(request)
    page = await svc.store.get_page(slug)
    lang = await page_language(svc, page)
    if values is None:
        return _html(413, N_("Form too large"), lang=lang)
    sub = await check_token(svc, slug, "sms-code", values.get("token", ""))
    if sub is None or page is None or sub.kind != "sms":
        return _html(400, *INVALID_LINK, lang=lang)
    key = signing_key(svc.settings)
    code = _SEPARATORS.sub("", values.get("code", ""))
    if not CODE.match(code):
        return _code_form(page, sub, key, 422, lang, N_("Enter the 6 digits of the code."))
    found = await svc.store.spend_subscriber_code(sub.id, MAX_ATTEMPTS)
    if found is None:
        if sub.confirmed_at is None:
            await svc.store.delete_subscriber(None, sub.id)
        again = N_("Subscribe again to get a new code.")
        return _html(429, N_("Too many attempts"), again, page=page, lang=lang)
    stored, expires_at = found
    if expires_at <= utcnow():
        again = N_("Subscribe again to get a new code.")
        return _html(410, N_("Code expired"), again, page=page, lang=lang)
    if not hmac.compare_digest(code_hash(key, sub, code), stored):
        wrong = N_("This code is not right; check the message.")
        return _code_form(page, sub, key, 422, lang, wrong)
    await svc.store.confirm_subscriber(sub.id, utcnow())
    await svc.store.clear_subscriber_code(sub.id)
    return _html(
        200,
        N_("Subscription confirmed"),
        N_("You will get incident and maintenance updates by text message."),
        N_("Every message ends with a link to unsubscribe."),
        page=page,
        lang=lang,
    )


@router.get("/s/{slug}/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_form(slug: str, token: str, svc: ServicesDep) -> HTMLResponse:
    """Asks before unsubscribing: link previews must not unsubscribe anyone."""
    sub = await check_token(svc, slug, "unsubscribe", token)
    page = await svc.store.get_page(slug)
    lang = await page_language(svc, page)
    if sub is None or page is None:
        return _html(400, *INVALID_LINK, lang=lang)
    return render(
        "subscribe_sms.html",
        200,
        page=page,
        lang=lang,
        heading=translate(lang, "Unsubscribe from %(title)s?", title=page.title),
        lines=[translate(lang, "You will get no more messages about this page.")],
        token=None,
        unsubscribe=f"/s/{page.slug}/unsubscribe/{token}",
    )


@router.post("/s/{slug}/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe(slug: str, token: str, svc: ServicesDep) -> HTMLResponse:
    sub = await check_token(svc, slug, "unsubscribe", token)
    page = await svc.store.get_page(slug)
    lang = await page_language(svc, page)
    if sub is None:
        return _html(400, *INVALID_LINK, lang=lang)
    await svc.store.delete_subscriber(sub.org_id, sub.id)
    return _html(
        200, N_("Unsubscribed"), N_("You will get no more messages."), page=page, lang=lang
    )
