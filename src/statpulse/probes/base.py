"""What every probe shares: the ``Probe`` signature and the long-lived ``ProbeContext``.
Phase timing lives in ``timing``, exception translation in ``errors``.

A probe never raises for a failing target: it returns an ``Observation`` with ``error_class``
set (see ``failure``). Only ``asyncio.CancelledError`` propagates.
"""

from __future__ import annotations

import ssl
from types import TracebackType
from typing import Protocol, Self

import aiohttp

from statpulse import __version__
from statpulse.model import CheckSpec, Observation
from statpulse.probes.timing import TimedConnector, TimedResolver, tls_context
from statpulse.probes.tlscontexts import TlsContextCache
from statpulse.security.egress import EgressPolicy

DEFAULT_BODY_CAP = 1024 * 1024
USER_AGENT = f"StatPulse/{__version__}"


class Probe(Protocol):
    """One check of one target. Returns an Observation; raises only CancelledError."""

    async def __call__(self, spec: CheckSpec, ctx: ProbeContext) -> Observation: ...


class ProbeContext:
    """Shared, long-lived resources for probes (one per runner).

    Owns the aiohttp ClientSession (created on first use, inside the running loop) and closes
    it: use as ``async with ProbeContext() as ctx:`` or call ``await ctx.close()``.

    The session opens a fresh connection for every request (``force_close``), so every check
    measures DNS, connect and TLS; it keeps no cookies, ignores proxy environment variables,
    and has no timeouts of its own (each probe enforces ``spec.timeout_s``).
    ``body_cap``: bytes of response body kept per check; the rest is never read.
    ``egress``: the policy every outbound connection is checked against (default: open).
    """

    def __init__(
        self, *, body_cap: int = DEFAULT_BODY_CAP, egress: EgressPolicy | None = None
    ) -> None:
        self.body_cap = body_cap
        self.egress = egress if egress is not None else EgressPolicy.open()
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        # Loading the CA store is blocking I/O: do it once, here, not per check.
        self._tls_verified = tls_context(verify=True)
        self._tls_unverified = tls_context(verify=False)
        self._custom_tls = TlsContextCache()

    def tls(
        self,
        *,
        verify: bool,
        ca_cert: str | None = None,
        client_cert: str | None = None,
        client_key: str | None = None,
    ) -> ssl.SSLContext:
        """The SSL context for a check: verifying certificates and host names, or not at all;
        ``ca_cert`` (PEM) adds trusted CAs, ``client_cert``/``client_key`` (PEM) present a
        client certificate. Contexts with PEM material are built once and cached.
        Raises ``ssl.SSLError`` or ValueError for unusable PEM."""
        if ca_cert is None and client_cert is None:
            return self._tls_verified if verify else self._tls_unverified
        return self._custom_tls.get(verify, ca_cert, client_cert, client_key)

    @property
    def http(self) -> aiohttp.ClientSession:
        """The shared HTTP session. Raises RuntimeError once the context is closed."""
        if self._closed:
            raise RuntimeError("ProbeContext is closed")
        if self._session is None:
            connector = TimedConnector(
                force_close=True,
                limit=0,  # the runner bounds work in flight
                use_dns_cache=False,  # a monitor resolves on every check
                resolver=TimedResolver(self.egress),
                egress=self.egress,
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
