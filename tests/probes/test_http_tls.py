"""The http probe's TLS: a monitor's own CA, client certificates (mutual TLS), TLS facts."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from statpulse.model import ErrorClass
from statpulse.probes import ProbeContext, probe_http

from .conftest import ServerFactory, SpecFactory


@dataclass(frozen=True)
class Issued:
    cert_pem: str
    key_pem: str


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


class LocalCA:
    def __init__(self, common: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common))
            .issuer_name(_name(common))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def issue(self, common: str, *, server: bool) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(self.key, hashes.SHA256())
        return Issued(cert.public_bytes(serialization.Encoding.PEM).decode(), _key_pem(key))


@pytest.fixture(scope="module")
def ca() -> LocalCA:
    return LocalCA("StatPulse Test CA")


async def _mtls_server(
    start_server: ServerFactory, ca: LocalCA, tmp_path: Path, *, require_client: bool
) -> str:
    issued = ca.issue("127.0.0.1", server=True)
    cert, key, ca_file = tmp_path / "s.crt", tmp_path / "s.key", tmp_path / "ca.crt"
    cert.write_text(issued.cert_pem)
    key.write_text(issued.key_pem)
    ca_file.write_text(ca.pem)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    if require_client:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(ca_file)
    server = await start_server(ssl_context=context)
    return f"{server.url}/ok"


async def test_own_ca_verifies_and_tls_facts_are_reported(
    probe_ctx: ProbeContext,
    start_server: ServerFactory,
    ca: LocalCA,
    tmp_path: Path,
    make_spec: SpecFactory,
) -> None:
    url = await _mtls_server(start_server, ca, tmp_path, require_client=False)
    obs = await probe_http(make_spec(url, ca_cert=ca.pem), probe_ctx)
    assert obs.error_class is None, obs.error_message
    assert obs.tls is not None
    assert obs.tls.chain_valid and obs.tls.hostname_valid
    assert obs.tls.issuer == "CN=StatPulse Test CA"
    assert obs.tls.subject == "CN=127.0.0.1"
    assert obs.tls.version in ("TLSv1.2", "TLSv1.3")
    assert obs.tls.not_after is not None
    assert obs.http_version == "1.1"


async def test_without_the_ca_the_certificate_fails_verification(
    probe_ctx: ProbeContext,
    start_server: ServerFactory,
    ca: LocalCA,
    tmp_path: Path,
    make_spec: SpecFactory,
) -> None:
    url = await _mtls_server(start_server, ca, tmp_path, require_client=False)
    obs = await probe_http(make_spec(url), probe_ctx)
    assert obs.error_class is ErrorClass.TLS


async def test_client_certificate_is_presented_for_mutual_tls(
    probe_ctx: ProbeContext,
    start_server: ServerFactory,
    ca: LocalCA,
    tmp_path: Path,
    make_spec: SpecFactory,
) -> None:
    url = await _mtls_server(start_server, ca, tmp_path, require_client=True)
    client = ca.issue("monitor", server=False)
    with_cert = make_spec(
        url, ca_cert=ca.pem, client_cert=client.cert_pem, client_key=client.key_pem
    )
    obs = await probe_http(with_cert, probe_ctx)
    assert obs.error_class is None, obs.error_message
    assert obs.status_code == 200

    without = await probe_http(make_spec(url, ca_cert=ca.pem), probe_ctx)
    assert without.error_class in (ErrorClass.TLS, ErrorClass.CONNECT, ErrorClass.PROTOCOL)
    assert without.status_code is None


async def test_unusable_pem_is_a_tls_error_before_connecting(
    probe_ctx: ProbeContext, make_spec: SpecFactory
) -> None:
    bad = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    obs = await probe_http(make_spec("https://127.0.0.1:9/", ca_cert=bad), probe_ctx)
    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message is not None
    assert obs.error_message.startswith("invalid TLS settings")
    assert not obs.connected


async def test_unverified_check_reports_the_chain_as_not_verified(
    probe_ctx: ProbeContext,
    start_server: ServerFactory,
    ca: LocalCA,
    tmp_path: Path,
    make_spec: SpecFactory,
) -> None:
    url = await _mtls_server(start_server, ca, tmp_path, require_client=False)
    obs = await probe_http(make_spec(url, verify_tls=False), probe_ctx)
    assert obs.error_class is None
    assert obs.tls is not None
    assert not obs.tls.chain_valid
    assert obs.tls.verify_error == "not verified (verify_tls is off)"


async def test_redirect_hops_are_recorded(
    probe_ctx: ProbeContext, start_server: ServerFactory, make_spec: SpecFactory
) -> None:
    server = await start_server()
    obs = await probe_http(make_spec(f"{server.url}/redirect/2"), probe_ctx)
    assert obs.body == b"arrived"
    assert [(h.status_code, h.location) for h in obs.redirects] == [
        (302, "/redirect/1"),
        (302, "/redirect/0"),
    ]
    assert obs.redirects[0].url == f"{server.url}/redirect/2"
