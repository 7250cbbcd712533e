"""The http probe under the egress guard, against real servers on loopback.

A denied address must never be connected to: the conftest server records every request, and
the raw servers here count every connection they accept. Non-loopback targets (169.254.169.254)
appear only where the guard refuses them before any connect, with a short timeout so a guard bug
fails fast instead of hanging.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest
from aiohttp.abc import ResolveResult

from statpulse.model import ErrorClass
from statpulse.probes import ProbeContext, probe_http
from statpulse.probes import timing as timing_module
from statpulse.security.egress import EgressPolicy

from .conftest import LocalServer, SpecFactory

BLOCKED_PREFIX = "blocked by the egress policy: "


@dataclass
class RawServer:
    """An HTTP/1.1 server that answers every request with one canned response and counts the
    connections it accepted (a connection counts even when no request is sent on it)."""

    host: str
    port: int
    accepted: int = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def settled_count(self) -> int:
        """Connections accepted before this call: connects once more and waits for that one to
        be counted too, so an earlier connection still in the accept queue is not missed."""
        before = self.accepted
        _, writer = await asyncio.open_connection(self.host, self.port)
        writer.close()
        await writer.wait_closed()
        async with asyncio.timeout(5):
            while self.accepted <= before:
                await asyncio.sleep(0.005)
        return self.accepted - 1


RawServerFactory = Callable[..., Awaitable[RawServer]]


@pytest.fixture
async def start_raw_server() -> AsyncIterator[RawServerFactory]:
    """``await start_raw_server(host, location=None)``: a RawServer on ``host`` (a loopback
    address) answering 200 "ok", or 302 to ``location`` when given."""
    servers: list[asyncio.Server] = []

    async def start(host: str, location: str | None = None) -> RawServer:
        raw = RawServer(host=host, port=0)
        if location is None:
            response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        else:
            response = (
                f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n"
                "Content-Length: 0\r\nConnection: close\r\n\r\n"
            ).encode()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            raw.accepted += 1
            try:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(response)
                await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, host, 0)
        servers.append(server)
        raw.port = server.sockets[0].getsockname()[1]
        return raw

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def guarded_ctx() -> AsyncIterator[ProbeContext]:
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        yield ctx


@pytest.fixture
async def allow_local_ctx() -> AsyncIterator[ProbeContext]:
    """Guarded, with an operator's exception for 127.0.0.1 only."""
    async with ProbeContext(egress=EgressPolicy.guarded(allow=["127.0.0.1/32"])) as ctx:
        yield ctx


# Hosts that reach the conftest server (127.0.0.1) when nothing stops them.
ENCODED_LOOPBACK_HOSTS = [
    "127.0.0.1",
    "0x7f000001",
    "0x7f.1",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::127.0.0.1]",
    "[::1]",
    "0.0.0.0",
    "localhost",
    "2130706433",
    "017700000001",
    "0177.0.0.1",
    "127.1",
    "0",
]


# --- direct requests ------------------------------------------------------------------------


async def test_guarded_request_to_loopback_is_blocked(
    guarded_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/ok", timeout_s=1.0), guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert obs.error_message == (f"{BLOCKED_PREFIX}127.0.0.1, in the denied range 127.0.0.0/8")
    assert not obs.connected
    assert obs.status_code is None
    assert obs.ip is None
    assert obs.phases.connect_ms is None
    assert http_server.requests == []


@pytest.mark.parametrize(
    "host",
    ENCODED_LOOPBACK_HOSTS,
)
async def test_guarded_request_to_encoded_loopback_host_is_blocked(
    guarded_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory, host: str
) -> None:
    spec = make_spec(f"http://{host}:{http_server.port}/ok", timeout_s=1.0)

    obs = await probe_http(spec, guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED, obs.error_message
    assert obs.error_message is not None
    assert obs.error_message.startswith(BLOCKED_PREFIX)
    assert not obs.connected


@pytest.mark.parametrize("host", ENCODED_LOOPBACK_HOSTS)
async def test_guarded_request_to_encoded_loopback_host_never_reaches_the_server(
    guarded_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory, host: str
) -> None:
    spec = make_spec(f"http://{host}:{http_server.port}/ok", timeout_s=1.0)

    obs = await probe_http(spec, guarded_ctx)

    assert not obs.connected
    assert obs.status_code is None
    assert http_server.requests == []
    assert not http_server.hits


async def test_guarded_request_to_localhost_names_the_host_and_times_the_lookup(
    guarded_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    spec = make_spec(f"http://localhost:{http_server.port}/ok", timeout_s=1.0)

    obs = await probe_http(spec, guarded_ctx)

    assert obs.error_message == (
        f"{BLOCKED_PREFIX}localhost resolves to 127.0.0.1, in the denied range 127.0.0.0/8"
    )
    assert obs.phases.dns_ms is not None


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/"]
)
async def test_guarded_request_to_cloud_metadata_is_blocked_before_connecting(
    guarded_ctx: ProbeContext, make_spec: SpecFactory, url: str
) -> None:
    obs = await probe_http(make_spec(url, timeout_s=0.5), guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED, obs.error_message
    assert not obs.connected


async def test_allow_list_exception_lets_the_request_through(
    allow_local_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/ok"), allow_local_ctx)

    assert obs.error_class is None
    assert obs.status_code == 200
    assert obs.body == b"hello"
    assert obs.ip == "127.0.0.1"
    assert http_server.hits["/ok"] == 1


async def test_allow_list_exception_lets_a_request_by_name_through(
    allow_local_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"http://localhost:{http_server.port}/ok"), allow_local_ctx)

    assert obs.status_code == 200
    assert obs.phases.dns_ms is not None
    assert http_server.hits["/ok"] == 1


async def test_allow_list_exception_does_not_cover_the_rest_of_loopback(
    allow_local_ctx: ProbeContext, start_raw_server: RawServerFactory, make_spec: SpecFactory
) -> None:
    other = await start_raw_server("127.0.0.2")

    obs = await probe_http(make_spec(f"{other.url}/", timeout_s=1.0), allow_local_ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert await other.settled_count() == 0


async def test_allow_list_exception_lets_redirects_within_it_through(
    allow_local_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/redirect/2"), allow_local_ctx)

    assert obs.status_code == 200
    assert obs.body == b"arrived"
    assert len(obs.redirects) == 2


# --- redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target_host",
    [
        "127.0.0.2",
        "0x7f000002",
        "[::ffff:127.0.0.2]",
        "2130706434",
        "127.2",
    ],
)
async def test_redirect_into_a_denied_address_is_blocked(
    allow_local_ctx: ProbeContext,
    start_raw_server: RawServerFactory,
    make_spec: SpecFactory,
    target_host: str,
) -> None:
    target = await start_raw_server("127.0.0.2")
    redirector = await start_raw_server("127.0.0.1", f"http://{target_host}:{target.port}/")

    obs = await probe_http(make_spec(f"{redirector.url}/start", timeout_s=1.0), allow_local_ctx)

    assert obs.error_class is ErrorClass.BLOCKED, obs.error_message
    assert obs.error_message is not None
    assert "127.0.0.2" in obs.error_message or "7f00:2" in obs.error_message


@pytest.mark.parametrize(
    "target_host", ["127.0.0.2", "0x7f000002", "[::ffff:127.0.0.2]", "2130706434", "127.2"]
)
async def test_redirect_into_a_denied_address_never_reaches_it(
    allow_local_ctx: ProbeContext,
    start_raw_server: RawServerFactory,
    make_spec: SpecFactory,
    target_host: str,
) -> None:
    target = await start_raw_server("127.0.0.2")
    redirector = await start_raw_server("127.0.0.1", f"http://{target_host}:{target.port}/")

    obs = await probe_http(make_spec(f"{redirector.url}/start", timeout_s=1.0), allow_local_ctx)

    assert obs.status_code is None
    assert await redirector.settled_count() == 1
    assert await target.settled_count() == 0


async def test_redirect_to_cloud_metadata_is_blocked_quickly(
    allow_local_ctx: ProbeContext, start_raw_server: RawServerFactory, make_spec: SpecFactory
) -> None:
    redirector = await start_raw_server("127.0.0.1", "http://169.254.169.254/latest/meta-data/")

    obs = await probe_http(make_spec(f"{redirector.url}/start", timeout_s=0.5), allow_local_ctx)

    assert obs.error_class is ErrorClass.BLOCKED, obs.error_message
    assert obs.error_message == (
        f"{BLOCKED_PREFIX}169.254.169.254, in the denied range 169.254.0.0/16"
    )
    assert obs.latency_ms is not None
    assert obs.latency_ms < 500


async def test_redirect_is_not_followed_when_redirects_are_off(
    allow_local_ctx: ProbeContext, start_raw_server: RawServerFactory, make_spec: SpecFactory
) -> None:
    redirector = await start_raw_server("127.0.0.1", "http://169.254.169.254/latest/meta-data/")
    spec = make_spec(f"{redirector.url}/start", timeout_s=0.5, follow_redirects=False)

    obs = await probe_http(spec, allow_local_ctx)

    assert obs.error_class is None
    assert obs.status_code == 302


# --- names resolving to a mix of addresses --------------------------------------------------


class _FixedResolver:
    """Stands in for aiohttp's DefaultResolver: every name resolves to ``answer``."""

    answer: list[tuple[str, int]] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=answer_port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address, answer_port in self.answer
        ]

    async def close(self) -> None:
        pass


@pytest.fixture
def fixed_resolver(monkeypatch: pytest.MonkeyPatch) -> type[_FixedResolver]:
    """Makes ProbeContexts created afterwards resolve every name to ``_FixedResolver.answer``."""
    monkeypatch.setattr(timing_module, "DefaultResolver", _FixedResolver)
    monkeypatch.setattr(_FixedResolver, "answer", [])
    return _FixedResolver


async def test_name_resolving_to_a_mix_connects_only_to_the_allowed_address(
    fixed_resolver: type[_FixedResolver],
    http_server: LocalServer,
    start_raw_server: RawServerFactory,
    make_spec: SpecFactory,
) -> None:
    denied = await start_raw_server("127.0.0.2")
    fixed_resolver.answer = [("127.0.0.2", denied.port), ("127.0.0.1", http_server.port)]

    async with ProbeContext(egress=EgressPolicy.guarded(allow=["127.0.0.1/32"])) as ctx:
        obs = await probe_http(make_spec("http://mixed.test/ok", timeout_s=1.0), ctx)

    assert obs.status_code == 200
    assert obs.ip == "127.0.0.1"
    assert http_server.hits["/ok"] == 1
    assert await denied.settled_count() == 0


async def test_name_resolving_only_to_denied_addresses_is_blocked(
    fixed_resolver: type[_FixedResolver],
    start_raw_server: RawServerFactory,
    make_spec: SpecFactory,
) -> None:
    denied = await start_raw_server("127.0.0.2")
    fixed_resolver.answer = [("127.0.0.2", denied.port)]

    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        obs = await probe_http(make_spec("http://rebind.test/", timeout_s=1.0), ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert obs.error_message == (
        f"{BLOCKED_PREFIX}rebind.test resolves to 127.0.0.2, in the denied range 127.0.0.0/8"
    )
    assert await denied.settled_count() == 0


# --- the open policy (single-user default) --------------------------------------------------


@pytest.mark.parametrize("path", ["/ok", "/redirect/2"])
async def test_open_policy_reaches_loopback(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory, path: str
) -> None:
    assert not probe_ctx.egress.enabled

    obs = await probe_http(make_spec(f"{http_server.url}{path}"), probe_ctx)

    assert obs.error_class is None
    assert obs.status_code == 200


async def test_open_policy_reaches_loopback_by_name(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"http://localhost:{http_server.port}/ok"), probe_ctx)

    assert obs.status_code == 200
    assert http_server.hits["/ok"] == 1


async def test_open_policy_follows_a_redirect_to_another_loopback_address(
    probe_ctx: ProbeContext, start_raw_server: RawServerFactory, make_spec: SpecFactory
) -> None:
    target = await start_raw_server("127.0.0.2")
    redirector = await start_raw_server("127.0.0.1", f"{target.url}/")

    obs = await probe_http(make_spec(f"{redirector.url}/start"), probe_ctx)

    assert obs.error_class is None
    assert obs.status_code == 200
    assert obs.body == b"ok"
    assert obs.ip == "127.0.0.2"
    assert await target.settled_count() == 1
