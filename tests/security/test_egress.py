"""The egress guard on its own: which addresses the default policy refuses, allow-list
exceptions, literal encodings normalised by ``getaddrinfo``, and the settings that build it.

Nothing here connects anywhere; ``resolve`` runs ``getaddrinfo`` on numeric strings and on
``localhost`` only (answered from /etc/hosts, no network).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from statpulse.security.egress import DEFAULT_DENY, AddrInfo, EgressDenied, EgressPolicy
from statpulse.settings import load_settings

GUARDED = EgressPolicy.guarded()

# Written out independently of DEFAULT_DENY (RFC 6890 and the field notes), so that a range
# dropped from or mistyped in the production list shows up as a failing property.
EXPECTED_V4_DENY = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
)
EXPECTED_V6_DENY = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/96",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
)

DENIED = [
    # this network
    "0.0.0.0",
    "0.255.255.255",
    # private
    "10.0.0.0",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.0",
    "192.168.1.1",
    "192.168.255.255",
    # carrier-grade NAT, incl. Alibaba Cloud metadata
    "100.64.0.0",
    "100.64.0.1",
    "100.100.100.200",
    "100.127.255.255",
    # loopback
    "127.0.0.1",
    "127.0.0.2",
    "127.255.255.254",
    # link-local, cloud metadata
    "169.254.0.0",
    "169.254.169.254",
    "169.254.255.255",
    # special-purpose and documentation
    "192.0.0.170",
    "192.0.2.1",
    "192.88.99.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.1",
    "203.0.113.1",
    # multicast, reserved, broadcast
    "224.0.0.1",
    "239.255.255.255",
    "240.0.0.1",
    "255.255.255.255",
    # IPv6 loopback and unspecified
    "::1",
    "::",
    # IPv4-mapped and IPv4-compatible forms
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:8.8.8.8",
    "::127.0.0.1",
    # NAT64, 6to4 and Teredo embed IPv4 addresses
    "64:ff9b::a9fe:a9fe",
    "64:ff9b::808:808",
    "64:ff9b:1::1",
    "2002:7f00:1::",
    "2002:a9fe:a9fe::1",
    "2001::1",
    "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
    # discard-only, documentation
    "100::1",
    "2001:db8::1",
    # unique local incl. AWS metadata, link-local, site-local, multicast
    "fc00::",
    "fd00:ec2::254",
    "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fe80::1",
    "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "fec0::1",
    "ff02::1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]

ALLOWED = [
    "8.8.8.8",
    "1.1.1.1",
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.255",
    "192.0.3.1",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "2001:1::1",
    "2003::1",
    "64:ff9b:0:1::1",
    "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
]

# Literal forms getaddrinfo turns into a loopback (or "this host") address.
ENCODED_LOOPBACK = [
    ("2130706433", "127.0.0.1"),
    ("017700000001", "127.0.0.1"),
    ("0x7f000001", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"),
    ("0x7f.0.0.1", "127.0.0.1"),
    ("127.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"),
    ("127.0.1", "127.0.0.1"),
    ("0", "0.0.0.0"),
    ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
    ("::1", "::1"),
    ("0:0:0:0:0:0:0:1", "::1"),
]


def ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


def addrinfo(address: str, port: int = 80) -> AddrInfo:
    if ":" in address:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


# --- the default deny list ------------------------------------------------------------------


@pytest.mark.parametrize("address", DENIED)
def test_default_policy_denies_address(address: str) -> None:
    network = GUARDED.denied_by(ip(address))

    assert network is not None
    assert ip(address) in network


@pytest.mark.parametrize("address", ALLOWED)
def test_default_policy_allows_address(address: str) -> None:
    assert GUARDED.denied_by(ip(address)) is None


def test_default_deny_list_covers_the_field_notes_ranges() -> None:
    required = [
        "0.0.0.0/8",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "198.18.0.0/15",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
    ]
    for net in required:
        network = ipaddress.ip_network(net)
        assert GUARDED.denied_by(network[0]) is not None, net
        assert GUARDED.denied_by(network[-1]) is not None, net


def test_default_deny_entries_are_all_valid_networks() -> None:
    assert len(GUARDED.deny) == len(DEFAULT_DENY)


@given(st.ip_addresses(v=4))
def test_ipv4_address_is_denied_exactly_when_in_a_special_purpose_range(
    address: ipaddress.IPv4Address,
) -> None:
    expected = any(address in net for net in EXPECTED_V4_DENY)

    assert (GUARDED.denied_by(address) is not None) == expected


@given(st.ip_addresses(v=6))
def test_ipv6_address_is_denied_exactly_when_in_a_special_purpose_range(
    address: ipaddress.IPv6Address,
) -> None:
    expected = any(address in net for net in EXPECTED_V6_DENY)

    assert (GUARDED.denied_by(address) is not None) == expected


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_form_of_any_ipv4_address_is_denied(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")

    assert GUARDED.denied_by(mapped) is not None


@given(st.ip_addresses(v=4))
def test_ipv6_forms_embedding_any_ipv4_address_are_denied(address: ipaddress.IPv4Address) -> None:
    v4 = int(address)
    forms = [
        ipaddress.IPv6Address(v4),  # IPv4-compatible ::a.b.c.d
        ipaddress.IPv6Address((0x0064_FF9B << 96) | v4),  # NAT64 64:ff9b::a.b.c.d
        ipaddress.IPv6Address((0x2002 << 112) | (v4 << 80)),  # 6to4 2002:AABB:CCDD::
        ipaddress.IPv6Address((0x2001_0000 << 96) | (~v4 & 0xFFFF_FFFF)),  # Teredo client
    ]
    for form in forms:
        assert GUARDED.denied_by(form) is not None, form


@given(st.ip_addresses())
def test_open_policy_allows_every_address(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    policy = EgressPolicy.open()

    assert not policy.enabled
    assert policy.denied_by(address) is None
    assert policy.check("host", address) == address


def test_guarded_policy_with_empty_deny_list_is_not_enabled() -> None:
    assert not EgressPolicy.guarded(deny=[]).enabled
    assert GUARDED.enabled


# --- check() and EgressDenied ---------------------------------------------------------------


def test_check_raises_egress_denied_naming_address_and_range() -> None:
    with pytest.raises(EgressDenied) as caught:
        GUARDED.check("169.254.169.254", "169.254.169.254")

    assert caught.value.host == "169.254.169.254"
    assert caught.value.address == ip("169.254.169.254")
    assert caught.value.network == ipaddress.ip_network("169.254.0.0/16")
    assert str(caught.value) == "169.254.169.254, in the denied range 169.254.0.0/16"


def test_check_message_names_the_host_a_name_resolved_from() -> None:
    with pytest.raises(EgressDenied, match=r"^metadata\.internal resolves to 169\.254\.169\.254"):
        GUARDED.check("metadata.internal", "169.254.169.254")


def test_check_returns_the_parsed_allowed_address() -> None:
    assert GUARDED.check("example", "2606:4700::1111") == ip("2606:4700::1111")


def test_check_ignores_the_scope_of_a_link_local_address() -> None:
    with pytest.raises(EgressDenied):
        GUARDED.check("fe80::1%eth0", "fe80::1%eth0")


def test_check_rejects_text_that_is_not_an_address() -> None:
    with pytest.raises(ValueError, match=r"example\.com"):
        GUARDED.check("example.com", "example.com")


# --- allow-list exceptions ------------------------------------------------------------------


def test_allow_list_exempts_exactly_its_range() -> None:
    policy = EgressPolicy.guarded(allow=["127.0.0.1/32"])

    assert policy.denied_by(ip("127.0.0.1")) is None
    assert policy.denied_by(ip("127.0.0.2")) == ipaddress.ip_network("127.0.0.0/8")
    assert policy.denied_by(ip("10.0.0.1")) is not None


def test_allow_list_exception_does_not_extend_to_the_ipv4_mapped_form() -> None:
    policy = EgressPolicy.guarded(allow=["127.0.0.1/32"])

    assert policy.denied_by(ip("::ffff:127.0.0.1")) is not None


def test_allow_list_subnet_is_exempt_inside_a_denied_range() -> None:
    policy = EgressPolicy.guarded(allow=["10.1.0.0/16"])

    assert policy.denied_by(ip("10.1.255.255")) is None
    assert policy.denied_by(ip("10.2.0.0")) is not None


def test_custom_deny_list_replaces_the_default() -> None:
    policy = EgressPolicy.guarded(deny=["203.0.113.0/24"])

    assert policy.denied_by(ip("203.0.113.9")) is not None
    assert policy.denied_by(ip("127.0.0.1")) is None


@pytest.mark.parametrize(
    ("deny", "allow", "bad"),
    [
        (["10.0.0.0/33"], [], "10.0.0.0/33"),
        (["not-a-network"], [], "not-a-network"),
        (DEFAULT_DENY, ["127.0.0.1/32", "fe80::/129"], "fe80::/129"),
        (DEFAULT_DENY, ["localhost"], "localhost"),
    ],
)
def test_guarded_rejects_an_invalid_network_naming_it(
    deny: list[str], allow: list[str], bad: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"invalid network '{bad}'")):
        EgressPolicy.guarded(deny=deny, allow=allow)


def test_guarded_accepts_network_objects_and_host_bits() -> None:
    policy = EgressPolicy.guarded(deny=[ipaddress.ip_network("10.0.0.0/8"), "192.168.1.1/16"])

    assert policy.deny == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.168.0.0/16"),
    )


# --- filter() -------------------------------------------------------------------------------


def test_filter_keeps_the_allowed_addresses_of_a_mixed_answer_in_order() -> None:
    infos = [
        addrinfo("10.0.0.1"),
        addrinfo("2606:4700::1111"),
        addrinfo("169.254.169.254"),
        addrinfo("8.8.8.8"),
        addrinfo("::1"),
    ]

    kept = GUARDED.filter("mixed.example", infos)

    assert kept == [infos[1], infos[3]]


def test_filter_raises_for_the_first_denied_address_when_none_is_allowed() -> None:
    infos = [addrinfo("10.0.0.1"), addrinfo("::1")]

    with pytest.raises(EgressDenied) as caught:
        GUARDED.filter("internal.example", infos)

    assert caught.value.host == "internal.example"
    assert caught.value.address == ip("10.0.0.1")


def test_filter_returns_an_empty_answer_as_is() -> None:
    assert GUARDED.filter("nothing.example", []) == []


def test_filter_of_open_policy_keeps_everything() -> None:
    infos = [addrinfo("10.0.0.1"), addrinfo("::1")]

    assert EgressPolicy.open().filter("internal.example", infos) == infos


# --- resolve() ------------------------------------------------------------------------------


@pytest.mark.parametrize(("literal", "address"), ENCODED_LOOPBACK)
async def test_resolve_denies_encoded_literal_of_a_local_address(
    literal: str, address: str
) -> None:
    with pytest.raises(EgressDenied) as caught:
        await GUARDED.resolve(literal, 80)

    assert caught.value.address == ip(address)
    assert caught.value.host == literal


@pytest.mark.parametrize(("literal", "address"), ENCODED_LOOPBACK)
async def test_open_policy_resolves_encoded_literal_to_the_local_address(
    literal: str, address: str
) -> None:
    # The other half of the test above: getaddrinfo really maps these forms to the address.
    infos = await EgressPolicy.open().resolve(literal, 80)

    assert [ip(info[4][0]) for info in infos] == [ip(address)]


async def test_resolve_denies_localhost_as_loopback() -> None:
    with pytest.raises(EgressDenied, match=r"^localhost resolves to ") as caught:
        await GUARDED.resolve("localhost", 80)

    assert caught.value.address.is_loopback


async def test_resolve_allows_localhost_with_an_allow_list_exception() -> None:
    policy = EgressPolicy.guarded(allow=["127.0.0.0/8", "::1/128"])

    infos = await policy.resolve("localhost", 8080)

    assert infos
    assert all(ip(info[4][0]).is_loopback for info in infos)
    assert all(info[4][1] == 8080 for info in infos)


async def test_resolve_keeps_the_allowed_addresses_of_a_name_with_mixed_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer = [addrinfo("127.0.0.1", 443), addrinfo("93.184.215.14", 443), addrinfo("fd00::1", 443)]

    async def fake_getaddrinfo(host: str, port: int, **kwargs: Any) -> list[AddrInfo]:
        assert (host, port) == ("rebind.example", 443)
        return answer

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)

    assert await GUARDED.resolve("rebind.example", 443) == [answer[1]]


async def test_resolve_raises_gaierror_for_a_name_that_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fake_getaddrinfo(host: str, port: int, **kwargs: Any) -> list[AddrInfo]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", fake_getaddrinfo)

    with pytest.raises(socket.gaierror):
        await GUARDED.resolve("nowhere.invalid", 80)


# --- settings -------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MULTI_TENANT", "EGRESS_GUARD", "EGRESS_DENY", "EGRESS_ALLOW"):
        monkeypatch.delenv(f"STATPULSE_{name}", raising=False)


@pytest.mark.usefixtures("clean_env")
def test_settings_default_egress_policy_is_open() -> None:
    policy = load_settings().egress_policy()

    assert not policy.enabled
    assert policy.denied_by(ip("169.254.169.254")) is None


@pytest.mark.usefixtures("clean_env")
def test_settings_multi_tenant_turns_the_default_guard_on() -> None:
    policy = load_settings(multi_tenant=True).egress_policy()

    assert policy.enabled
    assert policy == EgressPolicy.guarded()


@pytest.mark.usefixtures("clean_env")
def test_settings_egress_guard_false_overrides_multi_tenant() -> None:
    policy = load_settings(multi_tenant=True, egress_guard=False).egress_policy()

    assert not policy.enabled


@pytest.mark.usefixtures("clean_env")
def test_settings_egress_guard_true_guards_a_single_tenant_server() -> None:
    policy = load_settings(egress_guard=True).egress_policy()

    assert policy == EgressPolicy.guarded()


@pytest.mark.usefixtures("clean_env")
def test_settings_egress_deny_and_allow_shape_the_policy() -> None:
    settings = load_settings(
        multi_tenant=True, egress_deny=["10.0.0.0/8"], egress_allow=["10.1.0.0/16"]
    )

    policy = settings.egress_policy()

    assert policy.denied_by(ip("10.2.0.1")) is not None
    assert policy.denied_by(ip("10.1.0.1")) is None
    assert policy.denied_by(ip("127.0.0.1")) is None


def test_settings_egress_policy_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STATPULSE_EGRESS_GUARD", raising=False)
    monkeypatch.delenv("STATPULSE_EGRESS_DENY", raising=False)
    monkeypatch.setenv("STATPULSE_MULTI_TENANT", "true")
    monkeypatch.setenv("STATPULSE_EGRESS_ALLOW", '["127.0.0.1/32"]')

    policy = load_settings().egress_policy()

    assert policy.denied_by(ip("127.0.0.1")) is None
    assert policy.denied_by(ip("127.0.0.2")) is not None


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("field", ["egress_deny", "egress_allow"])
def test_settings_reject_an_invalid_network_naming_the_field_and_entry(field: str) -> None:
    overrides: dict[str, Any] = {"multi_tenant": True, field: ["10.0.0.0/8", "10.0.0.0/99"]}

    with pytest.raises(ValidationError, match=field) as caught:
        load_settings(**overrides)

    assert "10.0.0.0/99" in str(caught.value)
