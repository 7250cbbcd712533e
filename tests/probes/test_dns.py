"""The dns probe against a real DNS server (dnspython, UDP and TCP) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from statpulse.model import CheckSpec, DnsInfo, DnsOptions, ErrorClass
from statpulse.probes import ProbeContext
from statpulse.probes.dns import default_resolver, parse_resolver, probe_dns
from statpulse.security.egress import EgressPolicy

from .dns_server import DnsServer, Zone, dns_server

ZONE: Zone = {
    ("example.test.", "A"): ["192.0.2.10", "192.0.2.11"],
    ("example.test.", "AAAA"): ["2001:db8::10"],
    ("example.test.", "MX"): ["10 mail.example.test.", "20 backup.example.test."],
    ("example.test.", "TXT"): ['"v=spf1 " "include:_spf.example.test -all"', '"hello"'],
    ("example.test.", "NS"): ["ns1.example.test.", "ns2.example.test."],
    ("example.test.", "SOA"): ["ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300"],
    ("www.example.test.", "CNAME"): ["example.test."],
    ("big.example.test.", "A"): ["192.0.2.20"],
}


def dns_spec(target: str, *, timeout_s: float = 5.0, **options: str | None) -> CheckSpec:
    return CheckSpec(
        monitor_id=uuid.uuid4(),
        kind="dns",
        target=target,
        interval_s=60,
        timeout_s=timeout_s,
        dns=DnsOptions(**options),  # type: ignore[arg-type]
    )


@pytest.fixture
async def server() -> AsyncIterator[DnsServer]:
    async with dns_server(
        ZONE,
        nxdomain={"missing.example.test."},
        servfail={"broken.example.test."},
        truncate={"big.example.test."},
        silent={"silent.example.test."},
        garbage={"garbage.example.test."},
    ) as running:
        yield running


@pytest.mark.parametrize(
    ("record_type", "answers"),
    [
        ("A", ("192.0.2.10", "192.0.2.11")),
        ("AAAA", ("2001:db8::10",)),
        ("MX", ("10 mail.example.test.", "20 backup.example.test.")),
        ("TXT", ("v=spf1 include:_spf.example.test -all", "hello")),
        ("NS", ("ns1.example.test.", "ns2.example.test.")),
        ("SOA", ("ns1.example.test. hostmaster.example.test. 7 3600 600 86400 300",)),
    ],
)
@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_every_record_type_is_answered_as_text(
    probe_ctx: ProbeContext,
    server: DnsServer,
    record_type: str,
    answers: tuple[str, ...],
    protocol: str,
) -> None:
    spec = dns_spec(
        "example.test", record_type=record_type, resolver=server.address, protocol=protocol
    )

    obs = await probe_dns(spec, probe_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.connected
    assert obs.dns is not None
    assert (obs.dns.record_type, obs.dns.rcode) == (record_type, "NOERROR")
    assert sorted(obs.dns.answers) == sorted(answers)  # in the resolver's (shuffled) order
    assert obs.ip == "127.0.0.1"
    assert obs.body == b""
    assert obs.phases.connect_ms is None
    assert obs.phases.first_byte_ms is not None
    assert [(q.protocol, q.recursion_desired) for q in server.queries] == [(protocol, True)]


async def test_cname_query_answers_the_target_name(
    probe_ctx: ProbeContext, server: DnsServer
) -> None:
    spec = dns_spec("www.example.test.", record_type="CNAME", resolver=server.address)

    obs = await probe_dns(spec, probe_ctx)

    assert obs.dns == DnsInfo(record_type="CNAME", rcode="NOERROR", answers=("example.test.",))


async def test_a_query_through_a_cname_keeps_only_the_addresses(
    probe_ctx: ProbeContext, server: DnsServer
) -> None:
    obs = await probe_dns(dns_spec("WWW.example.test", resolver=server.address), probe_ctx)

    assert obs.dns is not None
    assert sorted(obs.dns.answers) == ["192.0.2.10", "192.0.2.11"]


@pytest.mark.parametrize(
    ("name", "rcode"), [("missing.example.test", "NXDOMAIN"), ("broken.example.test", "SERVFAIL")]
)
async def test_error_rcodes_are_answers_not_errors(
    probe_ctx: ProbeContext, server: DnsServer, name: str, rcode: str
) -> None:
    obs = await probe_dns(dns_spec(name, resolver=server.address), probe_ctx)

    assert obs.error_class is None
    assert obs.connected
    assert obs.dns == DnsInfo(record_type="A", rcode=rcode, answers=())


async def test_truncated_udp_answer_is_asked_again_over_tcp(
    probe_ctx: ProbeContext, server: DnsServer
) -> None:
    obs = await probe_dns(dns_spec("big.example.test", resolver=server.address), probe_ctx)

    assert obs.dns == DnsInfo(record_type="A", rcode="NOERROR", answers=("192.0.2.20",))
    assert [q.protocol for q in server.queries] == ["udp", "tcp"]


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_silent_resolver_times_out_at_the_deadline(
    probe_ctx: ProbeContext, server: DnsServer, protocol: str
) -> None:
    spec = dns_spec(
        "silent.example.test", resolver=server.address, protocol=protocol, timeout_s=0.5
    )
    started = time.monotonic()

    obs = await probe_dns(spec, probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.5 s while waiting for the answer"
    assert not obs.connected
    assert obs.ip == "127.0.0.1"
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_malformed_answer_is_a_protocol_error(
    probe_ctx: ProbeContext, server: DnsServer, protocol: str
) -> None:
    spec = dns_spec("garbage.example.test", resolver=server.address, protocol=protocol)

    obs = await probe_dns(spec, probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message is not None
    assert obs.error_message.startswith("invalid DNS answer: ")


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_closed_port_is_refused(
    probe_ctx: ProbeContext, refused_port: int, protocol: str
) -> None:
    # nothing listens on that port over UDP either: the probe's connected UDP socket hears
    # the ICMP "port unreachable", as dig's does
    spec = dns_spec("example.test", resolver=f"127.0.0.1:{refused_port}", protocol=protocol)

    obs = await probe_dns(spec, probe_ctx)

    assert obs.error_class is ErrorClass.CONNECT
    assert obs.error_message == "connection refused"
    assert not obs.connected


async def test_resolver_given_by_name_is_resolved_and_timed(
    probe_ctx: ProbeContext, server: DnsServer
) -> None:
    spec = dns_spec("example.test", resolver=f"localhost:{server.port}", protocol="tcp")

    obs = await probe_dns(spec, probe_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.phases.dns_ms is not None


@pytest.mark.parametrize("resolver", ["127.0.0.1", "localhost:53"])
async def test_egress_guard_blocks_the_resolver_address(server: DnsServer, resolver: str) -> None:
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        obs = await probe_dns(dns_spec("example.test", resolver=resolver), ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert not obs.connected
    assert server.queries == []


@pytest.mark.parametrize("record_type", ["PTR", "SRV", "ANY", "bogus"])
async def test_unsupported_record_type_is_a_protocol_error(
    probe_ctx: ProbeContext, server: DnsServer, record_type: str
) -> None:
    spec = dns_spec("example.test", record_type=record_type, resolver=server.address)

    obs = await probe_dns(spec, probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == (
        f"unsupported record type {record_type!r}: use A, AAAA, CNAME, MX, TXT, NS, SOA"
    )
    assert server.queries == []


async def test_record_type_is_case_insensitive(probe_ctx: ProbeContext, server: DnsServer) -> None:
    spec = dns_spec("example.test", record_type="aaaa", resolver=server.address)

    obs = await probe_dns(spec, probe_ctx)

    assert obs.dns is not None
    assert obs.dns.record_type == "AAAA"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"protocol": "doh"}, "unsupported protocol 'doh': use udp or tcp"),
        ({"resolver": "1.1.1.1:99999"}, "invalid resolver '1.1.1.1:99999': expected host[:port]"),
        ({"resolver": ""}, "invalid resolver '': expected host[:port]"),
    ],
)
async def test_invalid_options_are_protocol_errors(
    probe_ctx: ProbeContext, options: dict[str, str], message: str
) -> None:
    obs = await probe_dns(dns_spec("example.test", **options), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == message


@pytest.mark.parametrize("target", ["", "a..b", "has space.test", "x" * 64 + ".test"])
async def test_invalid_name_is_a_protocol_error(probe_ctx: ProbeContext, target: str) -> None:
    obs = await probe_dns(dns_spec(target, resolver="127.0.0.1"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == f"invalid name to query: {target!r}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("9.9.9.9", ("9.9.9.9", 53)),
        ("9.9.9.9:5353", ("9.9.9.9", 5353)),
        ("dns.example", ("dns.example", 53)),
        ("dns.example:54", ("dns.example", 54)),
        ("2001:db8::53", ("2001:db8::53", 53)),
        ("[2001:db8::53]", ("2001:db8::53", 53)),
        ("[2001:db8::53]:5353", ("2001:db8::53", 5353)),
    ],
)
def test_resolver_addresses_parse_with_port_53_by_default(
    text: str, expected: tuple[str, int]
) -> None:
    assert parse_resolver(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:0", "2001:db8::zz", "a b"])
def test_invalid_resolver_addresses_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the contract
        parse_resolver(text)


def test_default_resolver_is_dnspythons_first_system_nameserver() -> None:
    import dns.resolver

    system = dns.resolver.get_default_resolver()

    assert default_resolver() == (str(system.nameservers[0]), system.port)


async def test_cancelling_the_check_cancels_it(probe_ctx: ProbeContext, server: DnsServer) -> None:
    spec = dns_spec("silent.example.test", resolver=server.address)
    check = asyncio.create_task(probe_dns(spec, probe_ctx))
    while not server.queries:
        await asyncio.sleep(0.01)

    check.cancel()

    with pytest.raises(asyncio.CancelledError):
        await check
