"""The ``tls`` probe: a TLS handshake with host:port, and the facts of its certificate.

How chain validity is decided: the first handshake verifies the chain (``chain_context``: the
CAs of ``ctx.tls(verify=True)``, host name not checked by OpenSSL). When it verifies, its
certificate gives the facts and there is one connection. When verification fails, OpenSSL's
verdict is kept (``chain_valid`` False, ``verify_error``) and a second, unverified handshake to
the same IP reads the certificate. The host name is checked on the certificate on its own
(``certinfo.hostname_matches``), so "expired" and "wrong host" are both known. Verifying the
presented chain offline instead is not possible: Python 3.11 does not expose the intermediates
the server sent, and the leaf alone does not verify.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from time import perf_counter

from aiohappyeyeballs import AddrInfoType
from cryptography import x509

from statpulse.model import CheckSpec, ErrorClass, Observation, TlsInfo
from statpulse.probes.base import ProbeContext
from statpulse.probes.certinfo import (
    chain_context,
    date_failure,
    hostname_mismatch,
    unverified_context,
    verify_message,
)
from statpulse.probes.connect import (
    close_stream,
    open_stream,
    rejected,
    resolve_target,
    session_facts,
)
from statpulse.probes.errors import failure
from statpulse.probes.tcp import parse_host_port
from statpulse.probes.timing import PhaseRecorder, elapsed_ms, recording

DEFAULT_PORT = 443
_BAD_HOST_CHARS = frozenset(" \t\r\n/@?#")


def parse_tls_target(target: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, or a bare ``host`` / ``[v6]`` meaning port 443.
    Raises ValueError otherwise (an unbracketed IPv6 address is ambiguous)."""
    try:
        return parse_host_port(target)
    except ValueError:
        if target.startswith("[") and target.endswith("]"):
            host = target[1:-1]
            ipaddress.IPv6Address(host.split("%", 1)[0])  # raises ValueError
            return host, DEFAULT_PORT
        if not target or ":" in target or _BAD_HOST_CHARS.intersection(target):
            raise
        return target, DEFAULT_PORT


async def probe_tls(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """Handshake with ``spec.target`` (see ``parse_tls_target``; SNI is the host name, none for
    an IP), report ``Observation.tls``, close. Never raises (except ``CancelledError``).

    Verdicts, in order (``ErrorClass.TLS`` with the message):

    1. the certificate is outside its dates: "certificate expired on <date>" / "certificate not
       valid until <date>", whatever ``verify_tls`` says: a TLS monitor exists to catch that;
    2. with ``spec.tls.verify_tls``: a chain that does not verify ("self-signed certificate",
       "certificate signed by an unknown authority" ...), then a host name the certificate
       does not cover ("hostname mismatch: cert is for x, not y");
    3. otherwise the check passes once the handshake completed. Expiring within ``warn_days``
       is not a failure: the facts (``not_after``) say so and the judge decides.

    Other failures as every probe: ``DNS``, ``CONNECT``, ``BLOCKED``, ``TIMEOUT`` (the deadline
    covers both connections), ``TLS`` for a failed handshake, ``PROTOCOL`` for a bad target.
    Phases (``dns_ms``, ``connect_ms``, ``tls_ms``) and ``ip`` are those of the first
    connection; ``tls_ms`` lasts until its verdict, also when verification failed.
    ``latency_ms`` covers the whole check.
    """
    try:
        host, port = parse_tls_target(spec.target)
    except ValueError:
        return rejected(f"invalid target {spec.target!r}: expected host[:port]")
    started = perf_counter()
    with recording() as recorder:
        try:
            async with asyncio.timeout(spec.timeout_s):
                addr_infos = await resolve_target(host, port, recorder, ctx.egress)
                verifying = chain_context(ctx.tls(verify=True))
                try:
                    info, cert = await _handshake(
                        addr_infos, host, verifying, recorder, spec.timeout_s, None
                    )
                except ssl.SSLCertVerificationError as exc:
                    # Same IP as the first connection: the one the egress guard allowed.
                    same_ip = [a for a in addr_infos if str(a[4][0]) == recorder.ip]
                    recorder.stage = "reading the certificate (unverified second handshake)"
                    info, cert = await _handshake(
                        same_ip or addr_infos,
                        host,
                        unverified_context(),
                        PhaseRecorder(),
                        spec.timeout_s,
                        verify_message(exc),
                    )
        except Exception as exc:
            return failure(exc, timeout_s=spec.timeout_s, started=started, recorder=recorder)
    problem = date_failure(info, datetime.now(UTC))
    if problem is None and spec.tls.verify_tls:
        if not info.chain_valid:
            problem = info.verify_error
        elif not info.hostname_valid:
            problem = hostname_mismatch(cert, host)
    return Observation(
        connected=True,
        latency_ms=elapsed_ms(started),
        phases=recorder.phases(),
        ip=recorder.ip,
        tls=info,
        error_class=ErrorClass.TLS if problem else None,
        error_message=problem,
    )


async def _handshake(
    addr_infos: Sequence[AddrInfoType],
    host: str,
    context: ssl.SSLContext,
    recorder: PhaseRecorder,
    timeout_s: float,
    verify_error: str | None,
) -> tuple[TlsInfo, x509.Certificate | None]:
    """One connection and handshake, then close; the facts, judged verified unless
    ``verify_error``."""
    _, writer = await open_stream(addr_infos, recorder, tls=context, host=host, timeout_s=timeout_s)
    try:
        return session_facts(writer, host, verify_error)
    finally:
        close_stream(writer)
