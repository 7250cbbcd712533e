"""Connection helpers shared by the probes that open their own connections (``tcp``, ``tls``,
``grpc``, ``dns``, HTTP/2): resolve through the egress guard, connect (happy eyeballs), TLS
from the first byte or as an upgrade, the TLS facts of a stream, and closing without waiting.

Every helper records what it measured into the caller's ``PhaseRecorder`` (``dns_ms``,
``connect_ms``, ``tls_ms``, ``ip``, ``connected``, ``stage``) and raises what failed; turning an
exception into an ``Observation`` is the caller's work (``errors.failure``), except for
``rejected``, which builds the Observation of a check that could not start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Iterator, Sequence
from time import perf_counter

import aiohappyeyeballs
from aiohappyeyeballs import AddrInfoType
from cryptography import x509

from statpulse.model import ErrorClass, Observation, TlsInfo
from statpulse.probes.certinfo import hostname_matches, peer_certificate, tls_info
from statpulse.probes.timing import PhaseRecorder, elapsed_ms
from statpulse.security.egress import EgressPolicy

# As aiohttp does: on a dual-stack host, try the next address family after 250 ms (RFC 8305).
HAPPY_EYEBALLS_DELAY_S = 0.25
_TCP = socket.IPPROTO_TCP


def rejected(message: str) -> Observation:
    """The Observation of a check that could not start: its spec is unusable (PROTOCOL)."""
    return Observation(
        connected=False, latency_ms=None, error_class=ErrorClass.PROTOCOL, error_message=message
    )


async def resolve_target(
    host: str, port: int, recorder: PhaseRecorder, egress: EgressPolicy
) -> Sequence[AddrInfoType]:
    """Addresses to try, all allowed by ``egress``; a literal IP is used as is (no DNS), a name
    is resolved (timed: ``dns_ms`` adds up over calls) and filtered. Raises ``EgressDenied``
    when nothing is allowed, ``socket.gaierror`` when the name does not resolve."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        egress.check(host, ip)
        if ip.version == 6:
            return [(socket.AF_INET6, socket.SOCK_STREAM, _TCP, "", (host, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, _TCP, "", (host, port))]
    recorder.stage = "resolving the host name"
    started = perf_counter()
    try:
        return await egress.resolve(host, port)
    finally:
        recorder.add_dns(elapsed_ms(started))


async def connect(addr_infos: Sequence[AddrInfoType], recorder: PhaseRecorder) -> socket.socket:
    """A connected socket to one of ``addr_infos`` (happy eyeballs, as aiohttp does); adds the
    time to ``connect_ms`` (one sum over the check's connections) and sets ``ip`` and
    ``connected``. The caller owns (closes) the socket. Raises what connecting raised."""
    recorder.stage = "connecting"
    started = perf_counter()
    sock = await aiohappyeyeballs.start_connection(
        addr_infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S
    )
    # No await from here on: the socket cannot leak to a cancellation.
    try:
        peer = sock.getpeername()
    except OSError:
        sock.close()
        raise
    recorder.connect_ms = (recorder.connect_ms or 0.0) + elapsed_ms(started)
    recorder.connected = True
    recorder.ip = str(peer[0])
    return sock


async def open_stream(
    addr_infos: Sequence[AddrInfoType],
    recorder: PhaseRecorder,
    *,
    tls: ssl.SSLContext | None = None,
    host: str = "",
    timeout_s: float | None = None,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """``connect`` and wrap the socket in asyncio streams; with ``tls``, the TLS handshake
    (SNI ``host`` unless it is an IP, at most ``timeout_s``) runs before any byte is read,
    timed as by ``start_tls``. Close with ``close_stream``. Raises what connecting or the
    handshake raised; ``recorder.connected`` is then True when only the handshake failed."""
    sock = await connect(addr_infos, recorder)
    try:
        if tls is None:
            return await asyncio.open_connection(sock=sock)
        with _timed_handshake(recorder):
            return await asyncio.open_connection(
                sock=sock, ssl=tls, server_hostname=host, ssl_handshake_timeout=timeout_s
            )
    except BaseException:
        sock.close()  # as aiohttp: the loop may not have taken the socket (uvloop#653)
        raise


async def start_tls(
    writer: asyncio.StreamWriter,
    host: str,
    context: ssl.SSLContext,
    recorder: PhaseRecorder,
    timeout_s: float,
) -> None:
    """Upgrade an open stream to TLS (STARTTLS), SNI ``host`` unless it is an IP. Raises what
    the handshake raised. Only for an upgrade after a plaintext exchange: bytes the server sent
    before it that the stream already buffered never reach the handshake (a server that speaks
    first would stall it), so TLS from the first byte is ``open_stream(tls=...)``."""
    with _timed_handshake(recorder):
        await writer.start_tls(context, server_hostname=host, ssl_handshake_timeout=timeout_s)


@contextlib.contextmanager
def _timed_handshake(recorder: PhaseRecorder) -> Iterator[None]:
    """Record ``tls_ms``, also when the handshake ends in ``ssl.SSLCertVerificationError``
    (the server did its part)."""
    recorder.stage = "performing the TLS handshake"
    started = perf_counter()
    try:
        yield
    except ssl.SSLCertVerificationError:
        recorder.tls_ms = elapsed_ms(started)
        raise
    recorder.tls_ms = elapsed_ms(started)


def session_facts(
    writer: asyncio.StreamWriter, host: str, verify_error: str | None
) -> tuple[TlsInfo, x509.Certificate | None]:
    """The TLS facts of a stream (``chain_valid`` unless ``verify_error``; the host name
    checked on the certificate) and the peer certificate."""
    obj = writer.get_extra_info("ssl_object")
    if not isinstance(obj, ssl.SSLObject):  # pragma: no cover - every loop sets it
        raise ssl.SSLError("the event loop reported no TLS session")
    cert = peer_certificate(obj)
    info = tls_info(
        obj,
        chain_valid=verify_error is None,
        hostname_valid=cert is not None and hostname_matches(cert, host),
        verify_error=verify_error,
    )
    return info, cert


def close_stream(writer: asyncio.StreamWriter) -> None:
    """Close now: start a graceful close (TLS close_notify), then abort so that nothing waits
    for the peer. Idempotent. Bytes still buffered are dropped: flush before."""
    writer.close()
    writer.transport.abort()
