"""The ``tcp`` probe: can a TCP connection to host:port be opened?"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from time import perf_counter

import aiohappyeyeballs
from aiohappyeyeballs import AddrInfoType

from statpulse.model import CheckSpec, ErrorClass, Observation
from statpulse.probes.base import ProbeContext
from statpulse.probes.errors import failure
from statpulse.probes.timing import PhaseRecorder, elapsed_ms, recording
from statpulse.security.egress import EgressPolicy

# As aiohttp does: on a dual-stack host, try the next address family after 250 ms (RFC 8305).
HAPPY_EYEBALLS_DELAY_S = 0.25
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


async def probe_tcp(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """Open a TCP connection to ``spec.target`` ("host:port" or "[v6]:port"), then close it.

    Returns an Observation, never raises (except ``asyncio.CancelledError``):
    ``connected=True`` when the connection opened; otherwise ``ErrorClass.DNS`` (name does not
    resolve), ``CONNECT`` (refused, unreachable), ``TIMEOUT`` (``spec.timeout_s`` passed), or
    ``PROTOCOL`` "invalid target '...': expected host:port" for a malformed target.
    Phases: ``dns_ms`` when a name had to be resolved, ``connect_ms`` for the TCP handshake.

    Connects a bare socket (the same happy-eyeballs path aiohttp uses) rather than
    ``asyncio.open_connection``: no transport or stream objects are needed just to close them.
    """
    try:
        host, port = parse_host_port(spec.target)
    except ValueError:
        return Observation(
            connected=False,
            latency_ms=None,
            error_class=ErrorClass.PROTOCOL,
            error_message=f"invalid target {spec.target!r}: expected host:port",
        )
    started = perf_counter()
    with recording() as recorder:
        try:
            async with asyncio.timeout(spec.timeout_s):
                addr_infos = await _resolve(host, port, recorder, ctx.egress)
                recorder.stage = "connecting"
                connect_started = perf_counter()
                sock = await aiohappyeyeballs.start_connection(
                    addr_infos, happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S
                )
                # No await from here on: the socket cannot leak to a cancellation.
                with sock:
                    recorder.connect_ms = elapsed_ms(connect_started)
                    recorder.connected = True
                    recorder.ip = str(sock.getpeername()[0])
        except Exception as exc:
            return failure(exc, timeout_s=spec.timeout_s, started=started, recorder=recorder)
        return Observation(
            connected=True,
            latency_ms=elapsed_ms(started),
            phases=recorder.phases(),
            ip=recorder.ip,
        )


async def _resolve(
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
