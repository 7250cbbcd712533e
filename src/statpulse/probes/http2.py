"""HTTP/2 for the ``http`` probe (the ``http2`` option): one request, and its redirects, over
``h2`` when the server selects it through ALPN. aiohttp speaks HTTP/1.1 only.

``probe_http2`` returns None whenever HTTP/2 cannot carry the whole check: the server does not
select ``h2``, or a redirect leads to an ``http://`` URL or to a server without ``h2``. The
caller then checks over HTTP/1.1 from the start, and measures everything again (the work done
here is dropped). Without ``h2`` on the first server no request was sent; after a redirect the
first request was, and the HTTP/1.1 check sends it again (a redirected POST reaches the first
server twice). Each connection here is its own: resolved and checked by the egress guard,
connected, TLS with ALPN ``h2``/``http/1.1``, one request, closed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import weakref
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from time import perf_counter

from yarl import URL

from statpulse.model import CheckSpec, ErrorClass, Observation, RedirectHop, TlsInfo
from statpulse.probes.base import USER_AGENT, ProbeContext
from statpulse.probes.body import ACCEPT_ENCODING, read_capped
from statpulse.probes.certinfo import tls_info
from statpulse.probes.connect import connect, resolve_target
from statpulse.probes.errors import failure
from statpulse.probes.http2_conn import Http2Connection, Http2Error
from statpulse.probes.timing import PhaseRecorder, elapsed_ms
from statpulse.probes.tlscontexts import build_context

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ALPN_PROTOCOLS = ["h2", "http/1.1"]

# Connection-specific fields have no place in HTTP/2 (RFC 9113 8.2.2); content-length is set
# from the body, host becomes :authority.
_NOT_SENT = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}
)
# Dropped when a redirect leaves the origin, as aiohttp does.
_ORIGIN_BOUND = ("authorization", "proxy-authorization", "cookie", "host")


async def probe_http2(spec: CheckSpec, ctx: ProbeContext, started: float) -> Observation | None:
    """Request ``spec.target`` over HTTP/2 as ``spec.http`` says; None when HTTP/2 cannot
    carry the check (see the module docstring) and the caller must use HTTP/1.1.

    ``started`` is the ``time.perf_counter()`` value the check started at. Otherwise the
    contract of ``probe_http``: never raises but ``asyncio.CancelledError``; any status is
    ``connected=True`` without ``error_class``; at most ``ctx.body_cap`` bytes of body, gzip
    and deflate decoded under the cap, and the server is granted no more than the cap of body;
    redirects followed when ``follow_redirects`` (more than ``max_redirects`` is ``PROTOCOL``
    "too many redirects"; 303, and 301/302 after POST, turn into a GET without body). Errors:
    ``BLOCKED`` (egress guard), ``DNS``, ``CONNECT``, ``TLS`` (handshake, invalid PEM),
    ``PROTOCOL`` (stream reset, GOAWAY, HTTP/2 violation, bad redirect), ``TIMEOUT``.

    The deadline is ``started + spec.timeout_s``: reached here, it is a ``TIMEOUT`` observation
    naming the stage. The caller may wrap the call in ``asyncio.timeout`` too; cancelled, the
    connection is closed and nothing leaks. Phases sum over the connections opened (``dns_ms``
    None for a literal IP); ``first_byte_ms`` runs from ``started`` to the final response's
    headers; ``ip`` and ``tls`` are the last connection's; ``http_version`` is ``"2"``.
    """
    opts = spec.http
    try:
        context = h2_context(
            ctx,
            verify=opts.verify_tls,
            ca_cert=opts.ca_cert,
            client_cert=opts.client_cert,
            client_key=opts.client_key,
        )
    except (ssl.SSLError, ValueError) as exc:
        return Observation(
            connected=False,
            latency_ms=None,
            error_class=ErrorClass.TLS,
            error_message=f"invalid TLS settings: {exc}",
        )
    return await _Check(spec, ctx, context, started).run()


# TLS contexts offering h2: like ``ctx.tls(...)`` (same verification, same PEM material, the
# timed SSL object), built once per ProbeContext and inputs, least recently used out first.
_MAX_CONTEXTS = 64
_contexts: weakref.WeakKeyDictionary[ProbeContext, OrderedDict[bytes, ssl.SSLContext]] = (
    weakref.WeakKeyDictionary()
)


def h2_context(
    ctx: ProbeContext,
    *,
    verify: bool,
    ca_cert: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> ssl.SSLContext:
    """The SSL context ``ctx.tls(...)`` would give, but offering ALPN ``h2`` then
    ``http/1.1``. Cached per ``ctx``. Raises ``ssl.SSLError`` or ValueError for unusable PEM."""
    cache = _contexts.setdefault(ctx, OrderedDict())
    digest = hashlib.sha256()
    for part in (str(verify), ca_cert, client_cert, client_key):
        digest.update(b"\0" if part is None else b"\1" + part.encode() + b"\0")
    key = digest.digest()
    context = cache.get(key)
    if context is not None:
        cache.move_to_end(key)
        return context
    context = build_context(
        verify=verify, ca_cert=ca_cert, client_cert=client_cert, client_key=client_key
    )
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    cache[key] = context
    if len(cache) > _MAX_CONTEXTS:
        cache.popitem(last=False)
    return context


class _Check:
    """One check: the hops, what was measured, and the response once it came."""

    def __init__(
        self, spec: CheckSpec, ctx: ProbeContext, context: ssl.SSLContext, started: float
    ) -> None:
        self.spec = spec
        self.ctx = ctx
        self.context = context
        self.started = started
        self.recorder = PhaseRecorder()
        self.status_code: int | None = None
        self.headers: dict[str, str] | None = None

    async def run(self) -> Observation | None:
        remaining = self.spec.timeout_s - elapsed_ms(self.started) / 1000.0
        try:
            async with asyncio.timeout(max(0.0, remaining)):
                return await self._follow()
        except Http2Error as exc:
            r = self.recorder
            return Observation(
                connected=r.connected,
                latency_ms=elapsed_ms(self.started),
                phases=r.phases(),
                status_code=self.status_code,
                headers=self.headers or {},
                ip=r.ip,
                error_class=ErrorClass.PROTOCOL,
                error_message=str(exc),
            )
        except Exception as exc:
            return failure(
                exc,
                timeout_s=self.spec.timeout_s,
                started=self.started,
                recorder=self.recorder,
                status_code=self.status_code,
                headers=self.headers,
            )

    async def _follow(self) -> Observation | None:
        opts = self.spec.http
        try:
            url = URL(self.spec.target)
        except ValueError:
            return None  # aiohttp says what is wrong with it
        method = opts.method.upper()
        body = None if opts.body is None else opts.body.encode()
        fields = request_fields(opts.headers)
        hops: list[RedirectHop] = []
        while True:
            if url.scheme != "https" or not url.raw_host:
                return None
            url, fields = _take_credentials(url, fields)
            conn = await self._connect(url)
            if conn is None:
                return None
            try:
                self.recorder.stage = "sending the request"
                await conn.send_request(request_headers(method, url, fields, body), body)
                self.recorder.stage = "waiting for the response"
                status, raw_fields = await conn.response()
                received = joined(raw_fields)
                location = received.get("location")
                if opts.follow_redirects and status in REDIRECT_STATUSES and location:
                    hops.append(RedirectHop(url=str(url), status_code=status, location=location))
                    if len(hops) > opts.max_redirects:
                        raise Http2Error("too many redirects")
                    target = redirect_target(url, location)
                    if (status == 303 and method != "HEAD") or (
                        status in (301, 302) and method == "POST"
                    ):
                        method, body = "GET", None
                    if _origin(target) != _origin(url):
                        fields = {k: v for k, v in fields.items() if k not in _ORIGIN_BOUND}
                    url = target
                    continue
                self.recorder.first_byte_ms = elapsed_ms(self.started)
                self.status_code, self.headers = status, received
                tls = self._tls_facts(conn.ssl_object)
                self.recorder.stage = "reading the body"
                encoding = received.get("content-encoding", "")
                content = await read_capped(conn, self.ctx.body_cap, encoding)
                return Observation(
                    connected=True,
                    latency_ms=elapsed_ms(self.started),
                    phases=self.recorder.phases(),
                    status_code=status,
                    headers=received,
                    body=content,
                    ip=self.recorder.ip,
                    tls=tls,
                    redirects=tuple(hops),
                    http_version="2",
                )
            finally:
                conn.close()

    async def _connect(self, url: URL) -> Http2Connection | None:
        """A started HTTP/2 connection to ``url``'s host, or None (closed) when the server does
        not select ``h2``. Records DNS, TCP connect and TLS handshake times and the peer."""
        r = self.recorder
        host = url.raw_host or ""
        infos = await resolve_target(host, url.port or 443, r, self.ctx.egress)
        sock = await connect(infos, r)
        # Not ``connect.open_stream(tls=...)``: h2 runs as a protocol (Http2Connection), not on
        # streams, and its ``tls_ms`` sums over hops and counts any failed handshake too.
        r.stage = "performing the TLS handshake"
        began = perf_counter()
        credit = self.ctx.body_cap
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: Http2Connection(credit),
                sock=sock,
                ssl=self.context,
                server_hostname=host,
            )
        except BaseException as exc:
            sock.close()  # as aiohttp: the loop may not have taken the socket (uvloop#653)
            if isinstance(exc, ssl.SSLError):
                r.tls_ms = (r.tls_ms or 0.0) + elapsed_ms(began)
            raise
        # No await until start(): the connection cannot leak, and no frame is missed.
        r.tls_ms = (r.tls_ms or 0.0) + elapsed_ms(began)
        if conn.alpn != "h2":
            conn.close()
            return None
        conn.start()
        return conn

    def _tls_facts(self, ssl_object: ssl.SSLObject | None) -> TlsInfo | None:
        if ssl_object is None:  # pragma: no cover - a TLS transport always has one
            return None
        verified = self.spec.http.verify_tls
        return tls_info(
            ssl_object,
            chain_valid=verified,
            hostname_valid=verified,
            verify_error=None if verified else "not verified (verify_tls is off)",
        )


def request_fields(given: Mapping[str, str]) -> dict[str, str]:
    """The request's header fields for HTTP/2: lower-case names, the defaults (user-agent,
    accept, accept-encoding) unless given, connection-specific fields, pseudo-headers and
    content-length (set from the body) left out, ``te`` only as ``trailers``."""
    out = {"user-agent": USER_AGENT, "accept": "*/*", "accept-encoding": ACCEPT_ENCODING}
    for name, value in given.items():
        key = name.strip().lower()
        if key in _NOT_SENT or key == "content-length" or key.startswith(":"):
            continue
        if key == "te" and value.strip().lower() != "trailers":
            continue
        out[key] = value.strip()
    return out


def request_headers(
    method: str, url: URL, fields: Mapping[str, str], body: bytes | None
) -> list[tuple[str, str]]:
    """Pseudo-headers, then ``fields`` (a given ``host`` is the :authority), then the body's
    content-length and, unless given, content-type ``application/octet-stream`` (as aiohttp)."""
    authority = fields.get("host") or url.host_port_subcomponent or ""
    headers = [
        (":method", method),
        (":scheme", "https"),
        (":authority", authority),
        (":path", url.raw_path_qs or "/"),
    ]
    headers += [(name, value) for name, value in fields.items() if name != "host"]
    if body is not None:
        if "content-type" not in fields:
            headers.append(("content-type", "application/octet-stream"))
        headers.append(("content-length", str(len(body))))
    return headers


def joined(fields: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Header fields by lower-case name; repeated fields are joined with ', ' (RFC 9110 5.3)."""
    out: dict[str, str] = {}
    for name, value in fields:
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def redirect_target(url: URL, location: str) -> URL:
    """Where a redirect from ``url`` leads: ``location`` resolved against ``url`` (as aiohttp
    does). Raises ``Http2Error`` for an invalid or non-HTTP location."""
    try:
        target = URL(location)
        if not target.scheme or target.raw_host is None:
            target = url.join(target)
    except ValueError:
        raise Http2Error(f"redirect to an invalid URL: {location[:100]}") from None
    if target.scheme not in ("http", "https"):
        raise Http2Error(f"redirect to a non-HTTP URL: {location[:100]}")
    return target


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.raw_host, url.port


def _take_credentials(url: URL, fields: dict[str, str]) -> tuple[URL, dict[str, str]]:
    """Credentials in the URL (``user:pass@``) become basic authorization (latin-1, as
    aiohttp); the URL is returned without them."""
    if url.user is None:
        return url, fields
    secret = f"{url.user}:{url.password or ''}".encode("latin-1", "replace")
    auth = f"Basic {base64.b64encode(secret).decode('ascii')}"
    return url.with_user(None), {**fields, "authorization": auth}
