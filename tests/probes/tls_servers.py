"""Certificates made on the spot and tiny asyncio servers for the tls and tcp probe tests.

Every server listens on 127.0.0.1 port 0 and, on exit, aborts the connections it still holds
and waits for their handlers, so no transport outlives the test (ResourceWarning is an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
DAY = datetime.timedelta(days=1)


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "StatPulse Tests"),
        ]
    )


def make_ca(common_name: str = "StatPulse Test CA") -> Issued:
    """A self-signed CA certificate, valid from yesterday for 30 days."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now() - DAY)
        .not_valid_after(now() + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def issue(
    names: Sequence[str] = ("localhost", "127.0.0.1"),
    *,
    ca: Issued | None = None,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    common_name: str | None = None,
) -> Issued:
    """A server certificate for ``names`` (IP addresses become IP entries), signed by ``ca``
    or self-signed; valid from an hour ago for 10 days unless told."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(common_name or (names[0] if names else "no-san"))
    sans: list[x509.GeneralName] = []
    for entry in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(entry)))
        except ValueError:
            sans.append(x509.DNSName(entry))
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.cert.subject if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now() - datetime.timedelta(hours=1))
        .not_valid_after(not_after or now() + 10 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ca is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    return Issued(builder.sign(ca.key if ca else key, hashes.SHA256()), key)


@dataclass
class SniLog:
    """The server names clients asked for (None: no SNI), in order."""

    names: list[str | None] = field(default_factory=list)


def server_context(
    leaf: Issued,
    directory: Path,
    *,
    chain: Sequence[Issued] = (),
    max_version: ssl.TLSVersion | None = None,
    sni: SniLog | None = None,
) -> ssl.SSLContext:
    """A server-side context presenting ``leaf`` (then ``chain``)."""
    cert_path = directory / f"{leaf.cert.serial_number}.crt"
    key_path = directory / f"{leaf.cert.serial_number}.key"
    cert_path.write_text(leaf.pem + "".join(c.pem for c in chain))
    key_path.write_text(leaf.key_pem())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if max_version is not None:
        context.maximum_version = max_version
    if sni is not None:

        def remember(_obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
            sni.names.append(name)

        context.sni_callback = remember
    return context


@contextlib.asynccontextmanager
async def serve(
    handler: Handler, *, ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[int]:
    """Run ``handler`` for each connection on 127.0.0.1; yields the port. Handler errors
    (a client that went away) are ignored; every connection is closed on exit."""
    writers: set[asyncio.StreamWriter] = set()
    tasks: set[asyncio.Task[None]] = set()

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        writers.add(writer)
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client went away, or the server is shutting down
        finally:
            writer.transport.abort()

    server = await asyncio.start_server(run, "127.0.0.1", 0, ssl=ssl_context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.transport.abort()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
        await asyncio.sleep(0)


async def hold_open(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep the connection until the client closes it (a TLS server after its handshake)."""
    await reader.read()


async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, never answer: read whatever comes (a ClientHello) and wait for the end."""
    while await reader.read(4096):
        pass


def starttls_handler(protocol: str, context: ssl.SSLContext, *, refuse: bool = False) -> Handler:
    """A server speaking just enough ``protocol`` (smtp, imap, pop3, ftp) to upgrade to TLS
    with ``context``; then it answers "PING" with "PONG" over TLS. ``refuse``: the server
    declines the upgrade."""
    script: dict[str, tuple[bytes, bytes, bytes, bytes]] = {
        # greeting, command that asks for TLS, yes, no
        "smtp": (
            b"220 mail.test ESMTP\r\n",
            b"STARTTLS",
            b"220 2.0.0 go ahead\r\n",
            b"454 4.7.0 no TLS\r\n",
        ),
        "imap": (
            b"* OK IMAP4rev1 ready\r\n",
            b"a001 STARTTLS",
            b"a001 OK begin TLS\r\n",
            b"a001 BAD no\r\n",
        ),
        "pop3": (b"+OK POP3 ready\r\n", b"STLS", b"+OK begin TLS\r\n", b"-ERR no\r\n"),
        "ftp": (
            b"220-Welcome\r\n220 FTP ready\r\n",
            b"AUTH TLS",
            b"234 AUTH TLS ok\r\n",
            b"502 no\r\n",
        ),
    }
    greeting, ask, yes, no = script[protocol]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(greeting)
        while True:
            line = (await reader.readline()).rstrip(b"\r\n")
            if not line:
                return
            if line.upper().startswith(b"EHLO"):
                writer.write(b"250-mail.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            elif line == ask:
                writer.write(no if refuse else yes)
                if refuse:
                    continue
                await writer.drain()
                await writer.start_tls(context)
                await pong(reader, writer)
                return
            else:
                writer.write(b"500 what?\r\n")

    return handle


async def pong(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer each "PING" line with "PONG"; stop at the end of the stream."""
    while line := await reader.readline():
        if line.strip() == b"PING":
            writer.write(b"PONG\r\n")
            await writer.drain()
