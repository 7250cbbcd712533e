"""The ``http`` probe: one HTTP(S) request with aiohttp, timed phase by phase."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from time import perf_counter

import aiohttp
from multidict import CIMultiDictProxy

from statpulse.model import CheckSpec, ErrorClass, Observation, RedirectHop, TlsInfo
from statpulse.probes.base import ProbeContext
from statpulse.probes.body import ACCEPT_ENCODING, read_capped
from statpulse.probes.certinfo import tls_info
from statpulse.probes.errors import failure
from statpulse.probes.http2 import probe_http2
from statpulse.probes.timing import PhaseRecorder, elapsed_ms, recording


async def probe_http(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """Request ``spec.target`` (a URL) as ``spec.http`` says and report what came back.

    Returns an Observation, never raises (except ``asyncio.CancelledError``):

    - any HTTP status, 5xx included, is ``connected=True`` with ``status_code`` set and no
      ``error_class``: conditions judge statuses, not the probe;
    - ``spec.timeout_s`` is a hard deadline for the whole check (DNS, connect, TLS, every
      redirect, body) -> ``ErrorClass.TIMEOUT``;
    - redirects are followed when ``follow_redirects``, at most ``max_redirects`` of them;
      one more is ``ErrorClass.PROTOCOL`` "too many redirects";
    - at most ``ctx.body_cap`` bytes of body are read and kept; reading stops there.

    With ``http2`` on an https URL, HTTP/2 is offered first (``probe_http2``); a server that
    does not pick it is checked over HTTP/1.1 with what is left of the deadline, phases and
    ``latency_ms`` measured from the start of that second attempt.

    Phases: ``dns_ms`` (None for a literal IP), ``connect_ms`` (TCP) and ``tls_ms`` (handshake,
    None for plain HTTP) sum over every connection the check opened; ``first_byte_ms`` runs
    from the start of the check to the final response's headers. ``latency_ms`` is the whole
    check, body included. ``ip`` is the peer of the last connection.
    """
    opts = spec.http
    started = perf_counter()
    try:
        tls = ctx.tls(
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
    if opts.http2 and spec.target[:8].lower() == "https://":
        try:
            async with asyncio.timeout(spec.timeout_s):
                over_h2 = await probe_http2(spec, ctx, started)
        except TimeoutError as exc:
            over_h2 = failure(
                exc, timeout_s=spec.timeout_s, started=started, recorder=PhaseRecorder()
            )
        if over_h2 is not None:
            return over_h2
        # The server did not pick HTTP/2: check over HTTP/1.1, measured from scratch, within
        # what is left of the deadline.
        left = spec.timeout_s - elapsed_ms(started) / 1000.0
        return await _http1(spec, ctx, tls, perf_counter(), max(left, 0.0))
    return await _http1(spec, ctx, tls, started, spec.timeout_s)


async def _http1(
    spec: CheckSpec, ctx: ProbeContext, tls: ssl.SSLContext, started: float, deadline_s: float
) -> Observation:
    opts = spec.http
    headers_out = {"Accept-Encoding": ACCEPT_ENCODING, **opts.headers}
    status_code: int | None = None
    headers: dict[str, str] | None = None
    with recording() as recorder:
        try:
            async with (
                asyncio.timeout(deadline_s),
                ctx.http.request(
                    opts.method,
                    spec.target,
                    headers=headers_out,
                    data=opts.body.encode() if opts.body is not None else None,
                    allow_redirects=opts.follow_redirects,
                    # aiohttp raises when the count of redirects reaches max_redirects
                    max_redirects=opts.max_redirects + 1,
                    ssl=tls,
                    auto_decompress=False,  # read_capped inflates under the cap
                ) as resp,
            ):
                recorder.first_byte_ms = elapsed_ms(started)
                status_code = resp.status
                headers = _lower_case(resp.headers)
                tls_facts = _tls_facts(recorder.ssl_object, verified=opts.verify_tls)
                recorder.stage = "reading the body"
                encoding = resp.headers.get("Content-Encoding", "")
                body = await read_capped(resp.content, ctx.body_cap, encoding)
                return Observation(
                    connected=True,
                    latency_ms=elapsed_ms(started),
                    phases=recorder.phases(),
                    status_code=status_code,
                    headers=headers,
                    body=body,
                    ip=recorder.ip,
                    tls=tls_facts,
                    redirects=tuple(_hops(resp)),
                    http_version=_version(resp),
                )
        except Exception as exc:
            return failure(
                exc,
                timeout_s=spec.timeout_s,
                started=started,
                recorder=recorder,
                status_code=status_code,
                headers=headers,
            )


def _lower_case(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    """Headers with lower-case names; repeated fields are joined with ', ' (RFC 9110 5.3)."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _version(resp: aiohttp.ClientResponse) -> str | None:
    v = resp.version
    return None if v is None else f"{v.major}.{v.minor}"


def _hops(resp: aiohttp.ClientResponse) -> Iterator[RedirectHop]:
    for hop in resp.history:
        yield RedirectHop(
            url=str(hop.url), status_code=hop.status, location=hop.headers.get("Location", "")
        )


def _tls_facts(ssl_object: ssl.SSLObject | None, *, verified: bool) -> TlsInfo | None:
    """Facts of the final connection's TLS session; None for plain HTTP. The chain counts as
    valid only when it was verified (a check with ``verify_tls`` off does not know)."""
    if ssl_object is None:
        return None
    return tls_info(
        ssl_object,
        chain_valid=verified,
        hostname_valid=verified,
        verify_error=None if verified else "not verified (verify_tls is off)",
    )
