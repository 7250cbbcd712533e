"""The ``tcp`` probe: can a TCP connection to host:port be opened, and does the service answer?

With ``spec.tcp`` options it also talks: TLS at once (``tls``) or after a STARTTLS exchange
(``starttls``: smtp, imap, pop3, ftp), then it sends ``send`` and reads until ``expect`` arrives.
The connection helpers (resolve through the egress guard, connect, TLS upgrade, close) are shared
with the ``tls`` probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator, Sequence
from time import perf_counter

import aiohappyeyeballs
from aiohappyeyeballs import AddrInfoType
from cryptography import x509

from statpulse.model import CheckSpec, ErrorClass, Observation, TlsInfo
from statpulse.probes.base import ProbeContext
from statpulse.probes.certinfo import (
    chain_context,
    hostname_matches,
    hostname_mismatch,
    peer_certificate,
    tls_info,
    unverified_context,
    verify_message,
)
from statpulse.probes.errors import failure, translate_error
from statpulse.probes.timing import PhaseRecorder, elapsed_ms, recording
from statpulse.security.egress import EgressPolicy

# As aiohttp does: on a dual-stack host, try the next address family after 250 ms (RFC 8305).
HAPPY_EYEBALLS_DELAY_S = 0.25
EXPECT_CAP = 64 * 1024  # at most this many bytes are read while waiting for ``expect``
NOT_VERIFIED = "not verified: verify_tls is off"
_TCP = socket.IPPROTO_TCP


def parse_host_port(target: str) -> tuple[str, int]:
    """Split ``host:port`` or ``[v6]:port``. Raises ValueError when it is neither."""
    host, sep, port_text = target.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        ipaddress.IPv6Address(host.split("%", 1)[0])  # raises ValueError
    elif ":" in host:
        raise ValueError("an IPv6 address needs brackets: [v6]:port")
    if not sep or not host or not port_text.isascii() or not port_text.isdigit():
        raise ValueError("expected host:port")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError("port out of range")
    return host, port


def rejected(message: str) -> Observation:
    """The Observation of a check that could not start: its spec is unusable (PROTOCOL)."""
    return Observation(
        connected=False, latency_ms=None, error_class=ErrorClass.PROTOCOL, error_message=message
    )


async def probe_tcp(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """Connect to ``spec.target`` ("host:port" or "[v6]:port") and, as ``spec.tcp`` says, talk.

    Returns an Observation, never raises (except ``asyncio.CancelledError``). ``spec.timeout_s``
    bounds the whole check -> ``TIMEOUT``. No options: ``connected=True`` once the connection
    opened, else ``DNS``, ``CONNECT``, ``BLOCKED`` (egress guard). Options, in order:

    - ``starttls``: the protocol's greeting and upgrade command (smtp EHLO+STARTTLS, imap
      ``a001 STARTTLS``, pop3 ``STLS``, ftp ``AUTH TLS``); a refusal is ``PROTOCOL``;
    - ``tls`` / ``starttls``: TLS handshake with SNI, facts in ``Observation.tls``. With
      ``verify_tls`` a bad chain or host name is ``TLS`` ("self-signed certificate",
      "hostname mismatch: cert is for x, not y"); without it nothing is verified
      (``chain_valid`` False, ``verify_error`` says so, ``hostname_valid`` still checked);
    - ``send``: written (UTF-8 text, or hex when ``hex``), flushed;
    - ``expect``: read until those bytes appear, at most 64 KiB; not there when the peer closes
      or the cap is reached -> ``ASSERTION`` "expected 'X' not received; got '...'".
      ``Observation.body`` keeps the bytes read (capped by ``ctx.body_cap``), on failure too.

    Invalid target, hex or starttls name -> ``PROTOCOL`` without connecting. Phases: ``dns_ms``
    (names only), ``connect_ms``, ``tls_ms``. The connection is always closed (TLS close_notify
    when possible, never waiting for the peer).
    """
    try:
        host, port = parse_host_port(spec.target)
    except ValueError:
        return rejected(f"invalid target {spec.target!r}: expected host:port")
    opts = spec.tcp
    try:
        send = _payload(opts.send, opts.hex, "send")
        expect = _payload(opts.expect, opts.hex, "expect")
    except ValueError as exc:
        return rejected(str(exc))
    if opts.starttls is not None and opts.starttls not in STARTTLS:
        return rejected(f"unknown starttls protocol {opts.starttls!r}: expected one of {_NAMES}")
    if opts.tls and opts.starttls:
        return rejected("tls and starttls exclude each other")
    if not (send or expect or opts.tls or opts.starttls):
        return await _connect_only(spec, ctx, host, port)

    started = perf_counter()
    received = bytearray()
    info: TlsInfo | None = None
    writer: asyncio.StreamWriter | None = None

    def result(error: tuple[ErrorClass, str] | None = None) -> Observation:
        return Observation(
            connected=recorder.connected,
            latency_ms=elapsed_ms(started),
            phases=recorder.phases(),
            body=bytes(received[: ctx.body_cap]),
            ip=recorder.ip,
            tls=info,
            error_class=error[0] if error else None,
            error_message=error[1] if error else None,
        )

    with recording() as recorder:
        try:
            async with asyncio.timeout(spec.timeout_s):
                addr_infos = await resolve_target(host, port, recorder, ctx.egress)
                context: ssl.SSLContext | None = None
                if opts.tls or opts.starttls:
                    verifying = chain_context(ctx.tls(verify=True)) if opts.verify_tls else None
                    context = verifying or unverified_context()
                reader, writer = await open_stream(
                    addr_infos,
                    recorder,
                    tls=None if opts.starttls else context,
                    host=host,
                    timeout_s=spec.timeout_s,
                )
                if opts.starttls and context is not None:
                    recorder.stage = f"negotiating {opts.starttls} STARTTLS"
                    await STARTTLS[opts.starttls](reader, writer)
                    await start_tls(writer, host, context, recorder, spec.timeout_s)
                if context is not None:
                    verify_error = None if opts.verify_tls else NOT_VERIFIED
                    info, cert = session_facts(writer, host, verify_error)
                    if opts.verify_tls and not info.hostname_valid:
                        return result((ErrorClass.TLS, hostname_mismatch(cert, host)))
                if send:
                    recorder.stage = "sending"
                    writer.transport.set_write_buffer_limits(0)  # drain() waits for every byte
                    writer.write(send)
                    await writer.drain()
                if expect:
                    shown = f"0x{expect.hex()}" if opts.hex else repr(opts.expect)
                    recorder.stage = f"waiting for {shown}"
                    if not await _receive(reader, expect, received):
                        got = _shown(bytes(received), opts.hex)
                        message = f"expected {shown} not received; got {got}"
                        return result((ErrorClass.ASSERTION, message))
        except StartTlsRefused as exc:
            return result((ErrorClass.PROTOCOL, str(exc)))
        except ssl.SSLCertVerificationError as exc:
            return result((ErrorClass.TLS, verify_message(exc)))
        except Exception as exc:
            return result(translate_error(exc, spec.timeout_s, recorder.stage))
        finally:
            if writer is not None:
                close_stream(writer)
        return result()


async def _connect_only(spec: CheckSpec, ctx: ProbeContext, host: str, port: int) -> Observation:
    started = perf_counter()
    with recording() as recorder:
        try:
            async with asyncio.timeout(spec.timeout_s):
                addr_infos = await resolve_target(host, port, recorder, ctx.egress)
                (await connect(addr_infos, recorder)).close()
        except Exception as exc:
            return failure(exc, timeout_s=spec.timeout_s, started=started, recorder=recorder)
        return Observation(
            connected=True,
            latency_ms=elapsed_ms(started),
            phases=recorder.phases(),
            ip=recorder.ip,
        )


async def resolve_target(
    host: str, port: int, recorder: PhaseRecorder, egress: EgressPolicy
) -> Sequence[AddrInfoType]:
    """Addresses to try, all allowed by ``egress``; a literal IP is used as is, a name is
    resolved (timed) and filtered. Raises ``EgressDenied`` when nothing is allowed."""
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
    """A connected socket to one of ``addr_infos`` (happy eyeballs, as aiohttp does); records
    ``connect_ms``, ``ip`` and ``connected``. The caller owns (closes) the socket."""
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
    recorder.connect_ms = elapsed_ms(started)
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
    (SNI ``host`` unless it is an IP) runs before any byte is read, timed as by ``start_tls``.
    Close with ``close_stream``. Raises what connecting or the handshake raised."""
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


def _payload(text: str | None, as_hex: bool, what: str) -> bytes:
    """The bytes of ``send``/``expect``: UTF-8 text, or hex digits (spaces allowed)."""
    if not text:
        return b""
    if not as_hex:
        return text.encode()
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise ValueError(f"invalid hex in {what}") from None


async def _receive(reader: asyncio.StreamReader, expect: bytes, into: bytearray) -> bool:
    """Read into ``into`` until it holds ``expect``: False when the peer closed first (a reset
    counts as a close: which one a closing peer causes is a race) or ``EXPECT_CAP`` bytes came
    without it."""
    while expect not in into:
        if len(into) >= EXPECT_CAP:
            return False
        try:
            chunk = await reader.read(EXPECT_CAP - len(into))
        except ConnectionResetError:
            return False
        if not chunk:
            return False
        into += chunk
    return True


def _shown(data: bytes, as_hex: bool, limit: int = 64) -> str:
    """``data`` for a message: quoted with escapes (or hex), at most ``limit`` bytes."""
    more = "…" if len(data) > limit else ""
    if as_hex:
        return f"0x{data[:limit].hex()}{more}"
    return f"'{repr(data[:limit])[2:-1]}{more}'"


# STARTTLS: each exchange reads the greeting, asks for TLS and returns once the server agreed.


class StartTlsRefused(Exception):
    """The server's answer was not the one the STARTTLS exchange needs."""


async def _line(reader: asyncio.StreamReader, what: str) -> str:
    try:
        line = await reader.readline()
    except ValueError:  # the stream's 64 KiB limit
        raise StartTlsRefused(f"{what}: a line longer than 64 KiB") from None
    if not line.endswith(b"\n"):
        raise StartTlsRefused(f"{what}: the server closed the connection")
    return line.decode("utf-8", "replace").rstrip("\r\n")


async def _reply(reader: asyncio.StreamReader, what: str, want: str) -> None:
    """One SMTP/FTP reply (``250-...`` lines continue it) whose code must be ``want``."""
    line = first = await _line(reader, what)
    while first[3:4] == "-" and not (line.startswith(first[:3]) and line[3:4] in (" ", "")):
        line = await _line(reader, what)
    if not first.startswith(want):
        raise StartTlsRefused(f"{what}: expected {want}, got {first[:80]!r}")


async def _answer(reader: asyncio.StreamReader, what: str, want: str, skip: str = "") -> None:
    """One IMAP/POP3 line that must start with ``want``; lines starting with ``skip`` (IMAP
    untagged responses) come first."""
    line = await _line(reader, what)
    while skip and line.startswith(skip) and not line.startswith(want):
        line = await _line(reader, what)
    if not line.startswith(want):
        raise StartTlsRefused(f"{what}: expected {want!r}, got {line[:80]!r}")


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _reply(reader, "smtp greeting", "220")
    local = ipaddress.ip_address(str(writer.get_extra_info("sockname")[0]).split("%", 1)[0])
    literal = f"IPv6:{local}" if local.version == 6 else str(local)
    writer.write(f"EHLO [{literal}]\r\n".encode())
    await _reply(reader, "smtp EHLO", "250")
    writer.write(b"STARTTLS\r\n")
    await _reply(reader, "smtp STARTTLS", "220")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _answer(reader, "imap greeting", "* OK")
    writer.write(b"a001 STARTTLS\r\n")
    await _answer(reader, "imap STARTTLS", "a001 OK", skip="* ")


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _answer(reader, "pop3 greeting", "+OK")
    writer.write(b"STLS\r\n")
    await _answer(reader, "pop3 STLS", "+OK")


async def _ftp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _reply(reader, "ftp greeting", "220")
    writer.write(b"AUTH TLS\r\n")
    await _reply(reader, "ftp AUTH TLS", "234")


STARTTLS: dict[str, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]] = {
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
    "ftp": _ftp,
}
_NAMES = ", ".join(STARTTLS)
