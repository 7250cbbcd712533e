"""Signing in to a private status page (web/public/access.py decides who may see it):

- ``GET /s/{slug}/access?next=PATH``: the sign-in form (password and/or e-mail, as the page
  offers); a visitor who already has access goes straight to ``next``;
- ``POST /s/{slug}/access`` (url-encoded ``password`` or ``email``, and ``next``): a right
  password sets the access cookie and answers 303 to ``next``; an e-mail address gets a one-time
  link valid ``LINK_TTL_S`` when its domain is one of the page's ``email_domains`` (exact
  domain, case-insensitive). The answer is the same neutral text whether or not a link was sent,
  and the mail goes out in the background, so neither the text nor the time says which
  addresses may sign in;
- ``GET /s/{slug}/access/link?token=``: spends the link (once, whichever worker serves it),
  sets the cookie and answers 303 to the page.

CSRF: the forms carry no token. The cookie is ``SameSite=Lax`` (a cross-site POST does not
carry it) and a POST whose ``Origin`` is not this request's own host (or is ``null``, or whose
``Sec-Fetch-Site`` says cross-site when no Origin is sent) is refused with 403. What a forged
sign-in could do is small anyway: grant the victim's browser access to a page.

Password attempts are limited per client and page (``PASSWORD_LIMIT`` per ``PASSWORD_WINDOW_S``,
every attempt counts), e-mail requests like subscriptions (per client and per address).
The link's address is built from the request's host only when that host is one of this
server's names (``host``, ``public_host``, ``public_hosts``, loopback) or a verified custom
domain, so a forged ``Host`` header cannot make the mail point elsewhere (the link is a
credential).

The form and its messages are in the language of the page's appearance (``i18n.py``); the
sign-in mail stays English, as the other mails do.
"""

from __future__ import annotations

import asyncio
import hmac
import time
import uuid
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import argon2
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from statpulse.custom_domains import host_of
from statpulse.i18n import DEFAULT_LANGUAGE, N_, translate
from statpulse.model import StatusPage, utcnow
from statpulse.notify import NOTIFIERS, ConfigError, DeliveryError
from statpulse.notify.message import Message
from statpulse.store.sql_access import PageAccess
from statpulse.web.deps import ServicesDep, services
from statpulse.web.domains import CUSTOM_DOMAIN, main_hosts
from statpulse.web.public.access import (
    Rules,
    cookie_header,
    has_access,
    keys,
    mac,
    make_cookie,
    page_root,
)
from statpulse.web.public.i18n import jinja_globals
from statpulse.web.public.routes import CSP
from statpulse.web.public.subscribe import (
    ADDRESS_LIMIT,
    ADDRESS_WINDOW_S,
    CLIENT_LIMIT,
    CLIENT_WINDOW_S,
    EMAIL,
    MAX_FORM,
    RateLimit,
    _email_config,
)
from statpulse.web.services import Services

log = structlog.get_logger(__name__)
router = APIRouter(tags=["public"], include_in_schema=False)

LINK_TTL_S = 15 * 60
PASSWORD_LIMIT, PASSWORD_WINDOW_S = 10, 300.0
MAX_PASSWORD = 1024
# argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): ~70 ms per check on a loaded
# 2-core box against ~740 ms for the library's default (t=3, m=64 MiB, p=4); the password is a
# page's shared secret behind a rate limit, and every check is CPU anyone can ask for.
_hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

_templates = Environment(
    loader=PackageLoader("statpulse", "web/templates"), autoescape=select_autoescape(default=True)
)
_templates.globals.update(jinja_globals())


async def hash_password(password: str) -> str:
    """An argon2id hash (in a thread: hashing takes tens of milliseconds of CPU)."""
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            log.error("unreadable password hash of a private page")
            return False

    return await asyncio.to_thread(verify)


def link_token(key: bytes, link_id: uuid.UUID, access: PageAccess) -> str:
    payload = f"{link_id.hex}.{access.session_version}"
    return f"{payload}.{mac(key, f'link|{access.page_id.hex}|{payload}')}"


def link_id_of(key: bytes, token: str, access: PageAccess) -> uuid.UUID | None:
    """The link a token of ``access``'s current version names, when its MAC is right."""
    raw_id, _, version = token.rpartition(".")[0].partition(".")
    if version != str(access.session_version):
        return None
    try:
        link_id = uuid.UUID(hex=raw_id)
    except ValueError:
        return None
    expected = link_token(key, link_id, access)
    return link_id if hmac.compare_digest(expected.encode(), token.encode()) else None


def safe_next(request: Request, slug: str, value: str) -> str:
    """``value`` when it is a path of this page on this host (never another site or page,
    never the sign-in form itself); else the page."""
    root = page_root(request.scope, slug)
    default = root or "/"
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(c) < 0x21 for c in value):
        return default
    path = urlsplit(value).path
    if root and path != root and not path.startswith(root + "/"):
        return default
    if path.removeprefix(root).startswith("/access"):
        return default
    return value


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    host = request.headers.get("host", "").lower()
    return origin != "null" and urlsplit(origin).netloc.lower() == host


def _limits(request: Request) -> RateLimit:
    found: RateLimit | None = getattr(request.app.state, "access_limits", None)
    if found is None:
        found = request.app.state.access_limits = RateLimit()
    return found


async def _html(
    request: Request,
    status: int,
    page: StatusPage | None,
    *,
    access: PageAccess | None = None,
    next_path: str = "",
    error: str = "",
    notice: str = "",
    **params: object,
) -> HTMLResponse:
    """The sign-in page in the language of ``page``'s appearance (English without a page);
    ``error`` and ``notice`` are message ids, ``notice`` formatted with ``params``."""
    slug = page.slug if page else ""
    lang = DEFAULT_LANGUAGE
    if page is not None:
        lang = (await services(request).store.get_page_appearance(page.id)).language
    error = translate(lang, error) if error else ""
    notice = translate(lang, notice, **params) if notice else ""
    html = _templates.get_template("access.html").render(
        lang=lang,
        page=page,
        root=page_root(request.scope, slug) if page else "",
        has_password=bool(access and access.password_hash),
        has_email=bool(access and access.email_domains),
        next_path=next_path,
        error=error,
        notice=notice,
    )
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
    return HTMLResponse(html, status_code=status, headers=headers)


async def _page(svc: Services, slug: str) -> tuple[StatusPage | None, PageAccess | None]:
    page = await svc.store.get_page(slug)
    if page is None:
        return None, None
    access = await svc.store.get_page_access(page.id)
    return page, access if access is not None and access.private else None


def _granted(request: Request, slug: str, access: PageAccess, method: str, to: str) -> Response:
    value = make_cookie(keys(request.app).get(), access, method, time.time())
    headers = {
        "Location": to,
        "Set-Cookie": cookie_header(request.scope, slug, value),
        "Cache-Control": "no-store",
    }
    return Response(status_code=303, headers=headers)


@router.get("/s/{slug}/access", response_class=HTMLResponse)
async def sign_in_form(slug: str, request: Request, svc: ServicesDep, next: str = "") -> Response:
    page, access = await _page(svc, slug)
    if page is None:
        return await _html(request, 404, None, error=N_("Status page not found."))
    to = safe_next(request, slug, next)
    if access is None or has_access(request.scope, Rules.of(access), time.time()):
        return Response(status_code=303, headers={"Location": to, "Cache-Control": "no-store"})
    return await _html(request, 200, page, access=access, next_path=to)


@router.post("/s/{slug}/access", response_class=HTMLResponse)
async def sign_in(slug: str, request: Request, svc: ServicesDep) -> Response:
    page, access = await _page(svc, slug)
    if page is None:
        return await _html(request, 404, None, error=N_("Status page not found."))
    if not _same_origin(request):
        return await _html(request, 403, page, error=N_("This form was sent from another site."))
    body = await request.body()
    if len(body) > MAX_FORM:
        return await _html(request, 413, page, error=N_("Form too large."))
    form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    to = safe_next(request, slug, form.get("next", ""))
    if access is None:
        return Response(status_code=303, headers={"Location": to, "Cache-Control": "no-store"})
    client = request.client.host if request.client else "?"
    if "password" in form:
        return await _password(request, page, access, form["password"], client, to)
    if "email" in form:
        return await _email(request, svc, page, access, form["email"].strip().lower(), client)
    return await _html(
        request, 422, page, access=access, next_path=to, error=N_("Enter a password.")
    )


async def _password(
    request: Request, page: StatusPage, access: PageAccess, password: str, client: str, to: str
) -> Response:
    limits, now = _limits(request), time.monotonic()
    key = ("access-password", str(page.id), client)
    if not limits.allow(key, PASSWORD_LIMIT, PASSWORD_WINDOW_S, now):
        error = N_("Too many attempts. Please try again later.")
        return await _html(request, 429, page, access=access, next_path=to, error=error)
    ok = (
        access.password_hash is not None
        and len(password) <= MAX_PASSWORD
        and await verify_password(access.password_hash, password)
    )
    if not ok:
        error = N_("Wrong password.")
        return await _html(request, 401, page, access=access, next_path=to, error=error)
    log.info("private page signed in", page=page.slug, method="password")
    return _granted(request, page.slug, access, "password", to)


async def _email(
    request: Request,
    svc: Services,
    page: StatusPage,
    access: PageAccess,
    address: str,
    client: str,
) -> Response:
    if not EMAIL.match(address):
        error = N_("Enter a valid e-mail address.")
        return await _html(request, 422, page, access=access, error=error)
    limits, now = _limits(request), time.monotonic()
    if not limits.allow(
        ("access-email-client", str(page.id), client), CLIENT_LIMIT, CLIENT_WINDOW_S, now
    ) or not limits.allow(
        ("access-email-address", str(page.id), address), ADDRESS_LIMIT, ADDRESS_WINDOW_S, now
    ):
        error = N_("Too many requests. Please try again later.")
        return await _html(request, 429, page, access=access, error=error)
    notice = N_(
        "If %(address)s may see this page, a message with a sign-in link is on its way. "
        "The link works once, within %(minutes)s minutes."
    )
    base = _link_base(request, svc)
    if address.rpartition("@")[2] in access.email_domains and base is not None:
        expires = utcnow() + timedelta(seconds=LINK_TTL_S)
        link_id = await svc.store.create_access_link(page.id, expires)
        token = link_token(keys(request.app).get(), link_id, access)
        url = f"{base}{page_root(request.scope, page.slug)}/access/link?token={token}"
        _background(request, _send_link(svc, page, address, url, link_id))
    minutes = LINK_TTL_S // 60
    return await _html(
        request, 202, page, access=access, notice=notice, address=address, minutes=minutes
    )


def _link_base(request: Request, svc: Services) -> str | None:
    """``scheme://host`` of this request when the host is one of this server's names."""
    host = host_of(request.headers.get("host", ""))
    if request.scope.get(CUSTOM_DOMAIN) or host in main_hosts(svc.settings):
        return str(request.base_url).rstrip("/")
    log.warning(
        "sign-in link not sent: the request's Host is not one of this server's names "
        "(set public_host or public_hosts)",
        host=host,
    )
    return None


def _background(request: Request, job: Coroutine[Any, Any, None]) -> None:
    """Run ``job`` (a coroutine) after answering; a reference is kept until it ends."""
    tasks: set[asyncio.Task[None]] | None = getattr(request.app.state, "access_mail", None)
    if tasks is None:
        tasks = request.app.state.access_mail = set()
    task = asyncio.ensure_future(job)
    tasks.add(task)
    task.add_done_callback(tasks.discard)


async def _send_link(
    svc: Services, page: StatusPage, address: str, url: str, link_id: uuid.UUID
) -> None:
    config = _email_config(svc.settings, address)
    if config is None:
        log.warning("sign-in link not sent: no SMTP settings (smtp_host, smtp_from)")
        return
    message = Message(
        id=f"page-access:{link_id}",
        event="page.access",
        title=f"Sign in to {page.title}",
        text=f"Follow this link to see the {page.title} status page. It works once, within "
        f"{LINK_TTL_S // 60} minutes.\n\nIf you did not ask for it, ignore this message.",
        occurred_at=utcnow(),
        severity="none",
        url=url,
    )
    notifier = NOTIFIERS["email"]
    try:
        await notifier.send(message, notifier.validate(config), svc.http)
    except (ConfigError, DeliveryError) as exc:
        log.warning("sign-in link not sent", page=page.slug, error=str(exc))


@router.get("/s/{slug}/access/link", response_class=HTMLResponse)
async def follow_link(slug: str, request: Request, svc: ServicesDep, token: str = "") -> Response:
    page, access = await _page(svc, slug)
    if page is None:
        return await _html(request, 404, None, error=N_("Status page not found."))
    if access is None:
        root = page_root(request.scope, slug) or "/"
        return Response(status_code=303, headers={"Location": root, "Cache-Control": "no-store"})
    key = keys(request.app).get()
    link_id = link_id_of(key, token, access) if access.email_domains else None
    if link_id is None or not await svc.store.use_access_link(link_id, page.id, utcnow()):
        error = N_("This link is not valid, has expired or was already used. Ask for a new one.")
        return await _html(request, 400, page, access=access, error=error)
    log.info("private page signed in", page=page.slug, method="email")
    return _granted(request, slug, access, "email", page_root(request.scope, slug) or "/")
