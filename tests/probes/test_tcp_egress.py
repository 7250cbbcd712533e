"""The tcp probe under the egress guard, against real listeners on loopback.

A denied address must never be connected to: each listener counts the connections it accepted.
Non-loopback targets (169.254.169.254 ...) appear only where the guard refuses them before any
connect, with a short timeout so a guard bug fails fast instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from statpulse.model import ErrorClass
from statpulse.probes import ProbeContext, probe_tcp
from statpulse.security.egress import EgressPolicy

from .conftest import SpecFactory


@dataclass
class CountingListener:
    """A TCP server that counts the connections it accepted and closes each at once."""

    host: str
    port: int
    accepted: int = 0

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


ListenerFactory = Callable[[str], Awaitable[CountingListener]]


@pytest.fixture
async def start_listener() -> AsyncIterator[ListenerFactory]:
    """``await start_listener(host)``: a CountingListener on ``host`` (a loopback address)."""
    servers: list[asyncio.Server] = []

    async def start(host: str) -> CountingListener:
        listener = CountingListener(host=host, port=0)

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            listener.accepted += 1
            writer.close()

        server = await asyncio.start_server(accept, host, 0)
        servers.append(server)
        listener.port = server.sockets[0].getsockname()[1]
        return listener

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def listener(start_listener: ListenerFactory) -> CountingListener:
    return await start_listener("127.0.0.1")


@pytest.fixture
async def guarded_ctx() -> AsyncIterator[ProbeContext]:
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        yield ctx


@pytest.fixture
async def allow_local_ctx() -> AsyncIterator[ProbeContext]:
    """Guarded, with an operator's exception for 127.0.0.1 only."""
    async with ProbeContext(egress=EgressPolicy.guarded(allow=["127.0.0.1/32"])) as ctx:
        yield ctx


async def test_guarded_tcp_probe_to_loopback_is_blocked(
    guarded_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory
) -> None:
    obs = await probe_tcp(make_spec(f"127.0.0.1:{listener.port}", kind="tcp"), guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert obs.error_message == (
        "blocked by the egress policy: 127.0.0.1, in the denied range 127.0.0.0/8"
    )
    assert not obs.connected
    assert obs.ip is None
    assert obs.phases.connect_ms is None


async def test_guarded_tcp_probe_to_loopback_never_connects(
    guarded_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory
) -> None:
    await probe_tcp(make_spec(f"127.0.0.1:{listener.port}", kind="tcp"), guarded_ctx)

    assert await listener.settled_count() == 0


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "2130706433",
        "017700000001",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "0x7f.1",
        "0",
        "0.0.0.0",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[::127.0.0.1]",
        "[::1]",
    ],
)
async def test_guarded_tcp_probe_to_encoded_loopback_is_blocked_without_connecting(
    guarded_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory, host: str
) -> None:
    spec = make_spec(f"{host}:{listener.port}", kind="tcp", timeout_s=1.0)

    obs = await probe_tcp(spec, guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED, obs.error_message
    assert not obs.connected
    assert await listener.settled_count() == 0


async def test_guarded_tcp_probe_of_localhost_times_the_lookup(
    guarded_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory
) -> None:
    obs = await probe_tcp(make_spec(f"localhost:{listener.port}", kind="tcp"), guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert obs.error_message is not None
    assert obs.error_message.startswith("blocked by the egress policy: localhost resolves to ")
    assert obs.phases.dns_ms is not None


@pytest.mark.parametrize(
    "target", ["169.254.169.254:80", "10.0.0.1:22", "100.100.100.200:80", "[fd00:ec2::254]:80"]
)
async def test_guarded_tcp_probe_to_internal_address_is_blocked_before_connecting(
    guarded_ctx: ProbeContext, make_spec: SpecFactory, target: str
) -> None:
    obs = await probe_tcp(make_spec(target, kind="tcp", timeout_s=0.5), guarded_ctx)

    assert obs.error_class is ErrorClass.BLOCKED, obs.error_message
    assert not obs.connected


async def test_allow_list_exception_lets_the_tcp_probe_connect(
    allow_local_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory
) -> None:
    obs = await probe_tcp(make_spec(f"127.0.0.1:{listener.port}", kind="tcp"), allow_local_ctx)

    assert obs.connected
    assert obs.error_class is None
    assert obs.ip == "127.0.0.1"
    assert await listener.settled_count() == 1


async def test_allow_list_exception_lets_the_tcp_probe_connect_by_name(
    allow_local_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory
) -> None:
    obs = await probe_tcp(make_spec(f"localhost:{listener.port}", kind="tcp"), allow_local_ctx)

    assert obs.connected
    assert obs.ip == "127.0.0.1"
    assert obs.phases.dns_ms is not None


async def test_allow_list_exception_does_not_cover_the_rest_of_loopback(
    allow_local_ctx: ProbeContext, start_listener: ListenerFactory, make_spec: SpecFactory
) -> None:
    other = await start_listener("127.0.0.2")

    obs = await probe_tcp(make_spec(f"127.0.0.2:{other.port}", kind="tcp"), allow_local_ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert await other.settled_count() == 0


async def test_allow_list_exception_does_not_cover_the_ipv4_mapped_form(
    allow_local_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory
) -> None:
    spec = make_spec(f"[::ffff:127.0.0.1]:{listener.port}", kind="tcp")

    obs = await probe_tcp(spec, allow_local_ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert await listener.settled_count() == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_open_policy_tcp_probe_reaches_loopback(
    probe_ctx: ProbeContext, listener: CountingListener, make_spec: SpecFactory, host: str
) -> None:
    assert not probe_ctx.egress.enabled

    obs = await probe_tcp(make_spec(f"{host}:{listener.port}", kind="tcp"), probe_ctx)

    assert obs.connected
    assert obs.error_class is None
    assert await listener.settled_count() == 1
