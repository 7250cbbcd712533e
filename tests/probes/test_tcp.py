"""The tcp probe against real local sockets."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from time import perf_counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from statpulse.model import CheckSpec, ErrorClass, TcpOptions
from statpulse.probes import PROBES, ProbeContext, probe_tcp
from statpulse.probes.tcp import NOT_VERIFIED, parse_host_port
from statpulse.security.egress import EgressPolicy

from .conftest import SpecFactory
from .tls_servers import (
    Handler,
    Issued,
    issue,
    make_ca,
    pong,
    serve,
    server_context,
    stall,
    starttls_handler,
)


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


# --- talking: send/expect, TLS, STARTTLS ------------------------------------------------------


def tcp_spec(target: str, *, timeout_s: float = 5.0, **tcp: Any) -> CheckSpec:
    return CheckSpec(
        monitor_id=uuid.uuid4(),
        kind="tcp",
        target=target,
        interval_s=60,
        timeout_s=timeout_s,
        tcp=TcpOptions(**tcp),
    )


@pytest.fixture
def ca() -> Issued:
    return make_ca()


@pytest.fixture
async def trusting_ctx(ca: Issued) -> AsyncIterator[ProbeContext]:
    async with ProbeContext() as ctx:
        ctx.tls(verify=True).load_verify_locations(cadata=ca.pem)
        yield ctx


def reply(answer: bytes) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(answer)
        await writer.drain()
        writer.close()

    return handle


@pytest.mark.parametrize(
    ("options", "body"),
    [
        ({"send": "PING\r\n", "expect": "PONG"}, b"PONG\r\n"),
        ({"send": "50494e470d0a", "expect": "504F4E47", "hex": True}, b"PONG\r\n"),
        ({"send": "50 49 4e 47 0d 0a", "expect": "504f4e47", "hex": True}, b"PONG\r\n"),
    ],
)
async def test_send_and_expect(
    probe_ctx: ProbeContext, options: dict[str, Any], body: bytes
) -> None:
    async with serve(pong) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", **options), probe_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.body == body
    assert obs.tls is None
    assert obs.phases.tls_ms is None


async def test_expect_alone_reads_a_banner(probe_ctx: ProbeContext) -> None:
    async with serve(reply(b"SSH-2.0-OpenSSH_9.6\r\n")) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", expect="SSH-2.0"), probe_ctx)

    assert obs.error_class is None
    assert obs.body == b"SSH-2.0-OpenSSH_9.6\r\n"


async def test_expect_not_received_is_an_assertion_with_the_bytes(
    probe_ctx: ProbeContext,
) -> None:
    async with serve(reply(b"NOPE \x00\xff\r\n")) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", expect="PONG"), probe_ctx)
        hexed = await probe_tcp(
            tcp_spec(f"127.0.0.1:{port}", expect="504f4e47", hex=True), probe_ctx
        )

    assert obs.connected
    assert obs.error_class is ErrorClass.ASSERTION
    assert obs.error_message == "expected 'PONG' not received; got 'NOPE \\x00\\xff\\r\\n'"
    assert obs.body == b"NOPE \x00\xff\r\n"
    assert hexed.error_message == "expected 0x504f4e47 not received; got 0x4e4f50452000ff0d0a"


async def test_peer_closing_at_once_is_an_assertion(probe_ctx: ProbeContext) -> None:
    async with serve(reply(b"")) as port:
        obs = await probe_tcp(
            tcp_spec(f"127.0.0.1:{port}", send="PING\r\n", expect="PONG"), probe_ctx
        )

    assert obs.error_class is ErrorClass.ASSERTION
    assert obs.error_message == "expected 'PONG' not received; got ''"
    assert obs.body == b""


async def test_expect_reads_at_most_64_kib(probe_ctx: ProbeContext) -> None:
    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"x" * 65536)
            await writer.drain()

    async with serve(flood) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", expect="DONE"), probe_ctx)

    assert obs.error_class is ErrorClass.ASSERTION
    assert len(obs.body) == 64 * 1024
    assert obs.error_message is not None
    assert obs.error_message.endswith("x…'")


async def test_body_is_capped_by_the_context() -> None:
    async with ProbeContext(body_cap=4) as ctx, serve(pong) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", send="PING\n", expect="PONG\r\n"), ctx)

    assert obs.error_class is None
    assert obs.body == b"PONG"


async def test_slow_dribble_honours_the_deadline(probe_ctx: ProbeContext) -> None:
    async def dribble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with serve(dribble) as port:
        started = perf_counter()
        spec = tcp_spec(f"127.0.0.1:{port}", expect="DONE", timeout_s=0.4)
        obs = await probe_tcp(spec, probe_ctx)
        elapsed = perf_counter() - started

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.4 s while waiting for 'DONE'"
    assert 0.38 <= elapsed < 0.9  # uvloop timers run on whole ms
    assert obs.body.startswith(b"xxx")


async def test_send_alone_delivers_every_byte(
    probe_ctx: ProbeContext, listener: tuple[int, asyncio.Queue[bytes]]
) -> None:
    port, received = listener
    payload = "0123456789abcdef" * 65536  # 1 MiB: more than the socket buffers

    obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", send=payload), probe_ctx)

    assert obs.error_class is None
    async with asyncio.timeout(5):
        assert await received.get() == payload.encode()


async def test_cancellation_propagates_and_closes(probe_ctx: ProbeContext) -> None:
    async with serve(stall) as port:
        task = asyncio.create_task(probe_tcp(tcp_spec(f"127.0.0.1:{port}", expect="X"), probe_ctx))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"send": "zz", "hex": True}, "invalid hex in send"),
        ({"expect": "abc", "hex": True}, "invalid hex in expect"),
        (
            {"starttls": "xmpp"},
            "unknown starttls protocol 'xmpp': expected one of smtp, imap, pop3, ftp",
        ),
        ({"starttls": "smtp", "tls": True}, "tls and starttls exclude each other"),
    ],
)
async def test_invalid_options_are_protocol_errors(
    probe_ctx: ProbeContext, options: dict[str, Any], message: str
) -> None:
    obs = await probe_tcp(tcp_spec("127.0.0.1:1", **options), probe_ctx)

    assert not obs.connected
    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == message


async def test_egress_guard_blocks_a_talking_check(
    listener: tuple[int, asyncio.Queue[bytes]],
) -> None:
    port, _ = listener
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        obs = await probe_tcp(tcp_spec(f"localhost:{port}", send="PING", tls=True), ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert not obs.connected


async def test_tls_then_send_and_expect(
    trusting_ctx: ProbeContext, ca: Issued, tmp_path: Path
) -> None:
    context = server_context(issue(["localhost"], ca=ca), tmp_path)
    async with serve(pong, ssl_context=context) as port:
        spec = tcp_spec(f"localhost:{port}", tls=True, send="PING\r\n", expect="PONG")
        obs = await probe_tcp(spec, trusting_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.body == b"PONG\r\n"
    assert obs.tls is not None
    assert (obs.tls.chain_valid, obs.tls.hostname_valid, obs.tls.verify_error) == (True, True, None)
    assert obs.tls.subject == "O=StatPulse Tests,CN=localhost"
    assert obs.phases.tls_ms is not None
    assert obs.phases.connect_ms is not None


async def test_tls_with_a_self_signed_certificate(probe_ctx: ProbeContext, tmp_path: Path) -> None:
    context = server_context(issue(["127.0.0.1"]), tmp_path)
    async with serve(pong, ssl_context=context) as port:
        verified = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", tls=True), probe_ctx)
        unverified = await probe_tcp(
            tcp_spec(f"127.0.0.1:{port}", tls=True, verify_tls=False, send="PING\n", expect="PONG"),
            probe_ctx,
        )

    assert verified.error_class is ErrorClass.TLS
    assert verified.error_message == "self-signed certificate"
    assert verified.phases.tls_ms is not None
    assert unverified.error_class is None, unverified.error_message
    assert unverified.tls is not None
    assert not unverified.tls.chain_valid
    assert unverified.tls.verify_error == NOT_VERIFIED
    assert unverified.tls.hostname_valid


async def test_tls_hostname_mismatch(
    trusting_ctx: ProbeContext, ca: Issued, tmp_path: Path
) -> None:
    context = server_context(issue(["mail.example"], ca=ca), tmp_path)
    async with serve(pong, ssl_context=context) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", tls=True), trusting_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == "hostname mismatch: cert is for mail.example, not 127.0.0.1"
    assert obs.tls is not None
    assert obs.tls.chain_valid


@pytest.mark.parametrize("protocol", ["smtp", "imap", "pop3", "ftp"])
async def test_starttls_upgrades_then_talks_over_tls(
    trusting_ctx: ProbeContext, ca: Issued, tmp_path: Path, protocol: str
) -> None:
    context = server_context(issue(["localhost"], ca=ca), tmp_path)
    async with serve(starttls_handler(protocol, context)) as port:
        spec = tcp_spec(f"localhost:{port}", starttls=protocol, send="PING\r\n", expect="PONG")
        obs = await probe_tcp(spec, trusting_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.body == b"PONG\r\n"
    assert obs.tls is not None
    assert obs.tls.chain_valid
    assert obs.tls.hostname_valid
    assert obs.phases.tls_ms is not None


@pytest.mark.parametrize(
    ("protocol", "message"),
    [
        ("smtp", "smtp STARTTLS: expected 220, got '454 4.7.0 no TLS'"),
        ("imap", "imap STARTTLS: expected 'a001 OK', got 'a001 BAD no'"),
        ("pop3", "pop3 STLS: expected '+OK', got '-ERR no'"),
        ("ftp", "ftp AUTH TLS: expected 234, got '502 no'"),
    ],
)
async def test_starttls_refused_is_a_protocol_error(
    probe_ctx: ProbeContext, tmp_path: Path, protocol: str, message: str
) -> None:
    context = server_context(issue(), tmp_path)
    async with serve(starttls_handler(protocol, context, refuse=True)) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", starttls=protocol), probe_ctx)

    assert obs.connected
    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == message
    assert obs.tls is None


async def test_starttls_against_a_silent_close(probe_ctx: ProbeContext) -> None:
    async with serve(reply(b"")) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", starttls="smtp"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == "smtp greeting: the server closed the connection"


async def test_starttls_against_an_endless_line(probe_ctx: ProbeContext) -> None:
    async with serve(reply(b"220" + b"-" * 70000)) as port:
        obs = await probe_tcp(tcp_spec(f"127.0.0.1:{port}", starttls="smtp"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == "smtp greeting: a line longer than 64 KiB"
