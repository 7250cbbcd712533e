"""The tcp probe against real local sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.model import ErrorClass
from statpulse.probes import PROBES, ProbeContext, probe_tcp
from statpulse.probes.tcp import parse_host_port

from .conftest import SpecFactory


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, asyncio.Queue[bytes]]]:
    """A TCP server on 127.0.0.1: (port, queue of what each accepted connection sent)."""
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.put_nowait(await reader.read())
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], received


def test_tcp_is_registered() -> None:
    assert PROBES["tcp"] is probe_tcp


async def test_open_port_is_connected(
    probe_ctx: ProbeContext, listener: tuple[int, asyncio.Queue[bytes]], make_spec: SpecFactory
) -> None:
    port, _ = listener

    obs = await probe_tcp(make_spec(f"127.0.0.1:{port}", kind="tcp"), probe_ctx)

    assert obs.connected
    assert obs.error_class is None
    assert obs.ip == "127.0.0.1"
    assert obs.phases.dns_ms is None
    assert obs.phases.connect_ms is not None
    assert obs.latency_ms is not None


async def test_connection_is_closed_after_it_opens(
    probe_ctx: ProbeContext, listener: tuple[int, asyncio.Queue[bytes]], make_spec: SpecFactory
) -> None:
    port, received = listener

    await probe_tcp(make_spec(f"127.0.0.1:{port}", kind="tcp"), probe_ctx)

    async with asyncio.timeout(5):
        assert await received.get() == b""  # end of stream, nothing sent


async def test_host_name_is_resolved_and_timed(
    probe_ctx: ProbeContext, listener: tuple[int, asyncio.Queue[bytes]], make_spec: SpecFactory
) -> None:
    port, _ = listener

    obs = await probe_tcp(make_spec(f"localhost:{port}", kind="tcp"), probe_ctx)

    assert obs.connected
    assert obs.phases.dns_ms is not None


async def test_bracketed_ipv6_target_connects(
    probe_ctx: ProbeContext, make_spec: SpecFactory
) -> None:
    try:
        server = await asyncio.start_server(lambda r, w: w.close(), "::1", 0)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    async with server:
        port = server.sockets[0].getsockname()[1]
        obs = await probe_tcp(make_spec(f"[::1]:{port}", kind="tcp"), probe_ctx)

    assert obs.connected
    assert obs.ip == "::1"


async def test_refused_port_is_a_connect_error(
    probe_ctx: ProbeContext, refused_port: int, make_spec: SpecFactory
) -> None:
    obs = await probe_tcp(make_spec(f"127.0.0.1:{refused_port}", kind="tcp"), probe_ctx)

    assert not obs.connected
    assert obs.error_class is ErrorClass.CONNECT
    assert obs.error_message == "connection refused"


async def test_unresolvable_name_is_a_dns_error(
    probe_ctx: ProbeContext, make_spec: SpecFactory
) -> None:
    obs = await probe_tcp(make_spec("statpulse-test.invalid:443", kind="tcp"), probe_ctx)

    assert not obs.connected
    assert obs.error_class is ErrorClass.DNS
    assert obs.phases.dns_ms is not None


async def test_unanswered_connect_times_out(
    probe_ctx: ProbeContext, full_backlog_port: int, make_spec: SpecFactory
) -> None:
    spec = make_spec(f"127.0.0.1:{full_backlog_port}", kind="tcp", timeout_s=0.3)

    obs = await probe_tcp(spec, probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.3 s while connecting"


@pytest.mark.parametrize(
    "target", ["example.com", "example.com:", ":80", "example.com:http", "host:70000", "::1:80"]
)
async def test_malformed_target_is_a_protocol_error(
    probe_ctx: ProbeContext, make_spec: SpecFactory, target: str
) -> None:
    obs = await probe_tcp(make_spec(target, kind="tcp"), probe_ctx)

    assert not obs.connected
    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == f"invalid target {target!r}: expected host:port"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("db.internal:5432", ("db.internal", 5432)),
        ("10.0.0.1:22", ("10.0.0.1", 22)),
        ("[2001:db8::1]:443", ("2001:db8::1", 443)),
        ("[::1]:1", ("::1", 1)),
    ],
)
def test_target_splits_into_host_and_port(target: str, expected: tuple[str, int]) -> None:
    assert parse_host_port(target) == expected


@given(
    host=st.one_of(
        st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?(\.[a-z]{2,6}){0,2}", fullmatch=True),
        st.ip_addresses(v=4).map(str),
        st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
    ),
    port=st.integers(min_value=1, max_value=65535),
)
def test_any_host_and_port_round_trip(host: str, port: int) -> None:
    assert parse_host_port(f"{host}:{port}") == (host.strip("[]"), port)
