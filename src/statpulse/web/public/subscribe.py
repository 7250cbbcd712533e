"""Public subscriptions to a status page: ``GET /s/{slug}/subscribe`` (the form,
``subscribe_form.py``), ``POST /s/{slug}/subscribe`` (an url-encoded form: ``kind``
email|webhook|slack|sms, ``address`` (an e-mail address, the webhook/Slack URL or a phone
number: SMS is ``subscribe_sms.py``),
optional ``components`` (repeated, component ids of the page; none: all), optional ``secret``
(a webhook's ``whsec_`` secret; one is generated and shown once otherwise)),
``GET /s/{slug}/subscribe/confirm?token=`` and ``GET /s/{slug}/unsubscribe?token=``.

E-mail is double opt-in: the confirmation mail goes through the outbox (the operator's SMTP
settings, ``smtp_*``) and nothing else is sent until its link is followed. Webhook and Slack
subscribers are confirmed at once (whoever holds the URL entered it; every request still goes
through the egress guard) and get a welcome delivery carrying the unsubscribe link.

Tokens are ``<subscriber id hex>.<HMAC-SHA256>`` over the purpose, the id and the row's nonce,
under ``signing_key`` (default: derived from the current master key); compared in constant
time. The answer to a subscription never says whether the address was subscribed already, and
each page limits, in process, how often one address and one client may subscribe.

What a subscriber is sent (the confirmation mail, the welcome delivery, and the news of
``engine/subscriber_news.py``) speaks the page's language.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections import deque
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from statpulse.engine.subscriber_news import with_unsubscribe
from statpulse.i18n import DEFAULT_LANGUAGE, N_, translate
from statpulse.model import StatusPage, new_id, utcnow
from statpulse.notify import NOTIFIERS, ConfigError
from statpulse.notify.dispatcher import message_doc
from statpulse.notify.message import Message
from statpulse.security.secrets import load_or_create_keyring
from statpulse.settings import Settings
from statpulse.store.sql_subscribers import SUBSCRIBER_EVENT, Subscriber
from statpulse.web.deps import ServicesDep
from statpulse.web.public.i18n import jinja_globals
from statpulse.web.public.routes import CSP
from statpulse.web.public.subscribe_form import Refusal, form_response
from statpulse.web.services import Services

router = APIRouter(tags=["public"], include_in_schema=False)

KINDS = ("email", "webhook", "slack", "sms")
MAX_FORM = 8 * 1024
EMAIL = re.compile(r"^[^@\s<>,;\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")
# Per page: subscriptions of one address per hour, and of one client per 10 minutes.
ADDRESS_LIMIT, ADDRESS_WINDOW_S = 3, 3600.0
CLIENT_LIMIT, CLIENT_WINDOW_S = 10, 600.0
INVALID_LINK = (N_("Invalid link"), N_("This link is not valid, or was already used."))
"""Heading and line of the answer to a token that is not (or no longer) valid."""

_templates = Environment(
    loader=PackageLoader("statpulse", "web/templates"), autoescape=select_autoescape(default=True)
)
_templates.globals.update(jinja_globals())


class RateLimit:
    """Sliding-window counters in process (a second process has its own: enough to stop a
    form being used to mail-bomb someone, not a quota)."""

    def __init__(self) -> None:
        self._hits: dict[tuple[str, ...], deque[float]] = {}

    def allow(self, key: tuple[str, ...], limit: int, window_s: float, now: float) -> bool:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window_s:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        if len(self._hits) > 100_000:  # bound memory: forget idle keys
            self._hits = {k: v for k, v in self._hits.items() if v}
        return True


def signing_key(settings: Settings) -> bytes:
    if settings.signing_key is not None:
        return hashlib.sha256(settings.signing_key.get_secret_value().encode()).digest()
    master = load_or_create_keyring(settings).current.key
    return hmac.new(master, b"statpulse/subscriber-links/v1", hashlib.sha256).digest()


def make_token(key: bytes, purpose: str, subscriber_id: uuid.UUID, nonce: str) -> str:
    mac = hmac.new(key, f"{purpose}|{subscriber_id}|{nonce}".encode(), hashlib.sha256).digest()
    return f"{subscriber_id.hex}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"


async def check_token(svc: Services, slug: str, purpose: str, token: str) -> Subscriber | None:
    """The subscriber a valid ``purpose`` token of page ``slug`` names; None otherwise."""
    raw_id, _, _ = token.partition(".")
    try:
        subscriber_id = uuid.UUID(hex=raw_id)
    except ValueError:
        return None
    sub = await svc.store.get_subscriber(subscriber_id)
    page = await svc.store.get_page(slug)
    if sub is None or page is None or sub.page_id != page.id:
        return None
    expected = make_token(signing_key(svc.settings), purpose, sub.id, sub.nonce)
    return sub if hmac.compare_digest(expected.encode(), token.encode()) else None


async def page_language(svc: Services, page: StatusPage | None) -> str:
    """The language of ``page``'s appearance (English without a page)."""
    if page is None:
        return DEFAULT_LANGUAGE
    return (await svc.store.get_page_appearance(page.id)).language


def _html(
    status: int,
    heading: str,
    *lines: str,
    page: StatusPage | None = None,
    lang: str = DEFAULT_LANGUAGE,
    **params: object,
) -> HTMLResponse:
    """``subscribe.html`` in ``lang``: ``heading`` and ``lines`` are message ids, the lines
    formatted with ``params``."""
    texts = [translate(lang, line, **params) for line in lines]
    html = _templates.get_template("subscribe.html").render(
        heading=translate(lang, heading), lines=texts, page=page, lang=lang
    )
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=status, headers=headers)


def _limits(request: Request) -> RateLimit:
    found: RateLimit | None = getattr(request.app.state, "subscribe_limits", None)
    if found is None:
        found = request.app.state.subscribe_limits = RateLimit()
    return found


def _email_config(settings: Settings, address: str) -> dict[str, object] | None:
    if not (settings.smtp_host and settings.smtp_from):
        return None
    config: dict[str, object] = {
        "host": settings.smtp_host,
        "from": settings.smtp_from,
        "to": [address],
        "starttls": settings.smtp_starttls,
    }
    if settings.smtp_port is not None:
        config["port"] = settings.smtp_port
    if settings.smtp_username:
        config["username"] = settings.smtp_username
        password = settings.smtp_password
        config["password"] = password.get_secret_value() if password else ""
    return config


async def _refused(
    svc: Services,
    page: StatusPage,
    kind: str,
    field: str,
    text: str,
    values: dict[str, str],
    components: list[str],
) -> HTMLResponse:
    """The subscribe form again (422), with ``text`` (a message id) next to ``field`` of
    ``kind``'s form, in the page's language."""
    lang = await page_language(svc, page)
    refusal = Refusal(kind, {field: translate(lang, text)}, values, components)
    pairs = await svc.store.page_components(page.id)
    return form_response(page, pairs, svc.settings, 422, refusal, lang)


@router.get("/s/{slug}/subscribe", response_class=HTMLResponse)
async def subscribe_form(slug: str, svc: ServicesDep) -> HTMLResponse:
    page = await svc.store.get_page(slug)
    if page is None:
        return _html(404, N_("Status page not found"))
    pairs = await svc.store.page_components(page.id)
    return form_response(page, pairs, svc.settings, lang=await page_language(svc, page))


@router.post("/s/{slug}/subscribe", response_class=HTMLResponse)
async def subscribe(slug: str, request: Request, svc: ServicesDep) -> HTMLResponse:
    page = await svc.store.get_page(slug)
    if page is None:
        return _html(404, N_("Status page not found"))
    body = await request.body()
    if len(body) > MAX_FORM:
        return _html(413, N_("Form too large"), page=page, lang=await page_language(svc, page))
    form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    values = dict(form)
    kind, address = values.get("kind", "email"), values.get("address", "").strip()
    chosen = [value for name, value in form if name == "components"]
    if kind not in KINDS:
        text = N_("Choose e-mail, SMS, webhook or Slack.")
        return await _refused(svc, page, kind, "kind", text, values, chosen)
    on_page = {c.id for c, _ in await svc.store.page_components(page.id)}
    components: list[uuid.UUID] = []
    for _, value in (item for item in form if item[0] == "components"):
        try:
            component = uuid.UUID(value)
        except ValueError:
            component = None
        if component is None or component not in on_page:
            text = N_("Unknown component.")
            return await _refused(svc, page, kind, "components", text, values, chosen)
        components.append(component)
    now = time.monotonic()
    client = request.client.host if request.client else "?"
    limits = _limits(request)
    if not limits.allow(
        ("client", str(page.id), client), CLIENT_LIMIT, CLIENT_WINDOW_S, now
    ) or not limits.allow(
        ("address", str(page.id), _limit_key(kind, address)), ADDRESS_LIMIT, ADDRESS_WINDOW_S, now
    ):
        lang = await page_language(svc, page)
        return _html(
            429, N_("Too many requests"), N_("Please try again later."), page=page, lang=lang
        )
    if kind == "email":
        return await _subscribe_email(svc, request, page, address.lower(), components)
    if kind == "sms":
        # Imported here: subscribe_sms builds on this module's tokens and pages.
        from statpulse.web.public import subscribe_sms

        return await subscribe_sms.start(svc, request, page, values, components)
    return await _subscribe_hook(svc, request, page, kind, address, values, components)


def _limit_key(kind: str, address: str) -> str:
    """The address as the rate limit counts it: a phone number by its digits alone, so
    spacing it differently is no way around the limit."""
    return re.sub(r"[^+0-9]", "", address) if kind == "sms" else address.lower()


def _new(
    request: Request,
    svc: Services,
    page: StatusPage,
    kind: str,
    address: str,
    comps: list[uuid.UUID],
) -> tuple[Subscriber, str]:
    """A subscriber not yet stored, and its confirm link."""
    sub_id, nonce = new_id(), secrets.token_hex(16)
    key = signing_key(svc.settings)
    base = f"{str(request.base_url).rstrip('/')}/s/{page.slug}"
    sub = Subscriber(
        id=sub_id,
        org_id=page.org_id,
        page_id=page.id,
        channel_id=sub_id,  # replaced by the store
        kind=kind,
        address=address,
        components=tuple(comps),
        nonce=nonce,
        page_url=base,
        unsubscribe_url=f"{base}/unsubscribe?token={make_token(key, 'unsubscribe', sub_id, nonce)}",
        confirmed_at=None if kind == "email" else utcnow(),
        created_at=utcnow(),
    )
    return sub, f"{base}/subscribe/confirm?token={make_token(key, 'confirm', sub_id, nonce)}"


async def _subscribe_email(
    svc: Services, request: Request, page: StatusPage, address: str, comps: list[uuid.UUID]
) -> HTMLResponse:
    lang = await page_language(svc, page)
    done = _html(
        202,
        N_("Check your inbox"),
        N_("If %(address)s can receive mail, a message with a confirmation link is on its way."),
        N_("Nothing else is sent until you follow that link."),
        page=page,
        lang=lang,
        address=address,
    )
    config = _email_config(svc.settings, address) if EMAIL.match(address) else None
    if config is None:
        values, chosen = {"address": address}, [str(c) for c in comps]
        if _email_config(svc.settings, "x@example.com") is None:
            text = N_("E-mail is not available on this server.")
            return await _refused(svc, page, "email", "kind", text, values, chosen)
        text = N_("Enter a valid e-mail address.")
        return await _refused(svc, page, "email", "address", text, values, chosen)
    if await svc.store.find_subscriber(page.id, "email", address) is not None:
        return done  # the same answer: never reveal who is subscribed
    notifier = NOTIFIERS["email"]
    sub, confirm = _new(request, svc, page, "email", address, comps)
    # The address is sealed too, so the operators' channel list (where this hidden channel
    # appears as "subscriber:<id>") shows it no more than the redacted subscriber list does.
    sub = await svc.store.create_subscriber(
        sub, "email", notifier.validate(config), (*notifier.secret_fields(), "to")
    )
    follow = translate(
        lang, "Follow this link to get %(title)s status updates by e-mail:", title=page.title
    )
    ignore = translate(
        lang, "If you did not ask for this, ignore this message: nothing more will be sent."
    )
    message = Message(
        id="",
        event="subscriber.confirm",
        title=translate(lang, "Confirm your subscription to %(title)s", title=page.title),
        text=f"{follow}\n{confirm}\n\n{ignore}",
        occurred_at=utcnow(),
        severity="none",
        url=confirm,
        lang=lang,
    )
    key = f"sub:{sub.id}:confirm"
    await svc.store.enqueue(
        page.org_id, SUBSCRIBER_EVENT, key, message_doc(message), utcnow(), [sub.channel_id]
    )
    return done


async def _subscribe_hook(
    svc: Services,
    request: Request,
    page: StatusPage,
    kind: str,
    url: str,
    values: dict[str, str],
    comps: list[uuid.UUID],
) -> HTMLResponse:
    generated = None
    config: dict[str, object] = {"url": url}
    if kind == "webhook":
        secret = values.get("secret", "").strip()
        if not secret:
            secret = generated = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        config["secret"] = secret
    notifier = NOTIFIERS[kind]
    try:
        valid = notifier.validate(config)
    except ConfigError as exc:
        field = "address" if exc.field == "config.url" else "secret"
        text = f"{exc.message[:1].upper()}{exc.message[1:]}."
        chosen = [str(c) for c in comps]
        return await _refused(svc, page, kind, field, text, values, chosen)
    origin = urlsplit(url)
    address = f"{origin.scheme}://{origin.hostname}" if kind == "webhook" else "slack"
    sub, _ = _new(request, svc, page, kind, address, comps)
    sub = await svc.store.create_subscriber(sub, kind, valid, notifier.secret_fields())
    lang = await page_language(svc, page)
    welcome = translate(
        lang, "You will get %(title)s incident and maintenance updates here.", title=page.title
    )
    message = Message(
        id="",
        event="subscriber.created",
        title=translate(lang, "Subscribed to %(title)s", title=page.title),
        text=with_unsubscribe(welcome, sub, lang),
        occurred_at=utcnow(),
        severity="none",
        url=sub.page_url,
        lang=lang,
    )
    await svc.store.enqueue(
        page.org_id,
        SUBSCRIBER_EVENT,
        f"sub:{sub.id}:welcome",
        message_doc(message),
        utcnow(),
        [sub.channel_id],
    )
    lines = [N_("Updates will be delivered to your endpoint; a welcome message is on its way.")]
    if generated:
        lines.append(N_("Verify the signatures with this secret (shown once): %(secret)s"))
    return _html(201, N_("Subscribed"), *lines, page=page, lang=lang, secret=generated)


@router.get("/s/{slug}/subscribe/confirm", response_class=HTMLResponse)
async def confirm(slug: str, svc: ServicesDep, token: str = "") -> HTMLResponse:
    sub = await check_token(svc, slug, "confirm", token)
    page = await svc.store.get_page(slug)
    lang = await page_language(svc, page)
    if sub is None:
        return _html(400, *INVALID_LINK, lang=lang)
    await svc.store.confirm_subscriber(sub.id, utcnow())
    return _html(
        200,
        N_("Subscription confirmed"),
        N_("You will get incident and maintenance updates."),
        N_("Every message has a link to unsubscribe."),
        page=page,
        lang=lang,
    )


@router.get("/s/{slug}/unsubscribe", response_class=HTMLResponse)
async def unsubscribe(slug: str, svc: ServicesDep, token: str = "") -> HTMLResponse:
    sub = await check_token(svc, slug, "unsubscribe", token)
    page = await svc.store.get_page(slug)
    lang = await page_language(svc, page)
    if sub is None:
        return _html(400, *INVALID_LINK, lang=lang)
    await svc.store.delete_subscriber(sub.org_id, sub.id)
    return _html(
        200, N_("Unsubscribed"), N_("You will get no more messages."), page=page, lang=lang
    )
