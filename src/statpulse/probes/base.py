"""What every probe shares: the ``Probe`` signature, the long-lived ``ProbeContext``, per-check
phase timing, and the one place where library exceptions become an ``ErrorClass``.

A probe never raises for a failing target: it returns an ``Observation`` with ``error_class``
set (see ``failure``). Only ``asyncio.CancelledError`` propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from time import perf_counter
from types import TracebackType
from typing import Protocol, Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.client_proto import ResponseHandler
from aiohttp.client_reqrep import ClientRequest
from aiohttp.resolver import DefaultResolver
from aiohttp.tracing import Trace

from statpulse import __version__
from statpulse.model import CheckSpec, ErrorClass, Observation, Phases

log = logging.getLogger(__name__)

DEFAULT_BODY_CAP = 1024 * 1024
USER_AGENT = f"StatPulse/{__version__}"


class Probe(Protocol):
    """One check of one target. Returns an Observation; raises only CancelledError."""

    async def __call__(self, spec: CheckSpec, ctx: ProbeContext) -> Observation: ...


# --- phase timing --------------------------------------------------------------------------------


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


class _TimedResolver(AbstractResolver):
    """aiohttp's default resolver, timed into the current PhaseRecorder (names only: aiohttp
    never calls the resolver for a literal IP)."""

    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        recorder = _recorder.get()
        if recorder is not None:
            recorder.stage = "resolving the host name"
        started = perf_counter()
        try:
            return await self._inner.resolve(host, port, family)
        finally:
            if recorder is not None:
                recorder.add_dns(elapsed_ms(started))
                recorder.stage = "connecting"

    async def close(self) -> None:
        await self._inner.close()


class _TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector that reports each new connection (duration, peer, TLS handshake) to the
    current PhaseRecorder. ``_create_connection`` is the hook aiohttp's own connectors override."""

    async def _create_connection(
        self,
        req: ClientRequest,
        traces: list[Trace],
        timeout: aiohttp.ClientTimeout,  # noqa: ASYNC109 - aiohttp's signature
    ) -> ResponseHandler:
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


# --- shared resources ----------------------------------------------------------------------------


def _tls_context(*, verify: bool) -> ssl.SSLContext:
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    context.sslobject_class = _TimedSSLObject
    return context


class ProbeContext:
    """Shared, long-lived resources for probes (one per runner).

    Owns the aiohttp ClientSession (created on first use, inside the running loop) and closes
    it: use as ``async with ProbeContext() as ctx:`` or call ``await ctx.close()``.

    The session opens a fresh connection for every request (``force_close``), so every check
    measures DNS, connect and TLS; it keeps no cookies, ignores proxy environment variables,
    and has no timeouts of its own (each probe enforces ``spec.timeout_s``).
    ``body_cap``: bytes of response body kept per check; the rest is never read.
    """

    def __init__(self, *, body_cap: int = DEFAULT_BODY_CAP) -> None:
        self.body_cap = body_cap
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # Loading the CA store is blocking I/O: do it once, here, not per check.
        self._tls_verified = _tls_context(verify=True)
        self._tls_unverified = _tls_context(verify=False)

    def tls(self, *, verify: bool) -> ssl.SSLContext:
        """The SSL context for a check: verifying certificates and host names, or not at all."""
        return self._tls_verified if verify else self._tls_unverified

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared HTTP session. Raises RuntimeError once the context is closed."""
        if self._closed:
            raise RuntimeError("ProbeContext is closed")
        if self._session is None:
            connector = _TimedConnector(
                force_close=True,
                limit=0,  # the runner bounds work in flight
                use_dns_cache=False,  # a monitor resolves on every check
                resolver=_TimedResolver(),
                ssl=self._tls_verified,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),
                timeout=aiohttp.ClientTimeout(),
                headers={"User-Agent": USER_AGENT},
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        """Close the session and its connections. Idempotent."""
        self._closed = True
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# --- error translation ---------------------------------------------------------------------------


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(text: str) -> str:
    return text[:1].lower() + text[1:]


def _os_reason(err: BaseException) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('127.0.0.1', 9)"."""
    errno = getattr(err, "errno", None)
    if isinstance(errno, int) and errno > 0:
        return _sentence(os.strerror(errno))
    strerror = getattr(err, "strerror", None)
    return _sentence(str(strerror or err or type(err).__name__))


def translate_error(exc: Exception, timeout_s: float, stage: str) -> tuple[ErrorClass, str]:
    """Map an exception raised while probing to an error class and a short human message.

    ``stage`` says what the check was doing, for timeout messages. Unknown exceptions map to
    ``ErrorClass.INTERNAL`` with the exception type in the message. Never raises.
    """
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return ErrorClass.TIMEOUT, f"timed out after {float(timeout_s)} s while {stage}"

    cause: BaseException = exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
    elif isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error

    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = cause.verify_message or cause.reason or str(cause)
        return ErrorClass.TLS, _short(f"certificate verify failed: {reason}")
    if isinstance(cause, ssl.CertificateError):
        return ErrorClass.TLS, _short(f"certificate verify failed: {cause}")
    if isinstance(cause, ssl.SSLError):
        reason = (cause.reason or "").replace("_", " ").lower() or str(cause)
        return ErrorClass.TLS, _short(f"TLS handshake failed: {reason}")
    if isinstance(exc, aiohttp.ServerFingerprintMismatch):
        return ErrorClass.TLS, "certificate fingerprint mismatch"

    if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(cause, socket.gaierror):
        reason = _sentence(str(getattr(cause, "strerror", None) or cause))
        host = exc.host if isinstance(exc, aiohttp.ClientConnectorError) else None
        where = f" for {host}" if host else ""
        return ErrorClass.DNS, _short(f"DNS lookup failed{where}: {reason}")

    if isinstance(exc, aiohttp.TooManyRedirects):
        return ErrorClass.PROTOCOL, "too many redirects"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return ErrorClass.PROTOCOL, _short(f"redirect to a non-HTTP URL: {exc}")
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError):
        return ErrorClass.PROTOCOL, _short(f"redirect to an invalid URL: {exc}")
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return ErrorClass.PROTOCOL, _short(f"not an http(s) URL: {exc}")
    if isinstance(exc, aiohttp.InvalidURL):
        return ErrorClass.PROTOCOL, _short(f"invalid URL: {exc}")

    if isinstance(exc, aiohttp.ClientConnectorError):
        return ErrorClass.CONNECT, _short(_os_reason(cause))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ErrorClass.PROTOCOL, "server closed the connection without a response"
    if isinstance(exc, aiohttp.ClientResponseError):
        return ErrorClass.PROTOCOL, _short(f"invalid HTTP response: {exc.message}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ErrorClass.PROTOCOL, _short(f"invalid response body: {exc}")
    if isinstance(exc, OSError):  # includes aiohttp.ClientOSError, e.g. reset mid-response
        return ErrorClass.CONNECT, _short(_os_reason(exc))
    if isinstance(exc, aiohttp.ClientError):
        return ErrorClass.PROTOCOL, _short(str(exc) or type(exc).__name__)

    log.warning("unexpected exception in probe", exc_info=exc)
    return ErrorClass.INTERNAL, _short(f"{type(exc).__name__}: {exc}")


def failure(
    exc: Exception,
    *,
    timeout_s: float,
    started: float,
    recorder: PhaseRecorder,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Observation:
    """The Observation of a check that failed with ``exc``, keeping whatever it measured."""
    error_class, message = translate_error(exc, timeout_s, recorder.stage)
    return Observation(
        connected=recorder.connected,
        latency_ms=elapsed_ms(started),
        phases=recorder.phases(),
        status_code=status_code,
        headers=headers if headers is not None else {},
        ip=recorder.ip,
        error_class=error_class,
        error_message=message,
    )
