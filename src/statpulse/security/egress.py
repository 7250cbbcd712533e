"""The egress guard: every outbound connection a probe makes is checked here first.

A multi-tenant server must not let a tenant's monitor reach the server's own network (loopback,
private ranges, cloud metadata at 169.254.169.254 ...). The guard resolves a host once, drops
every address in a denied range and hands back the addresses that passed, which the caller then
connects to (no second lookup, so DNS rebinding between check and connect cannot slip through).
Literal addresses in any encoding (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``[::ffff:7f00:1]``)
are normalised by the same ``getaddrinfo`` that would connect, so they are caught too.

The ranges are an explicit list: Python 3.11's ``ipaddress.is_private`` is wrong for some
(100.64.0.0/10 is neither private nor global there). IPv6 forms that embed an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are denied as whole ranges.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]

DEFAULT_DENY: tuple[str, ...] = (
    # IPv4 (RFC 6890 special-purpose registry, minus the globally reachable entries)
    "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
    "10.0.0.0/8",
    "100.64.0.0/10",  # carrier-grade NAT (also Alibaba Cloud's metadata at 100.100.100.200)
    "127.0.0.0/8",
    "169.254.0.0/16",  # link-local, cloud metadata at 169.254.169.254
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.88.99.0/24",  # 6to4 relay anycast
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, and 255.255.255.255
    # IPv6
    "::/128",
    "::1/128",
    "::/96",  # IPv4-compatible (deprecated) forms of the above
    "::ffff:0:0/96",  # IPv4-mapped
    "64:ff9b::/96",  # NAT64 well-known prefix
    "64:ff9b:1::/48",  # local-use NAT64
    "100::/64",  # discard-only
    "2001::/32",  # Teredo (embeds an IPv4 address)
    "2001:db8::/32",  # documentation
    "2002::/16",  # 6to4 (embeds an IPv4 address)
    "fc00::/7",  # unique local (also AWS metadata at fd00:ec2::254)
    "fe80::/10",  # link-local
    "fec0::/10",  # site-local (deprecated)
    "ff00::/8",  # multicast
)


class EgressDenied(Exception):
    """A connection the policy forbids. ``address`` is the offending IP, ``network`` the range."""

    def __init__(self, host: str, address: IPAddress, network: IPNetwork) -> None:
        self.host = host
        self.address = address
        self.network = network
        via = "" if host == str(address) else f"{host} resolves to "
        super().__init__(f"{via}{address}, in the denied range {network}")


def _networks(items: Iterable[str | IPNetwork]) -> tuple[IPNetwork, ...]:
    """Parse networks; raises ValueError naming the bad entry."""
    out: list[IPNetwork] = []
    for item in items:
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"invalid network {item!r}: {exc}") from None
    return tuple(out)


def parse_address(text: str) -> IPAddress:
    """An address as ``getaddrinfo`` returns it (an IPv6 scope like ``%eth0`` is dropped)."""
    return ipaddress.ip_address(text.split("%", 1)[0])


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """Which addresses probes may connect to.

    ``deny`` ranges are refused unless an ``allow`` range (an operator's exception, e.g. one
    internal subnet) contains the address. An empty ``deny`` allows everything (single-user).
    """

    deny: tuple[IPNetwork, ...] = ()
    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def open(cls) -> EgressPolicy:
        return cls()

    @classmethod
    def guarded(
        cls, deny: Iterable[str | IPNetwork] = DEFAULT_DENY, allow: Iterable[str | IPNetwork] = ()
    ) -> EgressPolicy:
        """A policy from network texts; raises ValueError naming an invalid entry."""
        return cls(deny=_networks(deny), allow=_networks(allow))

    @property
    def enabled(self) -> bool:
        return bool(self.deny)

    def denied_by(self, address: IPAddress) -> IPNetwork | None:
        """The deny range that forbids ``address``, or None when it is allowed."""
        if not self.deny or any(address in net for net in self.allow):
            return None
        return next((net for net in self.deny if address in net), None)

    def check(self, host: str, address: str | IPAddress) -> IPAddress:
        """The parsed address when allowed; raises ``EgressDenied`` otherwise, and ValueError
        when ``address`` is not an IP address."""
        ip = parse_address(address) if isinstance(address, str) else address
        network = self.denied_by(ip)
        if network is not None:
            raise EgressDenied(host, ip, network)
        return ip

    def filter(self, host: str, infos: Sequence[AddrInfo]) -> list[AddrInfo]:
        """The address infos that are allowed, in order. Raises ``EgressDenied`` (for the first
        denied address) when none is; an empty input is returned as is."""
        allowed: list[AddrInfo] = []
        denied: EgressDenied | None = None
        for info in infos:
            try:
                self.check(host, str(info[4][0]))
            except EgressDenied as exc:
                denied = denied or exc
            else:
                allowed.append(info)
        if not allowed and denied is not None:
            raise denied
        return allowed

    async def resolve(
        self,
        host: str,
        port: int,
        *,
        family: socket.AddressFamily = socket.AF_UNSPEC,
        type: socket.SocketKind = socket.SOCK_STREAM,
        flags: int = socket.AI_ADDRCONFIG,
    ) -> list[AddrInfo]:
        """Resolve ``host`` (a name or any literal form) and keep the allowed addresses.

        Raises ``socket.gaierror`` when the name does not resolve and ``EgressDenied`` when
        every address it resolves to is denied. Connect to the returned addresses only.
        """
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, family=family, type=type, flags=flags)
        return self.filter(host, list(infos))
