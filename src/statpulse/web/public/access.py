"""Private status pages: who may see a page, and the one gate every public URL goes through.

A page is private when its ``page_access`` row (store/sql_access.py) sets any rule. A visitor
then sees it when their client address is in the page's IP allowlist, or when they carry a
valid access cookie of the page (issued by the sign-in form, web/public/access_signin.py, after
a password or a one-time e-mail link).

``PrivatePages`` is a pure ASGI middleware in front of the whole app (inside ``HostRouting``,
so a custom domain's rewritten paths are seen as ``/s/{slug}...``, and outside ``CachedPages``,
so the render cache is never reached without access). It guards every path that names a page:
``/s/{slug}`` and everything under it (HTML, incidents, events, api/v2, feeds, badges,
subscribe, and whatever route is added later) and ``/api/v1/status/{slug}``; only the sign-in
routes ``/s/{slug}/access...`` and the one-click ``/s/{slug}/unsubscribe`` (its token proves a
subscriber; refusing it would keep mailing someone who wants to stop) stay open. Without
access a browser's GET (``Accept`` naming text/html) gets 303 to the sign-in form, anything
else 401 with a JSON error. Granted responses of a private page are rewritten to
``Cache-Control: private, no-store`` (no shared cache keeps them) and lose
``Access-Control-Allow-Origin`` (no other site's script reads them through a visitor's browser
that has access, by address or cookie).

The client address is the ASGI client. ``statpulse serve`` runs uvicorn, which replaces it
with the ``X-Forwarded-For`` address only when the connection comes from one of uvicorn's
``forwarded_allow_ips`` (environment ``FORWARDED_ALLOW_IPS``, default 127.0.0.1 and ::1: the
reverse proxy of deploy/ on the same machine); this module never reads forwarding headers.

Rules are looked up through ``AccessDirectory``: slug -> rules, cached in process for
``CACHE_TTL_S`` (API writes invalidate this process's cache at once; other worker processes
see a change within the TTL).

Cookie ``statpulse_access`` = ``<page id hex>.<session version>.<expiry unix s>.<method>.<mac>``,
the MAC an HMAC-SHA256 under a key derived from ``signing_key``. It is refused once the page's
``session_version`` moved on (any change of the rules signs everybody out), after the expiry,
for another page, or when its method (``password``, ``email``) is no longer offered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from statpulse.settings import Settings
from statpulse.store.contract import Store
from statpulse.store.sql_access import PageAccess
from statpulse.web.domains import CUSTOM_DOMAIN
from statpulse.web.errors import error_body
from statpulse.web.public.subscribe import signing_key
from statpulse.web.ttl_lookup import TtlLookup

COOKIE = "statpulse_access"
COOKIE_TTL_S = 7 * 24 * 3600
METHODS = ("password", "email")
CACHE_TTL_S = 5.0
CACHE_MAX = 10_000
PRIVATE_CACHE_CONTROL = b"private, no-store"
_OPEN = ("access", "unsubscribe")  # first path segments under /s/{slug} that stay open
_STATUS_API = "/api/v1/status/"
# Dropped from a private page's answers: shared caching, and CORS (an allowlisted visitor's
# browser must not let another site's script read the page with the visitor's address).
_SHARED = frozenset({b"cache-control", b"access-control-allow-origin"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Rules:
    """A page's rules as the gate uses them (allowlist parsed once per cache fill)."""

    access: PageAccess
    networks: tuple[Network, ...]

    @classmethod
    def of(cls, access: PageAccess) -> Rules:
        return cls(access, tuple(ipaddress.ip_network(c) for c in access.ip_allowlist))


def client_allowed(networks: Iterable[Network], client: str | None) -> bool:
    """Whether address ``client`` (an IPv4-mapped IPv6 address counts as its IPv4 address) is
    in one of ``networks``; False for no or an unparsable address."""
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def access_key(settings: Settings) -> bytes:
    """The key of access cookies and sign-in links: derived from ``signing_key``, separate
    from the key of subscriber links."""
    return hmac.new(signing_key(settings), b"statpulse/page-access/v1", hashlib.sha256).digest()


def mac(key: bytes, text: str) -> str:
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_cookie(key: bytes, access: PageAccess, method: str, now: float) -> str:
    """A cookie value granting ``access.page_id`` at its current version until now + TTL."""
    payload = f"{access.page_id.hex}.{access.session_version}.{int(now) + COOKIE_TTL_S}.{method}"
    return f"{payload}.{mac(key, payload)}"


def cookie_valid(key: bytes, value: str, access: PageAccess, now: float) -> bool:
    parts = value.split(".")
    if len(parts) != 5:
        return False
    page, version, expires, method, signature = parts
    payload = ".".join(parts[:4])
    if not hmac.compare_digest(mac(key, payload).encode(), signature.encode()):
        return False
    offered = {"password": access.password_hash is not None, "email": bool(access.email_domains)}
    return (
        page == access.page_id.hex
        and version == str(access.session_version)
        and expires.isascii()
        and expires.isdigit()
        and int(expires) > now
        and offered.get(method, False)
    )


def cookies_named(scope: Scope, name: str) -> list[str]:
    """Every value of cookie ``name`` in the request (several paths may each set one)."""
    found = []
    for header, raw in scope["headers"]:
        if header != b"cookie":
            continue
        for item in raw.decode("latin-1").split(";"):
            key, _, value = item.strip().partition("=")
            if key == name:
                found.append(value.strip().strip('"'))
    return found


def page_root(scope: Scope, slug: str) -> str:
    """The page's address on this request's host: ``/s/{slug}``, or the empty root on one of
    its custom domains (web/domains.py rewrites ``/x`` there to ``/s/{slug}/x``)."""
    return "" if scope.get(CUSTOM_DOMAIN) else f"/s/{slug}"


def cookie_header(scope: Scope, slug: str, value: str, max_age: int = COOKIE_TTL_S) -> str:
    """``Set-Cookie`` of an access cookie scoped to the page (``Secure`` over https)."""
    path = page_root(scope, slug) or "/"
    secure = "; Secure" if scope.get("scheme") == "https" else ""
    return f"{COOKIE}={value}; Max-Age={max_age}; Path={path}; HttpOnly; SameSite=Lax{secure}"


def guarded_slug(path: str) -> str | None:
    """The slug of the page ``path`` shows, when the gate must check it; else None."""
    if path.startswith("/s/"):
        slug, _, rest = path[3:].partition("/")
        if not slug or rest.partition("/")[0] in _OPEN:
            return None
        return slug
    if path.startswith(_STATUS_API):
        slug = path[len(_STATUS_API) :]
        return slug if slug and "/" not in slug else None
    return None


class AccessDirectory:
    """Slug -> the page's ``Rules`` (None: public or no such page), through a small TTL cache
    over the store."""

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float = CACHE_TTL_S,
        max_entries: int = CACHE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._rules = TtlLookup(self._load, ttl_s=ttl_s, max_entries=max_entries, clock=clock)

    async def _load(self, slug: str) -> Rules | None:
        access = await self.store.page_access_by_slug(slug)
        return Rules.of(access) if access is not None and access.private else None

    async def rules(self, slug: str) -> Rules | None:
        return await self._rules.get(slug)

    def invalidate(self) -> None:
        self._rules.invalidate()


def directory(app: Any) -> AccessDirectory:
    """The app's directory over its current store (made on first use, per lifespan)."""
    store: Store = app.state.services.store
    found: AccessDirectory | None = getattr(app.state, "access_directory", None)
    if found is None or found.store is not store:
        found = app.state.access_directory = AccessDirectory(store)
    return found


class Keys:
    """The access key, derived once (``signing_key`` may read the key file)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._key: bytes | None = None

    def get(self) -> bytes:
        if self._key is None:
            self._key = access_key(self.settings)
        return self._key


def keys(app: Any) -> Keys:
    found: Keys | None = getattr(app.state, "access_keys", None)
    if found is None:
        found = app.state.access_keys = Keys(app.state.services.settings)
    return found


def has_access(scope: Scope, rules: Rules, now: float) -> bool:
    """Whether the request's client is allowed or carries a valid cookie of the page."""
    client = scope.get("client")
    if rules.networks and client and client_allowed(rules.networks, client[0]):
        return True
    values = cookies_named(scope, COOKIE)
    if not values:
        return False
    key = keys(scope["app"]).get()
    return any(cookie_valid(key, v, rules.access, now) for v in values)


class PrivatePages:
    """Pure ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        slug = guarded_slug(scope["path"]) if scope["type"] == "http" else None
        if slug is None:
            await self.app(scope, receive, send)
            return
        rules = await directory(scope["app"]).rules(slug)
        if rules is None:
            await self.app(scope, receive, send)
            return
        if not has_access(scope, rules, time.time()):
            await _refuse(scope, send, slug)
            return

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _SHARED]
                headers.append((b"cache-control", PRIVATE_CACHE_CONTROL))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_private)


def _wants_html(scope: Scope) -> bool:
    if scope["method"] not in ("GET", "HEAD"):
        return False
    accept = next((v for k, v in scope["headers"] if k == b"accept"), b"")
    return b"text/html" in accept


def visitor_path(scope: Scope, slug: str) -> str:
    """The path (and query) as the visitor asked it, before any custom-domain rewriting."""
    path: str = scope["path"]
    if scope.get(CUSTOM_DOMAIN):
        path = path.removeprefix(f"/s/{slug}") or "/"
    query: bytes = scope.get("query_string", b"")
    return path + ("?" + query.decode("latin-1") if query else "")


async def _refuse(scope: Scope, send: Send, slug: str) -> None:
    sign_in = f"{page_root(scope, slug)}/access"
    headers = [(b"cache-control", b"no-store")]
    if _wants_html(scope):
        location = f"{sign_in}?next={quote(visitor_path(scope, slug), safe='/')}"
        headers.append((b"location", location.encode("latin-1")))
        headers.append((b"content-length", b"0"))
        await send({"type": "http.response.start", "status": 303, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    message = f"this status page is private: sign in at {sign_in}"
    body = json.dumps(error_body("private_page", message)).encode()
    headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
