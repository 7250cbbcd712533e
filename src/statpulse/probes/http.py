"""The ``http`` probe: one HTTP(S) request with aiohttp, timed phase by phase."""

from __future__ import annotations

import asyncio
from time import perf_counter

import aiohttp
from multidict import CIMultiDictProxy

from statpulse.model import CheckSpec, Observation
from statpulse.probes.base import ProbeContext
from statpulse.probes.errors import failure
from statpulse.probes.timing import elapsed_ms, recording


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

    Phases: ``dns_ms`` (None for a literal IP), ``connect_ms`` (TCP) and ``tls_ms`` (handshake,
    None for plain HTTP) sum over every connection the check opened; ``first_byte_ms`` runs
    from the start of the check to the final response's headers. ``latency_ms`` is the whole
    check, body included. ``ip`` is the peer of the last connection.
    """
    opts = spec.http
    started = perf_counter()
    status_code: int | None = None
    headers: dict[str, str] | None = None
    with recording() as recorder:
        try:
            async with (
                asyncio.timeout(spec.timeout_s),
                ctx.http.request(
                    opts.method,
                    spec.target,
                    headers=opts.headers,
                    data=opts.body.encode() if opts.body is not None else None,
                    allow_redirects=opts.follow_redirects,
                    # aiohttp raises when the count of redirects reaches max_redirects
                    max_redirects=opts.max_redirects + 1,
                    ssl=ctx.tls(verify=opts.verify_tls),
                ) as resp,
            ):
                recorder.first_byte_ms = elapsed_ms(started)
                status_code = resp.status
                headers = _lower_case(resp.headers)
                recorder.stage = "reading the body"
                body = await _read_capped(resp.content, ctx.body_cap)
                return Observation(
                    connected=True,
                    latency_ms=elapsed_ms(started),
                    phases=recorder.phases(),
                    status_code=status_code,
                    headers=headers,
                    body=body,
                    ip=recorder.ip,
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


async def _read_capped(content: aiohttp.StreamReader, cap: int) -> bytes:
    """Read at most ``cap`` bytes; the rest is never read (the connection is closed after)."""
    chunks: list[bytes] = []
    remaining = cap
    while remaining > 0:
        chunk = await content.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
