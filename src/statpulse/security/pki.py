"""The private PKI of remote runners: one CA, the control plane's server certificate, one client
certificate per runner region, and a CRL.

Layout of a PKI directory (``init_pki`` creates it, ``issue_runner`` and ``revoke`` extend it):
``ca.crt``, ``ca.key``, ``server.crt``, ``server.key``, ``crl.pem``, ``issued.json`` (serial ->
region, certificate file, not_after) and ``runner-<region>.crt`` / ``.key``. Keys are EC P-256
and written with mode 0600; every file is replaced atomically, so a reader never sees half a
CRL.

A runner's identity is its region, carried by the SAN URI ``statpulse:region:<region>``
(authoritative) and mirrored in the subject CN ``runner:<region>``. The server context checks
the CRL it loaded at creation; ``RevocationList`` lets a long-lived server honour later
revocations per connection without a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import re
import secrets
import ssl
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
SERVER_CERT = "server.crt"
SERVER_KEY = "server.key"
CRL_FILE = "crl.pem"
INDEX_FILE = "issued.json"
REGION_URI_PREFIX = "statpulse:region:"
DEFAULT_SERVER_NAMES = ("localhost", "127.0.0.1", "::1")

_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_DNS_NAME = re.compile(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9][A-Za-z0-9-]{0,62})*")
# Certificates start a little in the past: runners in other regions may run a few minutes behind.
_CLOCK_SKEW = timedelta(minutes=5)


class PkiError(Exception):
    """A PKI operation failed; the message names the file or the command-line option."""


def init_pki(
    directory: Path,
    *,
    server_names: Sequence[str] = DEFAULT_SERVER_NAMES,
    days: int = 825,
) -> None:
    """Create the CA, the server certificate (SANs from ``server_names``: IP literals become
    IP addresses, the rest DNS names) and an empty CRL, all valid ``days`` days. Raises
    PkiError if a CA already exists in ``directory`` or an argument is invalid."""
    if days < 1:
        raise PkiError("--days: must be at least 1")
    sans = [_server_san(name) for name in server_names]
    if not sans:
        raise PkiError("--name: give at least one server name")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _locked(directory):
        for name in (CA_CERT, CA_KEY):
            if (directory / name).exists():
                raise PkiError(f"{directory / name}: a CA already exists here; not overwriting it")
        now = datetime.now(UTC)
        not_after = now + timedelta(days=days)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name(f"StatPulse runner CA {secrets.token_hex(4)}")
        ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(ski, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        server_key = ec.generate_private_key(ec.SECP256R1())
        server_cert = _leaf(
            ca_cert,
            ca_key,
            server_key,
            "statpulse control plane",
            sans,
            ExtendedKeyUsageOID.SERVER_AUTH,
            now - _CLOCK_SKEW,
            not_after,
        )
        _write_private(directory / CA_KEY, _key_pem(ca_key))
        _write_public(directory / CA_CERT, ca_cert.public_bytes(serialization.Encoding.PEM))
        _write_private(directory / SERVER_KEY, _key_pem(server_key))
        _write_public(directory / SERVER_CERT, server_cert.public_bytes(serialization.Encoding.PEM))
        _write_crl(directory, ca_cert, ca_key, {}, number=1)


def issue_runner(
    directory: Path,
    region: str,
    *,
    days: int = 365,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> tuple[Path, Path]:
    """Issue the client certificate of the runner in ``region`` (clientAuth) and record it in
    ``issued.json``. Returns (certificate path, key path); an earlier certificate of the region
    is replaced on disk but stays valid until it expires or is revoked. Raises PkiError for a
    bad region or validity, a missing CA, or a certificate that would outlive the CA."""
    if not _REGION.fullmatch(region):
        raise PkiError(f"--region {region!r}: use 1-63 lower-case letters, digits and dashes")
    ca_cert, ca_key = _load_ca(directory)
    now = datetime.now(UTC)
    start = now - _CLOCK_SKEW if not_before is None else _aware(not_before)
    if not_after is None:
        if days < 1:
            raise PkiError("--days: must be at least 1")
        not_after = now + timedelta(days=days)
    not_after = _aware(not_after)
    if not_after <= start:
        raise PkiError("--days: the certificate would expire before it becomes valid")
    if not_after > ca_cert.not_valid_after_utc:
        expiry = ca_cert.not_valid_after_utc.isoformat()
        raise PkiError(f"--days: the certificate would outlive the CA ({CA_CERT} ends {expiry})")
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.UniformResourceIdentifier(REGION_URI_PREFIX + region)
    usage = ExtendedKeyUsageOID.CLIENT_AUTH
    cert = _leaf(ca_cert, ca_key, key, f"runner:{region}", [san], usage, start, not_after)
    cert_path = directory / f"runner-{region}.crt"
    key_path = directory / f"runner-{region}.key"
    with _locked(directory):
        _write_private(key_path, _key_pem(key))
        _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        index = _read_index(directory)
        index[str(cert.serial_number)] = {
            "region": region,
            "cert": cert_path.name,
            "not_after": not_after.astimezone(UTC).isoformat(),
        }
        _write_public(directory / INDEX_FILE, json.dumps(index, indent=2).encode() + b"\n")
    return cert_path, key_path


def revoke(
    directory: Path,
    *,
    cert: Path | None = None,
    serial: int | None = None,
    region: str | None = None,
) -> list[int]:
    """Add to ``crl.pem`` (re-signed by the CA) the certificate ``cert``, the serial ``serial``
    (as recorded in ``issued.json``) or every runner certificate issued for ``region``; give
    exactly one. Returns the matching serials, sorted (revoking twice is harmless). Raises
    PkiError naming the option when nothing of this CA matches."""
    if sum(arg is not None for arg in (cert, serial, region)) != 1:
        raise PkiError("give exactly one of --cert, --serial, --region")
    ca_cert, ca_key = _load_ca(directory)
    with _locked(directory):
        index = _read_index(directory)
        if cert is not None:
            found = _load_cert(cert, option="--cert")
            try:
                found.verify_directly_issued_by(ca_cert)
            except (ValueError, TypeError, InvalidSignature):
                raise PkiError(f"--cert {cert}: not issued by the CA in {directory}") from None
            serials = [found.serial_number]
        elif serial is not None:
            if str(serial) not in index:
                raise PkiError(f"--serial {serial}: not in {directory / INDEX_FILE}")
            serials = [serial]
        else:
            serials = sorted(int(s) for s, e in index.items() if e.get("region") == region)
            if not serials:
                raise PkiError(f"--region {region}: no runner certificate was issued for it")
        crl = _load_crl(directory, ca_cert)
        entries = {r.serial_number: r.revocation_date_utc for r in crl}
        now = datetime.now(UTC)
        for number in serials:
            entries.setdefault(number, now)
        crl_number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        _write_crl(directory, ca_cert, ca_key, entries, number=crl_number + 1)
    return sorted(serials)


class RevocationList:
    """The serials revoked in ``<directory>/crl.pem``, re-read (and its signature checked
    against ``ca.crt``) whenever the file changes. ``is_revoked`` costs one ``stat`` otherwise,
    cheap enough to call for every new connection. Both raise PkiError if the CRL is missing
    or does not verify: callers should then refuse the connection."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._ca = _load_cert(directory / CA_CERT)
        # One tuple, swapped whole: safe to share between threads without a lock.
        self._state: tuple[tuple[int, ...], frozenset[int]] = ((), frozenset())
        self._refresh()

    def is_revoked(self, serial: int) -> bool:
        return serial in self._refresh()

    def _refresh(self) -> frozenset[int]:
        path = self._directory / CRL_FILE
        try:
            st = path.stat()
        except OSError as exc:
            raise PkiError(f"{path}: {exc.strerror}") from None
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size)
        if stamp != self._state[0]:
            crl = _load_crl(self._directory, self._ca)
            self._state = (stamp, frozenset(r.serial_number for r in crl))
        return self._state[1]


def server_context(directory: Path) -> ssl.SSLContext:
    """The control plane's TLS context: TLS 1.3 only, a client certificate of this CA required
    and checked against the CRL as it is now (for later revocations, see RevocationList).
    Session tickets are off, so every connection presents and verifies its certificate."""
    ca_cert = _load_cert(directory / CA_CERT)
    _load_crl(directory, ca_cert)  # a clear error for a bad CRL before OpenSSL's vague one
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF | ssl.VERIFY_X509_STRICT
    ctx.num_tickets = 0
    _load_chain(ctx, directory / SERVER_CERT, directory / SERVER_KEY)
    for path in (directory / CA_CERT, directory / CRL_FILE):  # cafile also loads CRLs
        _load_verify(ctx, path)
    return ctx


def client_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """A runner's TLS context: TLS 1.3 only, the server verified against ``ca`` including its
    host name, ``cert``/``key`` presented. Raises PkiError naming an unreadable file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    _load_verify(ctx, ca)
    _load_chain(ctx, cert, key)
    return ctx


def region_of(der: bytes | None) -> str:
    """The region of a verified peer certificate (``getpeercert(binary_form=True)``), from its
    SAN URI ``statpulse:region:<region>``. Raises PkiError if it is absent, repeated or
    malformed."""
    cert = _peer(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise PkiError("peer certificate: no subjectAltName with the region") from None
    uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    regions = [u.removeprefix(REGION_URI_PREFIX) for u in uris if u.startswith(REGION_URI_PREFIX)]
    if len(regions) != 1:
        raise PkiError(f"peer certificate: expected one {REGION_URI_PREFIX}<region> URI")
    if not _REGION.fullmatch(regions[0]):
        raise PkiError(f"peer certificate: malformed region {regions[0]!r}")
    return regions[0]


def certificate_der(path: Path) -> bytes:
    """The DER of a PEM certificate file (e.g. to read a runner's own region before dialing)."""
    return _load_cert(path, option="--cert").public_bytes(serialization.Encoding.DER)


def serial_of(der: bytes | None) -> int:
    """The serial number of a peer certificate given as DER. Raises PkiError if it is absent."""
    return _peer(der).serial_number


def _peer(der: bytes | None) -> x509.Certificate:
    if not der:
        raise PkiError("peer certificate: none presented")
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise PkiError("peer certificate: not a DER X.509 certificate") from None


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are taken as UTC, as cryptography does."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "StatPulse"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _server_san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if len(name) > 253 or not _DNS_NAME.fullmatch(name):
        raise PkiError(f"--name {name!r}: not a DNS name or IP address")
    return x509.DNSName(name)


def _leaf(
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    sans: Sequence[x509.GeneralName],
    usage: x509.ObjectIdentifier,
    not_before: datetime,
    not_after: datetime,
) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _write_crl(
    directory: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    entries: dict[int, datetime],
    *,
    number: int,
) -> None:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    now = datetime.now(UTC)
    # next_update is the CA's end: OpenSSL refuses every handshake once the CRL it holds has
    # expired, and this CRL is only re-signed on revocation.
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - _CLOCK_SKEW)
        .next_update(max(ca_cert.not_valid_after_utc, now + timedelta(days=1)))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    )
    for serial, when in sorted(entries.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    _write_public(directory / CRL_FILE, crl.public_bytes(serialization.Encoding.PEM))


def _load_crl(directory: Path, ca_cert: x509.Certificate) -> x509.CertificateRevocationList:
    path = directory / CRL_FILE
    try:
        crl = x509.load_pem_x509_crl(path.read_bytes())
    except OSError as exc:
        raise PkiError(f"{path}: {exc.strerror}") from None
    except ValueError:
        raise PkiError(f"{path}: not a PEM CRL") from None
    public_key = ca_cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(
        public_key
    ):
        raise PkiError(f"{path}: its signature does not verify against {CA_CERT}")
    return crl


def _load_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = _load_cert(directory / CA_CERT)
    path = directory / CA_KEY
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise PkiError(f"{path}: {exc.strerror} (run `statpulse pki init` first?)") from None
    except (ValueError, TypeError):
        raise PkiError(f"{path}: not an unencrypted PEM private key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise PkiError(f"{path}: not an EC private key")
    return cert, key


def _load_cert(path: Path, *, option: str = "") -> x509.Certificate:
    label = f"{option} {path}" if option else str(path)
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise PkiError(f"{label}: {exc.strerror}") from None
    except ValueError:
        raise PkiError(f"{label}: not a PEM certificate") from None


def _load_chain(ctx: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:  # ssl.SSLError does not say which of the two
        raise PkiError(f"{cert} / {key}: cannot load the certificate and key ({exc})") from None


def _load_verify(ctx: ssl.SSLContext, path: Path) -> None:
    try:
        ctx.load_verify_locations(cafile=path)
    except (OSError, ssl.SSLError) as exc:
        raise PkiError(f"{path}: cannot load ({exc})") from None


def _read_index(directory: Path) -> dict[str, dict[str, str]]:
    path = directory / INDEX_FILE
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PkiError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise PkiError(f"{path}: expected an object of serial -> certificate")
    return data


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    _write(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write(path, data, 0o644)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write to a temporary file created with ``mode`` (never wider, whatever the umask) and
    rename it over ``path``: readers see the old file or the new one, never a mix."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise writers of one PKI directory (two revocations must not drop each other's
    entries from the CRL)."""
    with (directory / ".lock").open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
