"""Per-check phase timing: DNS, TCP connect, TLS handshake and first byte, measured by a timed
resolver, connector and SSL object that report to the check's current ``PhaseRecorder``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.helpers import is_ip_address
from aiohttp.resolver import DefaultResolver
from aiohttp.tracing import Trace

from statpulse.model import Phases
from statpulse.security.egress import EgressPolicy, parse_address


def elapsed_ms(since: float) -> float:
    """Milliseconds from ``since`` (a ``time.perf_counter()`` value) to now."""
    return (perf_counter() - since) * 1000.0


@dataclass(slots=True)
class PhaseRecorder:
    """Per-check timings, filled in while the check runs.

    Durations sum over every connection the check opens (one per redirect hop), as
    blackbox_exporter does; ``ip`` is the peer of the last connection. ``stage`` names what the
    check was doing, for timeout messages.
    """

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None
    ip: str | None = None
    ssl_object: ssl.SSLObject | None = None  # of the last connection, for TLS facts
    connected: bool = False
    stage: str = "connecting"

    def add_dns(self, ms: float) -> None:
        self.dns_ms = (self.dns_ms or 0.0) + ms

    def add_connection(
        self, transport: asyncio.BaseTransport | None, create_ms: float, dns_ms: float
    ) -> None:
        """Record one established connection that took ``create_ms`` incl. ``dns_ms`` of DNS."""
        tls_ms: float | None = None
        peer: object = None
        if transport is not None:
            ssl_object = transport.get_extra_info("ssl_object")
            if isinstance(ssl_object, _TimedSSLObject):
                tls_ms = ssl_object.handshake_ms()
                self.ssl_object = ssl_object
            peer = transport.get_extra_info("peername")
        if tls_ms is not None:
            self.tls_ms = (self.tls_ms or 0.0) + tls_ms
        self.connect_ms = (self.connect_ms or 0.0) + max(0.0, create_ms - dns_ms - (tls_ms or 0.0))
        if isinstance(peer, tuple) and peer:
            self.ip = str(peer[0])
        self.connected = True

    def phases(self) -> Phases:
        return Phases(
            dns_ms=self.dns_ms,
            connect_ms=self.connect_ms,
            tls_ms=self.tls_ms,
            first_byte_ms=self.first_byte_ms,
        )


# The recorder of the check running in the current task. aiohttp resolves and connects inside
# the task that awaits ``session.request``, so the resolver and connector below find it here.
_recorder: ContextVar[PhaseRecorder | None] = ContextVar("statpulse_phase_recorder", default=None)


@contextlib.contextmanager
def recording() -> Iterator[PhaseRecorder]:
    """Make a fresh PhaseRecorder the current one for the duration of the block."""
    recorder = PhaseRecorder()
    token = _recorder.set(recorder)
    try:
        yield recorder
    finally:
        _recorder.reset(token)


class _TimedSSLObject(ssl.SSLObject):
    """Notes when its TLS handshake starts and completes.

    asyncio and uvloop both run TLS through ``SSLContext.wrap_bio``, which builds instances of
    ``SSLContext.sslobject_class``; the first ``do_handshake`` call comes right after the TCP
    connection is made, so this splits aiohttp's single connect call into TCP and TLS.
    """

    _started: float | None = None
    _finished: float | None = None

    def do_handshake(self) -> None:
        if self._started is None:
            self._started = perf_counter()
        super().do_handshake()  # raises SSLWantReadError until the handshake is done
        self._finished = perf_counter()

    def handshake_ms(self) -> float | None:
        if self._started is None or self._finished is None:
            return None
        return (self._finished - self._started) * 1000.0


class TimedResolver(AbstractResolver):
    """aiohttp's default resolver, timed into the current PhaseRecorder, keeping only the
    addresses the egress policy allows (aiohttp then connects to exactly those). Names only:
    aiohttp never calls the resolver for a literal IP (``TimedConnector`` checks those)."""

    def __init__(self, egress: EgressPolicy) -> None:
        self._inner = DefaultResolver()
        self._egress = egress

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        recorder = _recorder.get()
        if recorder is not None:
            recorder.stage = "resolving the host name"
        started = perf_counter()
        try:
            results = await self._inner.resolve(host, port, family)
        finally:
            if recorder is not None:
                recorder.add_dns(elapsed_ms(started))
                recorder.stage = "connecting"
        if not self._egress.enabled:
            return results
        allowed = [r for r in results if self._egress.denied_by(parse_address(r["host"])) is None]
        if not allowed and results:
            self._egress.check(host, results[0]["host"])  # raises EgressDenied
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector that reports each new connection (duration, peer, TLS handshake) to the
    current PhaseRecorder, and checks literal IP hosts against the egress policy (names are
    checked by ``TimedResolver``). Every redirect hop opens a new connection through here, so
    each hop is checked. ``_create_connection`` is the hook aiohttp's own connectors override."""

    def __init__(self, *, egress: EgressPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._egress = egress

    async def _create_connection(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature
    ) -> ResponseHandler:
        host = req.url.raw_host or ""
        if self._egress.enabled and is_ip_address(host):
            # aiohttp's is_ip_address also says yes to numeric forms such as 2130706433 or
            # 127.1, which it then hands to getaddrinfo: check what getaddrinfo makes of them.
            try:
                self._egress.check(host, host)
            except ValueError:
                await self._egress.resolve(host, req.url.port or 0)
        recorder = _recorder.get()
        if recorder is None:
            return await super()._create_connection(req, traces, timeout)
        recorder.stage = "connecting"
        dns_before = recorder.dns_ms or 0.0
        started = perf_counter()
        proto = await super()._create_connection(req, traces, timeout)
        create_ms = elapsed_ms(started)
        recorder.add_connection(proto.transport, create_ms, (recorder.dns_ms or 0.0) - dns_before)
        recorder.stage = "waiting for the response"
        return proto


def tls_context(*, verify: bool) -> ssl.SSLContext:
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    context.sslobject_class = _TimedSSLObject
    return context
