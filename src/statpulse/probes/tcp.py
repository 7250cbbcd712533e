"""The ``tcp`` probe: can a TCP connection to host:port be opened, and does the service answer?

With ``spec.tcp`` options it also talks: TLS at once (``tls``) or after a STARTTLS exchange
(``starttls``: smtp, imap, pop3, ftp), then it sends ``send`` and reads until ``expect`` arrives.
The connection helpers live in ``connect`` (shared with the other probes), the STARTTLS
dialogues in ``starttls``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from time import perf_counter

from statpulse.model import CheckSpec, ErrorClass, Observation, TlsInfo
from statpulse.probes.base import ProbeContext
from statpulse.probes.certinfo import (
    chain_context,
    hostname_mismatch,
    unverified_context,
    verify_message,
)
from statpulse.probes.connect import (
    close_stream,
    connect,
    open_stream,
    rejected,
    resolve_target,
    session_facts,
    start_tls,
)
from statpulse.probes.errors import failure, translate_error
from statpulse.probes.starttls import STARTTLS, StartTlsRefused
from statpulse.probes.timing import elapsed_ms, recording

EXPECT_CAP = 64 * 1024  # at most this many bytes are read while waiting for ``expect``
NOT_VERIFIED = "not verified: verify_tls is off"
_NAMES = ", ".join(STARTTLS)


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
