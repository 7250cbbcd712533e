"""Custom domains at the edge: routing by Host header, the DNS TXT ownership check, and the
``/internal/tls/ask`` endpoint of Caddy's on-demand TLS (deploy/Caddyfile).

With ``settings.custom_domains`` on, ``HostRouting`` serves a verified custom domain's page at
``/`` by rewriting the path to ``/s/{slug}...`` (so ``/events``, ``/api/v2/...``, feeds,
badges and incident permalinks work under the domain too), passes the main hosts through
untouched and answers any other Host with 421 Misdirected Request. Off (the default), it passes
everything through.

Hostname lookups are cached in-process for ``CACHE_TTL_S`` (negative answers too, so random
Host headers cost one indexed query per name per TTL); API writes invalidate this process's
cache at once, other worker processes see a change within the TTL. A Host that is a custom domain
not verified yet answers only ``/.well-known/statpulse-verify/<token>`` (the HTTP proof).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from statpulse.custom_domains import WELL_KNOWN_PATH, host_of, normalise_hostname
from statpulse.settings import Settings
from statpulse.store.contract import Store
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import error_body
from statpulse.web.ttl_lookup import TtlLookup

CACHE_TTL_S = 5.0
CACHE_MAX = 10_000
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Paths that mean the same on every host (the page's HTML links to them absolutely).
_SHARED_PREFIXES = ("/static/",)
_SHARED_PATHS = frozenset({"/favicon.ico", "/healthz"})
CUSTOM_DOMAIN = "statpulse.custom_domain"
"""Scope key set on a request that came in on a verified custom domain (its hostname)."""

router = APIRouter(include_in_schema=False)


class DomainDirectory:
    """Verified hostname -> page slug, read through a small TTL cache over the store."""

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float = CACHE_TTL_S,
        max_entries: int = CACHE_MAX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._slugs = TtlLookup(
            store.verified_domain_slug, ttl_s=ttl_s, max_entries=max_entries, clock=clock
        )

    async def slug_for(self, hostname: str) -> str | None:
        """The slug of the page ``hostname`` (normalised) serves when verified; else None."""
        return await self._slugs.get(hostname)

    def invalidate(self) -> None:
        self._slugs.invalidate()


def directory(app: Any) -> DomainDirectory:
    """The app's directory over its current store (made on first use, per lifespan)."""
    store: Store = app.state.services.store
    found: DomainDirectory | None = getattr(app.state, "domain_directory", None)
    if found is None or found.store is not store:
        found = DomainDirectory(store)
        app.state.domain_directory = found
    return found


def main_hosts(settings: Settings) -> frozenset[str]:
    names = {settings.host, *settings.public_hosts}
    if settings.public_host:
        names.add(settings.public_host)
    return LOCAL_HOSTS | {host_of(n) for n in names}


def rewrite_path(path: str, slug: str) -> str:
    """Where ``path`` on a custom domain of page ``slug`` is served."""
    own = f"/s/{slug}"
    if path in _SHARED_PATHS or path.startswith(_SHARED_PREFIXES):
        return path
    if path == own or path.startswith(own + "/"):
        return path
    return own if path == "/" else own + path


class HostRouting:
    """Pure ASGI middleware: see the module docstring."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.enabled = settings.custom_domains
        self.main_hosts = main_hosts(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http":  # the app has no websockets
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"host"), b"")
        host = host_of(header.decode("latin-1"))
        if host in self.main_hosts:
            await self.app(scope, receive, send)
            return
        slug = await directory(scope["app"]).slug_for(host) if host else None
        if slug is None and scope["path"].startswith(WELL_KNOWN_PATH):
            await _token(scope, send, host)
            return
        if slug is None:
            await _misdirected(send, host)
            return
        path = rewrite_path(scope["path"], slug)
        scope = {**scope, "path": path, "raw_path": path.encode(), CUSTOM_DOMAIN: host}
        await self.app(scope, receive, send)


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _misdirected(send: Send, host: str) -> None:
    body = json.dumps(error_body("misdirected", f"this server does not serve {host!r}")).encode()
    await _respond(send, 421, body, b"application/json")


async def _token(scope: Scope, send: Send, host: str) -> None:
    """The HTTP ownership token of a custom domain not verified yet (web/domain_verify.py): its
    CNAME reaches this server, which proves control of the name."""
    asked = scope["path"][len(WELL_KNOWN_PATH) :]
    token = await scope["app"].state.services.store.domain_token(host) if host else None
    if token is not None and hmac.compare_digest(asked.encode(), token.encode()):
        await _respond(send, 200, token.encode(), b"text/plain")
    else:
        await _respond(send, 404, b"not found\n", b"text/plain")


def _from_loopback(request: Request) -> bool:
    """A direct loopback client: not one relayed by a proxy on this machine (the reverse proxy
    adds X-Forwarded-For; Caddy's own ``ask`` request does not)."""
    if request.client is None or "x-forwarded-for" in request.headers:
        return False
    if "forwarded" in request.headers:
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


@router.get("/internal/tls/ask")
async def tls_ask(request: Request, svc: ServicesDep, domain: str = "") -> Response:
    """Caddy's on-demand TLS permission: 200 for a verified custom domain, 404 for any other
    name, 403 unless asked directly from loopback."""
    if not _from_loopback(request):
        return Response("forbidden\n", 403, media_type="text/plain")
    try:
        name = normalise_hostname(domain)
    except ValueError:
        return Response("unknown\n", 404, media_type="text/plain")
    slug = await directory(request.app).slug_for(name)
    if slug is None:
        return Response("unknown\n", 404, media_type="text/plain")
    return Response("ok\n", 200, media_type="text/plain")
