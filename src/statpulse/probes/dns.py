"""The ``dns`` probe: one query to one resolver with dnspython, as ``dig`` would send it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.inet
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.resolver
from dns.rdtypes.ANY.TXT import TXT

from statpulse.model import CheckSpec, DnsInfo, ErrorClass, Observation
from statpulse.probes.base import ProbeContext
from statpulse.probes.connect import rejected, resolve_target
from statpulse.probes.errors import failure
from statpulse.probes.tcp import parse_host_port
from statpulse.probes.timing import PhaseRecorder, elapsed_ms, recording

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA")
PROTOCOLS = ("udp", "tcp")
DEFAULT_PORT = 53


def parse_resolver(text: str) -> tuple[str, int]:
    """Split ``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address into
    (host, port); the port defaults to 53. Raises ValueError for anything else."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = f"{text}:{DEFAULT_PORT}"
    elif text.count(":") > 1 and not text.startswith("["):
        ipaddress.IPv6Address(text.split("%", 1)[0])  # raises ValueError
        return text, DEFAULT_PORT
    elif ":" not in text:
        if not text or any(c.isspace() for c in text):
            raise ValueError("expected host[:port]")
        return text, DEFAULT_PORT
    return parse_host_port(text)


def default_resolver() -> tuple[str, int]:
    """The first nameserver of the system configuration (``/etc/resolv.conf`` on Unix), as
    dnspython's default resolver reads it once per process. Raises ``dns.exception.DNSException``
    (e.g. ``NoResolverConfiguration``) when there is none."""
    resolver = dns.resolver.get_default_resolver()
    if not resolver.nameservers:
        raise dns.resolver.NoResolverConfiguration
    nameserver = resolver.nameservers[0]
    if isinstance(nameserver, str):
        return nameserver, resolver.nameserver_ports.get(nameserver, resolver.port)
    return str(getattr(nameserver, "address", nameserver)), int(getattr(nameserver, "port", 53))


async def probe_dns(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """Ask ``spec.dns.resolver`` (default: ``default_resolver()``) for the ``record_type``
    records of the name ``spec.target``, with one query (recursion desired) over ``protocol``;
    over UDP a truncated answer is asked again over TCP, as dig does.

    Returns an Observation, never raises (except ``asyncio.CancelledError``). Any answer, any
    rcode, is ``connected=True`` with ``dns=DnsInfo(record_type, rcode, answers)``: ``rcode``
    by name (``NOERROR``, ``NXDOMAIN`` ...), ``answers`` the records of that type in the answer
    section as text (A/AAAA the address, MX ``10 mail.example.com.``, TXT its strings joined
    and unquoted, CNAME/NS the target name, SOA the record's text). Failures: ``TIMEOUT``
    (``spec.timeout_s`` bounds the whole check), ``CONNECT`` (refused, unreachable), ``BLOCKED``
    (the egress policy refuses the resolver's address), ``DNS`` (the resolver's own name does
    not resolve, or no system resolver), ``PROTOCOL`` (malformed answer, or an invalid record
    type, protocol, resolver or name). ``ip`` is the resolver's address; phases: ``dns_ms``
    when the resolver is a name, ``first_byte_ms`` the query's round trip (TCP connect
    included, both queries when UDP fell back to TCP). The body stays empty.
    """
    opts = spec.dns
    record_type = opts.record_type.upper()
    if record_type not in RECORD_TYPES:
        choices = ", ".join(RECORD_TYPES)
        return rejected(f"unsupported record type {opts.record_type!r}: use {choices}")
    if opts.protocol not in PROTOCOLS:
        return rejected(f"unsupported protocol {opts.protocol!r}: use udp or tcp")
    try:
        if not spec.target or any(c.isspace() for c in spec.target):
            raise ValueError("empty, or with white space")
        qname = dns.name.from_text(spec.target)
    except (dns.exception.DNSException, ValueError):
        return rejected(f"invalid name to query: {spec.target!r}")
    started = perf_counter()
    with recording() as recorder:
        try:
            if opts.resolver is None:
                host, port = default_resolver()
            else:
                try:
                    host, port = parse_resolver(opts.resolver)
                except ValueError:
                    return rejected(f"invalid resolver {opts.resolver!r}: expected host[:port]")
            async with asyncio.timeout(spec.timeout_s):
                infos = await resolve_target(host, port, recorder, ctx.egress)
                ip = recorder.ip = str(infos[0][4][0])
                recorder.stage = "waiting for the answer"
                query = dns.message.make_query(qname, dns.rdatatype.from_text(record_type))
                sent = perf_counter()
                if opts.protocol == "tcp":
                    response = await dns.asyncquery.tcp(query, ip, port=port)
                else:
                    response = await _udp_with_fallback(query, ip, port)
                recorder.first_byte_ms = elapsed_ms(sent)
                recorder.connected = True
        except dns.resolver.NoResolverConfiguration:
            return _failed(recorder, started, ErrorClass.DNS, "no system resolver is configured")
        except dns.exception.DNSException as exc:
            return _failed(recorder, started, ErrorClass.PROTOCOL, f"invalid DNS answer: {exc}")
        except EOFError:
            message = "the resolver closed the connection without an answer"
            return _failed(recorder, started, ErrorClass.PROTOCOL, message)
        except Exception as exc:
            return failure(exc, timeout_s=spec.timeout_s, started=started, recorder=recorder)
        return Observation(
            connected=True,
            latency_ms=elapsed_ms(started),
            phases=recorder.phases(),
            ip=recorder.ip,
            dns=DnsInfo(
                record_type=record_type,
                rcode=dns.rcode.to_text(response.rcode()),
                answers=_answers(response, query.question[0].rdtype),
            ),
        )


def _failed(
    recorder: PhaseRecorder, started: float, error_class: ErrorClass, message: str
) -> Observation:
    return Observation(
        connected=False,
        latency_ms=elapsed_ms(started),
        phases=recorder.phases(),
        ip=recorder.ip,
        error_class=error_class,
        error_message=message if len(message) <= 200 else message[:199] + "…",
    )


async def _udp_with_fallback(query: dns.message.Message, ip: str, port: int) -> dns.message.Message:
    """Ask over UDP, and over TCP when the answer is truncated. The UDP socket is connected,
    as dig's is: an ICMP "port unreachable" ends the wait at once (``ConnectionRefusedError``)
    and only the resolver's address can answer."""
    # dnspython's backend API is unannotated: name the one call's type here.
    make_socket: Callable[..., Awaitable[Any]] = dns.asyncbackend.get_default_backend().make_socket
    family = dns.inet.af_for_address(ip)
    async with await make_socket(family, socket.SOCK_DGRAM, 0, None, (ip, port)) as sock:
        response, _ = await dns.asyncquery.udp_with_fallback(query, ip, port=port, udp_sock=sock)
    return response


def _answers(response: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> tuple[str, ...]:
    """The answer section's records of ``rdtype`` as text (a CNAME chain's other records are
    left out), in the order the resolver sent them."""
    return tuple(
        _text(rdata) for rrset in response.answer if rrset.rdtype == rdtype for rdata in rrset
    )


def _text(rdata: dns.rdata.Rdata) -> str:
    if isinstance(rdata, TXT):
        return "".join(part.decode("utf-8", "replace") for part in rdata.strings)
    return str(rdata.to_text())
