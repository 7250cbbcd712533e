"""The runners' PKI against real TLS 1.3 handshakes on 127.0.0.1:0.

Most tests use a server that accepts plain TCP and upgrades with ``start_tls``, so that the
server's own reason for a refusal ("certificate has expired", ...) can be asserted: a refused
client only sees the connection close (with TLS 1.3 the server judges the client certificate
after the client has finished its side of the handshake). One test uses
``asyncio.start_server(ssl=...)``, the shape of the control plane itself.
"""

from __future__ import annotations

import asyncio
import ssl
import stat
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from statpulse.security.pki import (
    PkiError,
    RevocationList,
    client_context,
    init_pki,
    issue_runner,
    region_of,
    revoke,
    serial_of,
    server_context,
)

TIMEOUT = 10


@dataclass
class Server:
    port: int
    outcomes: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    async def next_outcome(self) -> str:
        return await asyncio.wait_for(self.outcomes.get(), TIMEOUT)


@asynccontextmanager
async def mtls_server(
    ctx: ssl.SSLContext, revocations: RevocationList | None = None
) -> AsyncIterator[Server]:
    """Echo one byte to each accepted runner. Outcomes: ``accepted <region>``, ``revoked
    <region>`` (handshake passed, refused by ``revocations``) or ``refused: <reason>``."""
    server = Server(port=0)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await writer.start_tls(ctx)
        except ssl.SSLError as exc:
            reason = getattr(exc, "verify_message", None) or exc.reason
            server.outcomes.put_nowait(f"refused: {reason}")
            writer.close()
            return
        except ConnectionError:  # the client gave up, e.g. it did not trust our certificate
            server.outcomes.put_nowait("client hung up")
            writer.close()
            return
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        region = region_of(der)
        if revocations is not None and revocations.is_revoked(serial_of(der)):
            server.outcomes.put_nowait(f"revoked {region}")
            writer.transport.abort()  # no goodbye: the runner's byte may already be in flight
            return
        server.outcomes.put_nowait(f"accepted {region}")
        writer.write(await reader.readexactly(1))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


async def talk(port: int, ctx: ssl.SSLContext, hostname: str = "localhost") -> bytes | None:
    """Send one byte and return the echo, or None when the connection is refused. The read
    matters: a TLS 1.3 client learns of the refusal of its certificate only there."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, ssl=ctx, server_hostname=hostname),
            TIMEOUT,
        )
    except (ssl.SSLError, ConnectionError):
        return None
    try:
        writer.write(b"x")
        await writer.drain()
        return await asyncio.wait_for(reader.read(1), TIMEOUT) or None
    except (ssl.SSLError, ConnectionError):
        return None
    finally:
        writer.close()
        with suppress(ssl.SSLError, ConnectionError):
            await writer.wait_closed()


@pytest.fixture
def pki(tmp_path: Path) -> Path:
    directory = tmp_path / "pki"
    init_pki(directory)
    return directory


def runner_ctx(pki: Path, region: str, **validity: datetime) -> ssl.SSLContext:
    cert, key = issue_runner(pki, region, **validity)  # type: ignore[arg-type]
    return client_context(cert, key, pki / "ca.crt")


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def crl_serials(pki: Path) -> set[int]:
    return {r.serial_number for r in x509.load_pem_x509_crl((pki / "crl.pem").read_bytes())}


# --- handshakes ------------------------------------------------------------------------------


async def test_runner_with_a_valid_certificate_is_accepted_and_identified_by_region(
    pki: Path,
) -> None:
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, runner_ctx(pki, "eu-west")) == b"x"
        assert await server.next_outcome() == "accepted eu-west"
        # The server certificate also names 127.0.0.1 (an IP SAN), and the runner checks it.
        assert await talk(server.port, runner_ctx(pki, "us-east"), "127.0.0.1") == b"x"
        assert await server.next_outcome() == "accepted us-east"


async def test_start_server_with_the_server_context_reads_the_region_and_refuses_no_cert(
    pki: Path,
) -> None:
    regions: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ssl_object = writer.get_extra_info("ssl_object")
        regions.append(region_of(ssl_object.getpeercert(binary_form=True)))
        writer.write(await reader.readexactly(1))
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    listener = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_context(pki))
    port = listener.sockets[0].getsockname()[1]
    try:
        assert await talk(port, runner_ctx(pki, "ap-south")) == b"x"
        no_cert = ssl.create_default_context(cafile=pki / "ca.crt")
        assert await talk(port, no_cert) is None
    finally:
        listener.close()
        await listener.wait_closed()
    assert regions == ["ap-south"]  # the handler never saw the refused connection


async def test_client_without_a_certificate_is_refused(pki: Path) -> None:
    no_cert = ssl.create_default_context(cafile=pki / "ca.crt")
    no_cert.minimum_version = ssl.TLSVersion.TLSv1_3
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, no_cert) is None
        assert await server.next_outcome() == "refused: PEER_DID_NOT_RETURN_A_CERTIFICATE"


async def test_certificate_of_another_ca_is_refused(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_pki(other)
    cert, key = issue_runner(other, "eu-west")
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, client_context(cert, key, pki / "ca.crt")) is None
        assert await server.next_outcome() == "refused: unable to get local issuer certificate"


async def test_expired_certificate_is_refused(pki: Path) -> None:
    start = datetime.now(UTC) - timedelta(days=30)
    ctx = runner_ctx(pki, "eu-west", not_before=start, not_after=start + timedelta(days=1))
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, ctx) is None
        assert await server.next_outcome() == "refused: certificate has expired"


async def test_not_yet_valid_certificate_is_refused(pki: Path) -> None:
    start = datetime.now(UTC) + timedelta(days=1)
    ctx = runner_ctx(pki, "eu-west", not_before=start, not_after=start + timedelta(days=1))
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, ctx) is None
        assert await server.next_outcome() == "refused: certificate is not yet valid"


async def test_server_certificate_cannot_be_used_as_a_runner_certificate(pki: Path) -> None:
    ctx = client_context(pki / "server.crt", pki / "server.key", pki / "ca.crt")
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, ctx) is None
        assert await server.next_outcome() == "refused: unsuitable certificate purpose"


async def test_tls_1_2_client_is_refused(pki: Path) -> None:
    ctx = runner_ctx(pki, "eu-west")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, ctx) is None
        assert await server.next_outcome() == "refused: UNSUPPORTED_PROTOCOL"


async def test_runner_refuses_a_server_of_another_ca(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_pki(other)
    async with mtls_server(server_context(other)) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="certificate verify failed"):
            await asyncio.open_connection(
                "127.0.0.1",
                server.port,
                ssl=runner_ctx(pki, "eu-west"),
                server_hostname="localhost",
            )
        assert await server.next_outcome() == "client hung up"


async def test_runner_refuses_a_server_whose_name_does_not_match(pki: Path) -> None:
    async with mtls_server(server_context(pki)) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            await asyncio.open_connection(
                "127.0.0.1", server.port, ssl=runner_ctx(pki, "eu-west"), server_hostname="cp.test"
            )
        assert await server.next_outcome() == "client hung up"


# --- revocation ------------------------------------------------------------------------------


async def test_server_context_created_after_revocation_refuses_the_certificate(
    pki: Path,
) -> None:
    ctx = runner_ctx(pki, "eu-west")
    revoke(pki, region="eu-west")
    async with mtls_server(server_context(pki)) as server:
        assert await talk(server.port, ctx) is None
        assert await server.next_outcome() == "refused: certificate revoked"
        assert await talk(server.port, runner_ctx(pki, "us-east")) == b"x"
        assert await server.next_outcome() == "accepted us-east"


async def test_revocation_after_the_context_was_created_is_enforced_per_connection(
    pki: Path,
) -> None:
    cert, key = issue_runner(pki, "eu-west")
    ctx = client_context(cert, key, pki / "ca.crt")
    revocations = RevocationList(pki)
    async with mtls_server(server_context(pki), revocations) as server:
        assert await talk(server.port, ctx) == b"x"
        assert await server.next_outcome() == "accepted eu-west"

        serial = load(cert).serial_number
        assert revoke(pki, cert=cert) == [serial]
        assert revocations.is_revoked(serial)

        # The old context still completes the handshake; the per-connection check refuses.
        assert await talk(server.port, ctx) is None
        assert await server.next_outcome() == "revoked eu-west"
        assert await talk(server.port, runner_ctx(pki, "us-east")) == b"x"
        assert await server.next_outcome() == "accepted us-east"


def test_revocation_list_follows_the_crl_file(pki: Path) -> None:
    cert, _ = issue_runner(pki, "eu-west")
    serial = load(cert).serial_number
    revocations = RevocationList(pki)
    assert not revocations.is_revoked(serial)
    revoke(pki, serial=serial)
    assert revocations.is_revoked(serial)


def test_crl_signed_by_another_ca_is_rejected(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_pki(other)
    revocations = RevocationList(pki)
    (pki / "crl.pem").write_bytes((other / "crl.pem").read_bytes())
    with pytest.raises(PkiError, match=r"crl\.pem: its signature does not verify"):
        revocations.is_revoked(1)
    with pytest.raises(PkiError, match=r"crl\.pem"):
        server_context(pki)


def test_revoke_region_covers_every_certificate_issued_for_it(pki: Path) -> None:
    first, _ = issue_runner(pki, "eu-west")
    first_serial = load(first).serial_number
    second, _ = issue_runner(pki, "eu-west")
    kept, _ = issue_runner(pki, "us-east")
    # The second issue replaces the files; the first certificate stays valid until revoked.
    assert first == second
    expected = sorted([first_serial, load(second).serial_number])
    assert revoke(pki, region="eu-west") == expected
    assert crl_serials(pki) == set(expected)
    assert load(kept).serial_number not in crl_serials(pki)
    assert revoke(pki, region="eu-west") == expected  # twice is harmless
    crl = x509.load_pem_x509_crl((pki / "crl.pem").read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3


def test_concurrent_revocations_all_reach_the_crl(pki: Path) -> None:
    regions = [f"r{i}" for i in range(8)]
    for region in regions:
        issue_runner(pki, region)
    with ThreadPoolExecutor(len(regions)) as pool:
        revoked = list(pool.map(lambda r: revoke(pki, region=r), regions))
    assert crl_serials(pki) == {s for serials in revoked for s in serials}
    assert len(crl_serials(pki)) == len(regions)


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [
        ({}, "exactly one"),
        ({"serial": 1, "region": "eu-west"}, "exactly one"),
        ({"serial": 12345}, "--serial 12345"),
        ({"region": "nowhere"}, "--region nowhere"),
        ({"cert": Path("/nonexistent/runner.crt")}, "--cert /nonexistent/runner.crt"),
    ],
)
def test_revoke_names_the_option_that_matched_nothing(
    pki: Path, kwargs: dict[str, object], option: str
) -> None:
    with pytest.raises(PkiError, match=option):
        revoke(pki, **kwargs)  # type: ignore[arg-type]


def test_revoke_refuses_a_certificate_of_another_ca(pki: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    init_pki(other)
    cert, _ = issue_runner(other, "eu-west")
    with pytest.raises(PkiError, match=r"--cert .*not issued by the CA"):
        revoke(pki, cert=cert)
    assert crl_serials(pki) == set()


# --- files and certificates ------------------------------------------------------------------


def test_init_writes_ca_server_and_empty_crl_with_private_keys_0600(pki: Path) -> None:
    for name in ("ca.key", "server.key"):
        assert stat.S_IMODE((pki / name).stat().st_mode) == 0o600
    ca = load(pki / "ca.crt")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    server = load(pki / "server.crt")
    server.verify_directly_issued_by(ca)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ip_address("127.0.0.1"), ip_address("::1")]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    crl = x509.load_pem_x509_crl((pki / "crl.pem").read_bytes())
    assert len(crl) == 0 and crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]


def test_init_refuses_to_overwrite_an_existing_ca(pki: Path) -> None:
    before = (pki / "ca.key").read_bytes()
    with pytest.raises(PkiError, match=r"ca\.(crt|key): a CA already exists"):
        init_pki(pki)
    assert (pki / "ca.key").read_bytes() == before


def test_init_names_a_bad_server_name(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="--name 'not a host'"):
        init_pki(tmp_path / "pki", server_names=["not a host"])
    assert not (tmp_path / "pki").exists()


def test_runner_certificate_carries_its_region_and_is_indexed(pki: Path) -> None:
    cert_path, key_path = issue_runner(pki, "eu-west-2", days=30)
    assert (cert_path.name, key_path.name) == ("runner-eu-west-2.crt", "runner-eu-west-2.key")
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = load(cert_path)
    cert.verify_directly_issued_by(load(pki / "ca.crt"))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "runner:eu-west-2"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    der = cert.public_bytes(Encoding.DER)
    assert region_of(der) == "eu-west-2"
    assert serial_of(der) == cert.serial_number
    index = (pki / "issued.json").read_text()
    assert f'"{cert.serial_number}"' in index and "runner-eu-west-2.crt" in index


@pytest.mark.parametrize("region", ["", "EU", "-eu", "eu_west", "eu/../x", "a" * 64, "eu west"])
def test_bad_region_names_the_option(pki: Path, region: str) -> None:
    with pytest.raises(PkiError, match="--region"):
        issue_runner(pki, region)
    assert list(pki.glob("runner-*")) == []


def test_runner_certificate_may_not_outlive_the_ca(pki: Path) -> None:
    with pytest.raises(PkiError, match=r"--days: .*outlive the CA"):
        issue_runner(pki, "eu-west", days=10_000)
    now = datetime.now(UTC)
    with pytest.raises(PkiError, match="--days"):
        issue_runner(pki, "eu-west", not_before=now, not_after=now)


def test_issue_without_a_ca_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match=r"ca\.crt"):
        issue_runner(tmp_path, "eu-west")


def test_region_of_rejects_certificates_without_a_region(pki: Path) -> None:
    server_der = load(pki / "server.crt").public_bytes(Encoding.DER)
    with pytest.raises(PkiError, match="statpulse:region:"):
        region_of(server_der)
    with pytest.raises(PkiError, match="not a DER"):
        region_of(b"garbage")
    with pytest.raises(PkiError, match="none presented"):
        region_of(None)


def test_client_context_names_an_unreadable_file(pki: Path, tmp_path: Path) -> None:
    missing = tmp_path / "runner-x.crt"
    with pytest.raises(PkiError, match=r"runner-x\.crt"):
        client_context(missing, pki / "server.key", pki / "ca.crt")
