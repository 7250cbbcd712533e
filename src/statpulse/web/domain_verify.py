"""Proof that a page owner controls a custom domain, checked when they ask (``verify``):

- DNS: ``_statpulse.<hostname>`` has the TXT record ``statpulse-verify=<token>``;
- HTTP: ``http://<hostname>:<port>/.well-known/statpulse-verify/<token>`` answers 200 with the
  token as its body (once the CNAME points here, StatPulse answers it itself: see
  web/domains.py), fetched without redirects from an address the egress guard allows.

Names are resolved through ``resolver`` ("IP" or "IP:PORT"; None: the system's resolvers) with
dnspython. Each check returns None on success, otherwise a short sentence saying what was found.
"""

from __future__ import annotations

import asyncio

import dns.asyncresolver
import dns.exception
import dns.resolver

from statpulse.custom_domains import WELL_KNOWN_PATH, txt_name, txt_value
from statpulse.security.egress import EgressDenied, EgressPolicy

TIMEOUT_S = 5.0
MAX_READ = 4096


def _resolver(address: str | None) -> dns.asyncresolver.Resolver:
    if address is None:
        resolver = dns.asyncresolver.Resolver()
    else:
        resolver = dns.asyncresolver.Resolver(configure=False)
        host, port = address, 53
        if address.startswith("["):
            host, _, rest = address[1:].partition("]")
            port = int(rest.removeprefix(":") or 53)
        elif address.count(":") == 1:
            host, _, port_text = address.partition(":")
            port = int(port_text)
        resolver.nameservers = [host]
        resolver.port = port
    resolver.lifetime = TIMEOUT_S
    return resolver


def _dns_problem(name: str, exc: Exception) -> str:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return f"{name} does not exist"
    if isinstance(exc, dns.resolver.NoAnswer):
        return f"{name} has no such record"
    if isinstance(exc, dns.exception.Timeout):
        return f"DNS lookup of {name} timed out"
    return f"DNS lookup of {name} failed ({type(exc).__name__})"


async def txt_verified(hostname: str, token: str, resolver: str | None) -> str | None:
    name = txt_name(hostname)
    try:
        answer = await _resolver(resolver).resolve(name, "TXT")
    except (dns.exception.DNSException, ValueError, OSError) as exc:
        return _dns_problem(name, exc)
    want = txt_value(token)
    found = [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    if want in found:
        return None
    return f"no TXT record of {name} is {want!r}"


async def _addresses(hostname: str, resolver: str | None) -> list[str]:
    """A then AAAA addresses; raises DNSException when neither exists."""
    found: list[str] = []
    failure: Exception | None = None
    for record_type in ("A", "AAAA"):
        try:
            answer = await _resolver(resolver).resolve(hostname, record_type)
        except (dns.exception.DNSException, ValueError, OSError) as exc:
            failure = failure or exc
            continue
        found.extend(r.to_text() for r in answer)
    if not found and failure is not None:
        raise failure
    return found


async def http_verified(
    hostname: str, token: str, resolver: str | None, port: int, egress: EgressPolicy
) -> str | None:
    url = f"http://{hostname}:{port}{WELL_KNOWN_PATH}{token}"
    try:
        addresses = await _addresses(hostname, resolver)
    except (dns.exception.DNSException, ValueError, OSError) as exc:
        return _dns_problem(hostname, exc)
    allowed = []
    for address in addresses:
        try:
            egress.check(hostname, address)
        except EgressDenied:
            continue
        allowed.append(address)
    if not allowed:
        return f"{hostname} resolves only to addresses this server may not connect to"
    try:
        async with asyncio.timeout(TIMEOUT_S):
            status, body = await _get(allowed[0], port, hostname, WELL_KNOWN_PATH + token)
    except TimeoutError:
        return f"{url} timed out"
    except (OSError, ValueError) as exc:
        return f"{url} failed ({type(exc).__name__})"
    if status != 200:
        return f"{url} answered {status}"
    if body.strip() != token.encode():
        return f"{url} did not answer with the token"
    return None


async def _get(address: str, port: int, host: str, path: str) -> tuple[int, bytes]:
    """One HTTP/1.0 GET; the status and at most MAX_READ bytes of the body."""
    reader, writer = await asyncio.open_connection(address, port)
    try:
        request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: StatPulse\r\n\r\n"
        writer.write(request.encode("ascii"))
        await writer.drain()
        data = b""
        while len(data) < MAX_READ and (chunk := await reader.read(MAX_READ)):
            data += chunk
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        raise ValueError("not an HTTP response")
    return int(status_line[1]), body[:MAX_READ]
