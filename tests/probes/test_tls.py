"""The tls probe against real TLS servers on 127.0.0.1 with certificates made per test."""

from __future__ import annotations

import asyncio
import datetime
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from time import perf_counter

import pytest

from statpulse.model import CheckSpec, ErrorClass, TlsOptions
from statpulse.probes import ProbeContext
from statpulse.probes.tls import parse_tls_target, probe_tls
from statpulse.security.egress import EgressPolicy

from .tls_servers import (
    DAY,
    Issued,
    SniLog,
    hold_open,
    issue,
    make_ca,
    now,
    serve,
    server_context,
    stall,
)

TlsServer = Callable[..., AbstractAsyncContextManager[int]]


def tls_spec(
    target: str, *, verify_tls: bool = True, warn_days: int = 14, timeout_s: float = 5.0
) -> CheckSpec:
    return CheckSpec(
        monitor_id=uuid.uuid4(),
        kind="tls",
        target=target,
        interval_s=60,
        timeout_s=timeout_s,
        tls=TlsOptions(warn_days=warn_days, verify_tls=verify_tls),
    )


@pytest.fixture
def ca() -> Issued:
    return make_ca()


@pytest.fixture
async def trusting_ctx(ca: Issued) -> AsyncIterator[ProbeContext]:
    """A ProbeContext whose verifying context also trusts the test CA (as a ProbeContext with
    extra CAs would)."""
    async with ProbeContext() as ctx:
        ctx.tls(verify=True).load_verify_locations(cadata=ca.pem)
        yield ctx


@pytest.fixture
def tls_server(tmp_path: Path) -> TlsServer:
    """``async with tls_server(leaf, sni=None, max_version=None) as port``."""

    def start(
        leaf: Issued, *, sni: SniLog | None = None, max_version: ssl.TLSVersion | None = None
    ) -> AbstractAsyncContextManager[int]:
        context = server_context(leaf, tmp_path, sni=sni, max_version=max_version)
        return serve(hold_open, ssl_context=context)

    return start


async def test_trusted_certificate_passes_with_every_fact(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    leaf = issue(["localhost", "127.0.0.1"], ca=ca)
    async with tls_server(leaf) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}"), trusting_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.connected
    assert obs.ip == "127.0.0.1"
    assert obs.tls is not None
    assert obs.tls.chain_valid
    assert obs.tls.hostname_valid
    assert obs.tls.verify_error is None
    assert obs.tls.version == "TLSv1.3"
    assert obs.tls.cipher
    assert obs.tls.subject == "O=StatPulse Tests,CN=localhost"
    assert obs.tls.issuer == "O=StatPulse Tests,CN=StatPulse Test CA"
    assert obs.tls.sans == ("localhost", "127.0.0.1")
    assert obs.tls.not_after == leaf.cert.not_valid_after_utc
    assert obs.phases.dns_ms is None
    assert obs.phases.connect_ms is not None
    assert obs.phases.tls_ms is not None
    assert obs.latency_ms is not None


async def test_host_name_is_resolved_and_sent_as_sni_once_when_valid(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    sni = SniLog()
    async with tls_server(issue(["localhost"], ca=ca), sni=sni) as port:
        obs = await probe_tls(tls_spec(f"localhost:{port}"), trusting_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.phases.dns_ms is not None
    assert sni.names == ["localhost"]  # one connection


async def test_ip_target_sends_no_sni(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    sni = SniLog()
    async with tls_server(issue(["127.0.0.1"], ca=ca), sni=sni) as port:
        await probe_tls(tls_spec(f"127.0.0.1:{port}"), trusting_ctx)

    assert sni.names == [None]


@pytest.mark.parametrize("verify_tls", [True, False])
async def test_self_signed_certificate(
    probe_ctx: ProbeContext, tls_server: TlsServer, verify_tls: bool
) -> None:
    sni = SniLog()
    async with tls_server(issue(["localhost"]), sni=sni) as port:
        obs = await probe_tls(tls_spec(f"localhost:{port}", verify_tls=verify_tls), probe_ctx)

    assert obs.tls is not None
    assert not obs.tls.chain_valid
    assert obs.tls.verify_error == "self-signed certificate"
    assert obs.tls.hostname_valid
    assert obs.tls.subject == "O=StatPulse Tests,CN=localhost"
    assert sni.names == ["localhost", "localhost"]  # verified, then unverified for the facts
    assert obs.phases.tls_ms is not None
    if verify_tls:
        assert obs.error_class is ErrorClass.TLS
        assert obs.error_message == "self-signed certificate"
    else:
        assert obs.error_class is None


async def test_unknown_authority(probe_ctx: ProbeContext, tls_server: TlsServer) -> None:
    async with tls_server(issue(["127.0.0.1"], ca=make_ca("Someone Else"))) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}"), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == "certificate signed by an unknown authority"
    assert obs.tls is not None
    assert obs.tls.issuer == "O=StatPulse Tests,CN=Someone Else"


@pytest.mark.parametrize("verify_tls", [True, False])
async def test_wrong_host_keeps_the_chain_verdict(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued, verify_tls: bool
) -> None:
    async with tls_server(issue(["other.example", "www.other.example"], ca=ca)) as port:
        obs = await probe_tls(tls_spec(f"localhost:{port}", verify_tls=verify_tls), trusting_ctx)

    assert obs.tls is not None
    assert obs.tls.chain_valid
    assert not obs.tls.hostname_valid
    if verify_tls:
        assert obs.error_class is ErrorClass.TLS
        assert obs.error_message == (
            "hostname mismatch: cert is for other.example, www.other.example, not localhost"
        )
    else:
        assert obs.error_class is None


@pytest.mark.parametrize("verify_tls", [True, False])
async def test_expired_certificate_always_fails(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued, verify_tls: bool
) -> None:
    expired_at = (now() - 2 * DAY).replace(microsecond=0)
    leaf = issue(["localhost"], ca=ca, not_before=now() - 9 * DAY, not_after=expired_at)
    async with tls_server(leaf) as port:
        obs = await probe_tls(tls_spec(f"localhost:{port}", verify_tls=verify_tls), trusting_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == f"certificate expired on {expired_at:%Y-%m-%d %H:%M:%S} UTC"
    assert obs.tls is not None
    assert obs.tls.not_after == expired_at
    assert not obs.tls.chain_valid
    assert obs.tls.verify_error == "certificate expired"
    assert obs.tls.hostname_valid


async def test_expired_and_wrong_host_are_both_known(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    leaf = issue(["other.example"], ca=ca, not_before=now() - 9 * DAY, not_after=now() - DAY)
    async with tls_server(leaf) as port:
        obs = await probe_tls(tls_spec(f"localhost:{port}"), trusting_ctx)

    assert obs.tls is not None
    assert obs.tls.verify_error == "certificate expired"
    assert not obs.tls.hostname_valid
    assert obs.error_message is not None
    assert obs.error_message.startswith("certificate expired on ")


async def test_not_yet_valid_certificate_fails(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    starts = (now() + 3 * DAY).replace(microsecond=0)
    leaf = issue(["127.0.0.1"], ca=ca, not_before=starts, not_after=starts + 30 * DAY)
    async with tls_server(leaf) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}", verify_tls=False), trusting_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == f"certificate not valid until {starts:%Y-%m-%d %H:%M:%S} UTC"
    assert obs.tls is not None
    assert obs.tls.verify_error == "certificate not yet valid"


async def test_certificate_expiring_soon_passes_with_the_facts(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    leaf = issue(["127.0.0.1"], ca=ca, not_after=now() + 2 * DAY)
    async with tls_server(leaf) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}", warn_days=14), trusting_ctx)

    assert obs.error_class is None  # degraded is the judge's call, not a probe failure
    assert obs.tls is not None
    assert obs.tls.not_after is not None
    assert obs.tls.not_after - now() < datetime.timedelta(days=14)


async def test_tls12_only_server_reports_its_version(
    trusting_ctx: ProbeContext, tls_server: TlsServer, ca: Issued
) -> None:
    leaf = issue(["127.0.0.1"], ca=ca)
    async with tls_server(leaf, max_version=ssl.TLSVersion.TLSv1_2) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}"), trusting_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.tls is not None
    assert obs.tls.version == "TLSv1.2"


async def test_stalled_handshake_times_out_on_the_deadline(probe_ctx: ProbeContext) -> None:
    async with serve(stall) as port:
        started = perf_counter()
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}", timeout_s=0.3), probe_ctx)
        elapsed = perf_counter() - started

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.3 s while performing the TLS handshake"
    assert obs.connected
    assert 0.28 <= elapsed < 0.8  # uvloop timers run on whole ms


async def test_cancelling_a_stalled_handshake_propagates(probe_ctx: ProbeContext) -> None:
    async with serve(stall) as port:
        task = asyncio.create_task(probe_tls(tls_spec(f"127.0.0.1:{port}"), probe_ctx))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_plain_tcp_server_is_a_tls_error(probe_ctx: ProbeContext) -> None:
    async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async with serve(http) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}"), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == "TLS handshake failed: wrong version number"
    assert obs.tls is None


async def test_refused_port_is_a_connect_error(probe_ctx: ProbeContext, refused_port: int) -> None:
    obs = await probe_tls(tls_spec(f"127.0.0.1:{refused_port}"), probe_ctx)

    assert obs.error_class is ErrorClass.CONNECT
    assert not obs.connected


async def test_egress_guard_blocks_loopback(tls_server: TlsServer) -> None:
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx, tls_server(issue()) as port:
        obs = await probe_tls(tls_spec(f"127.0.0.1:{port}"), ctx)
        by_name = await probe_tls(tls_spec(f"localhost:{port}"), ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert by_name.error_class is ErrorClass.BLOCKED
    assert not obs.connected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("example.com", ("example.com", 443)),
        ("example.com:8443", ("example.com", 8443)),
        ("[2001:db8::1]", ("2001:db8::1", 443)),
        ("[2001:db8::1]:8443", ("2001:db8::1", 8443)),
        ("192.0.2.1", ("192.0.2.1", 443)),
    ],
)
def test_target_port_defaults_to_443(target: str, expected: tuple[str, int]) -> None:
    assert parse_tls_target(target) == expected


@pytest.mark.parametrize(
    "target", ["", "example.com:", "::1", "https://example.com", "a b", "[nope]", "host:99999"]
)
async def test_malformed_target_is_a_protocol_error(probe_ctx: ProbeContext, target: str) -> None:
    obs = await probe_tls(tls_spec(target), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == f"invalid target {target!r}: expected host[:port]"
