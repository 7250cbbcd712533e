"""certinfo: TLS facts from an SSL object, host name matching, messages."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from statpulse.model import TlsInfo
from statpulse.probes.certinfo import (
    chain_context,
    date_failure,
    hostname_matches,
    hostname_mismatch,
    names_for,
    peer_certificate,
    tls_info,
    unverified_context,
    verify_message,
)

from .tls_servers import DAY, Issued, issue, make_ca, now, server_context


def _handshake(
    server: ssl.SSLContext, client: ssl.SSLContext, server_hostname: str | None
) -> ssl.SSLObject:
    """A complete handshake in memory; returns the client's SSL object."""
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    client_obj = client.wrap_bio(c_in, c_out, server_hostname=server_hostname)
    server_obj = server.wrap_bio(s_in, s_out, server_side=True)
    done = {"client": False, "server": False}
    for _ in range(20):
        for side, obj in (("client", client_obj), ("server", server_obj)):
            if not done[side]:
                try:
                    obj.do_handshake()
                    done[side] = True
                except ssl.SSLWantReadError:
                    pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
        if all(done.values()):
            return client_obj
    raise AssertionError("handshake did not finish")


def test_tls_info_reports_the_session_and_certificate(tmp_path: Path) -> None:
    ca = make_ca()
    leaf = issue(["example.test", "www.example.test", "192.0.2.7"], ca=ca)
    obj = _handshake(server_context(leaf, tmp_path), unverified_context(), "example.test")

    info = tls_info(obj, chain_valid=False, hostname_valid=True, verify_error="because")

    assert info.version in ("TLSv1.2", "TLSv1.3")
    assert info.cipher
    assert info.subject == "O=StatPulse Tests,CN=example.test"
    assert info.issuer == "O=StatPulse Tests,CN=StatPulse Test CA"
    assert info.sans == ("example.test", "www.example.test", "192.0.2.7")
    assert info.not_before == leaf.cert.not_valid_before_utc
    assert info.not_after == leaf.cert.not_valid_after_utc
    assert info.not_after is not None
    assert info.not_after.tzinfo is not None
    assert (info.chain_valid, info.hostname_valid, info.verify_error) == (False, True, "because")


def test_chain_context_trusts_what_the_given_context_trusts(tmp_path: Path) -> None:
    ca = make_ca()
    leaf = issue(["example.test"], ca=ca)
    trusted = ssl.create_default_context()
    trusted.load_verify_locations(cadata=ca.pem)

    # The chain verifies; the host name is not OpenSSL's business here.
    obj = _handshake(server_context(leaf, tmp_path), chain_context(trusted), "other.test")

    assert peer_certificate(obj) == leaf.cert
    assert chain_context(trusted) is chain_context(trusted)
    with pytest.raises(ssl.SSLCertVerificationError) as caught:
        _handshake(
            server_context(leaf, tmp_path), chain_context(ssl.create_default_context()), None
        )
    assert verify_message(caught.value) == "certificate signed by an unknown authority"


@pytest.mark.parametrize(
    ("patterns", "host", "expected"),
    [
        (["example.test"], "example.test", True),
        (["example.test"], "EXAMPLE.test.", True),
        (["Example.Test"], "example.test", True),
        (["example.test"], "www.example.test", False),
        (["*.example.test"], "www.example.test", True),
        (["*.example.test"], "example.test", False),
        (["*.example.test"], "a.b.example.test", False),
        (["*.test"], "example.test", False),
        (["w*.example.test"], "www.example.test", False),
        (["www.*.test"], "www.example.test", False),
        (["xn--bcher-kva.test"], "bücher.test", True),
        (["192.0.2.7"], "192.0.2.7", True),
        (["192.0.2.7"], "192.0.2.8", False),
        (["2001:db8::1"], "2001:db8:0::1", True),
        (["example.test"], "192.0.2.7", False),
    ],
)
def test_hostname_matching_follows_rfc_6125(patterns: list[str], host: str, expected: bool) -> None:
    assert hostname_matches(issue(patterns).cert, host) is expected


def test_common_name_counts_only_without_dns_names() -> None:
    no_san = issue([], common_name="legacy.test")
    with_san = issue(["other.test"], common_name="legacy.test")
    ip_only = issue(["192.0.2.7"], common_name="legacy.test")

    assert hostname_matches(no_san.cert, "legacy.test")
    assert not hostname_matches(with_san.cert, "legacy.test")
    assert hostname_matches(ip_only.cert, "legacy.test")
    assert not hostname_matches(no_san.cert, "192.0.2.7")


def test_messages_name_the_certificate() -> None:
    many = issue(["a.test", "b.test", "c.test", "d.test", "e.test"])

    assert names_for(issue(["a.test"]).cert) == "a.test"
    assert names_for(many.cert) == "a.test, b.test, c.test (+2 more)"
    assert names_for(issue([], common_name="cn.test").cert) == "cn.test"
    assert hostname_mismatch(issue(["a.test"]).cert, "b.test") == (
        "hostname mismatch: cert is for a.test, not b.test"
    )
    assert (
        hostname_mismatch(None, "b.test")
        == "hostname mismatch: cert is for no certificate, not b.test"
    )


def test_date_failure_says_when() -> None:
    start = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    info = TlsInfo(not_before=start, not_after=start + 90 * DAY)

    assert date_failure(info, start + DAY) is None
    assert date_failure(info, start + 91 * DAY) == "certificate expired on 2030-04-01 00:00:00 UTC"
    assert date_failure(info, start - DAY) == "certificate not valid until 2030-01-01 00:00:00 UTC"
    assert date_failure(TlsInfo(), now()) is None


def test_verify_messages_are_plain() -> None:
    def error(code: int, message: str) -> ssl.SSLCertVerificationError:
        exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
        exc.verify_code, exc.verify_message = code, message
        return exc

    assert verify_message(error(10, "certificate has expired")) == "certificate expired"
    assert verify_message(error(18, "self-signed certificate")) == "self-signed certificate"
    assert verify_message(error(99, "something odd")) == "certificate verify failed: something odd"


def test_an_unparseable_certificate_leaves_the_facts_empty() -> None:
    class Peer:
        def getpeercert(self, binary_form: bool) -> bytes:
            return b"not DER"

        def version(self) -> str:
            return "TLSv1.3"

        def cipher(self) -> tuple[str, str, int]:
            return ("TLS_AES_128_GCM_SHA256", "TLSv1.3", 128)

    info = tls_info(Peer(), chain_valid=False, hostname_valid=False, verify_error=None)  # type: ignore[arg-type]

    assert info == TlsInfo(version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256")


def test_a_certificate_without_names_reports_none() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(x509.Name([]))
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now() - DAY)
        .not_valid_after(now() + DAY)
        .sign(key, hashes.SHA256())
    )

    assert names_for(cert) == "no name"
    assert not hostname_matches(cert, "example.test")
    assert isinstance(Issued(cert, key).pem, str)
