"""A real DNS server for the dns probe tests: UDP and TCP on the same random port of 127.0.0.1,
answering from a zone dict, with names that misbehave on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import cast

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

# (owner name with its final dot, record type) -> records as zone-file text
Zone = dict[tuple[str, str], list[str]]


@dataclass(frozen=True)
class Query:
    name: str
    record_type: str
    protocol: str  # udp | tcp
    recursion_desired: bool


@dataclass
class DnsServer:
    """Answers from ``zone``; names in ``nxdomain``/``servfail`` get that rcode, names in
    ``truncate`` get an empty answer with TC set over UDP (the full one over TCP), names in
    ``silent`` get nothing and names in ``garbage`` get bytes that are no DNS message."""

    zone: Zone
    port: int = 0
    nxdomain: set[str] = field(default_factory=set)
    servfail: set[str] = field(default_factory=set)
    truncate: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    garbage: set[str] = field(default_factory=set)
    queries: list[Query] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answer(self, wire: bytes, protocol: str) -> bytes | None:
        """The reply to one query, or None to stay silent."""
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text().lower()
        record_type = dns.rdatatype.to_text(question.rdtype)
        recursion = bool(query.flags & dns.flags.RD)
        self.queries.append(Query(name, record_type, protocol, recursion))
        if name in self.silent:
            return None
        if name in self.garbage:
            return wire[:2] + b"\x81\x80\x00"  # a response header cut short
        response = dns.message.make_response(query)
        if name in self.nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif protocol == "udp" and name in self.truncate:
            response.flags |= dns.flags.TC
        else:
            self._add_answers(response, name, record_type)
        wire_out: bytes = response.to_wire()
        return wire_out

    def _add_answers(self, response: dns.message.Message, name: str, record_type: str) -> None:
        """The records of ``name``, after following its CNAME chain like a recursive resolver."""
        for _ in range(8):
            alias = self.zone.get((name, "CNAME"))
            if alias and record_type != "CNAME":
                response.answer.append(_rrset(name, "CNAME", alias))
                name = alias[0].lower()
                continue
            records = self.zone.get((name, record_type))
            if records:
                response.answer.append(_rrset(name, record_type, records))
            return


def _rrset(name: str, record_type: str, records: list[str]) -> dns.rrset.RRset:
    return dns.rrset.from_text_list(name, 300, dns.rdataclass.IN, record_type, records)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # not a subclass on 3.11

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.server.answer(data, "udp")
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


@contextlib.asynccontextmanager
async def dns_server(zone: Zone, **behaviour: set[str]) -> AsyncIterator[DnsServer]:
    """Serve ``zone`` on 127.0.0.1 (UDP and TCP, one port) for the duration of the block."""
    server = DnsServer(zone=zone, **behaviour)
    writers: set[asyncio.StreamWriter] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = server.answer(await reader.readexactly(length), "tcp")
                if reply is not None:
                    writer.write(struct.pack("!H", len(reply)) + reply)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    loop = asyncio.get_running_loop()
    for _ in range(20):  # the UDP port picked may be taken for TCP: try another
        udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(server), local_addr=("127.0.0.1", 0)
        )
        port = udp.get_extra_info("sockname")[1]
        try:
            tcp = await asyncio.start_server(handle, "127.0.0.1", port)
        except OSError:
            udp.close()
            continue
        break
    else:
        raise RuntimeError("no free port for both UDP and TCP")
    server.port = port
    try:
        yield server
    finally:
        udp.close()
        tcp.close()
        for writer in writers:
            writer.close()
        await tcp.wait_closed()
