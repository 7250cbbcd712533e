"""Facts about a TLS session and its peer certificate, and the checks a monitor makes on them.

Independent of any probe: give it the ``ssl.SSLObject`` (or ``SSLSocket``) of a finished
handshake. The certificate is read in DER (``getpeercert(binary_form=True)``) and parsed with
``cryptography``, so the facts are there even when the handshake did not verify anything.

Chain and host name are judged separately, so each fact is true on its own:

- ``chain_context(trusted)`` verifies the chain against the CAs of ``trusted`` (the system
  store plus any CA loaded into it) but not the host name: OpenSSL stops at the first error,
  and it checks the host name before the validity dates, so one verifying handshake cannot say
  both "expired" and "wrong host";
- ``hostname_matches`` checks the host name as OpenSSL does for Python (RFC 6125): DNS names
  from the subjectAltName, case-insensitive, IDNA, a ``*`` only as the whole left-most label
  of a name with at least three labels; the subject CN only when there is no DNS name; an IP
  address only against IP address entries.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import ssl
import weakref
from datetime import datetime

from cryptography import x509
from cryptography.x509.oid import NameOID

from statpulse.model import TlsInfo

# OpenSSL X509_V_ERR_* codes (``SSLCertVerificationError.verify_code``) worth a plain message.
_VERIFY_MESSAGES: dict[int, str] = {
    2: "certificate issuer not found",
    9: "certificate not yet valid",
    10: "certificate expired",
    18: "self-signed certificate",
    19: "self-signed certificate in the chain",
    20: "certificate signed by an unknown authority",
    21: "certificate signed by an unknown authority (or the chain is incomplete)",
    23: "certificate revoked",
    26: "certificate not meant for TLS servers",
    62: "hostname mismatch",
    64: "IP address mismatch",
}

_chain_contexts: weakref.WeakKeyDictionary[ssl.SSLContext, ssl.SSLContext] = (
    weakref.WeakKeyDictionary()
)


def chain_context(trusted: ssl.SSLContext) -> ssl.SSLContext:
    """A client context that verifies the chain against the CAs of ``trusted`` but leaves the
    host name to ``hostname_matches``; SNI is still sent for a ``server_hostname``; no ALPN.

    Trust is copied: every CA certificate loaded into ``trusted`` (the system file, extra CAs)
    plus the system CA directory. Not copied: a non-CA certificate loaded as a trust anchor
    (``get_ca_certs`` omits it), and CAs loaded into ``trusted`` after its first use here.
    Built once per ``trusted`` context; building is blocking (about 70 ms for the system
    store), so a long-lived owner should call this once up front."""
    context = _chain_contexts.get(trusted)
    if context is None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags = trusted.verify_flags
        context.minimum_version = trusted.minimum_version
        cas = trusted.get_ca_certs(binary_form=True)
        if cas:
            context.load_verify_locations(cadata=b"".join(cas))
        capath = ssl.get_default_verify_paths().capath
        if capath:
            context.load_verify_locations(capath=capath)
        _chain_contexts[trusted] = context
    return context


@functools.cache
def unverified_context() -> ssl.SSLContext:
    """A client context that verifies nothing (to read the facts of any certificate).
    Offers no ALPN; SNI is sent for a ``server_hostname``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def peer_certificate(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> x509.Certificate | None:
    """The peer's certificate, or None when it sent none or it cannot be parsed."""
    der = ssl_object.getpeercert(binary_form=True)
    return _parse(der) if der else None


# Monitors see the same few certificates on every check: parse each once.
@functools.lru_cache(maxsize=1024)
def _parse(der: bytes) -> x509.Certificate | None:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        return None


@functools.lru_cache(maxsize=1024)
def _facts(der: bytes) -> TlsInfo | None:
    """The certificate part of TlsInfo (verdict fields left at their defaults)."""
    cert = _parse(der)
    if cert is None:
        return None
    return TlsInfo(
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        issuer=cert.issuer.rfc4514_string(),
        subject=cert.subject.rfc4514_string(),
        sans=subject_alt_names(cert),
    )


def tls_info(
    ssl_object: ssl.SSLObject | ssl.SSLSocket,
    *,
    chain_valid: bool,
    hostname_valid: bool,
    verify_error: str | None,
) -> TlsInfo:
    """The facts of a finished handshake: protocol version, cipher and the peer certificate's
    dates (aware UTC), issuer and subject (RFC 4514) and subjectAltNames (DNS names and IP
    addresses as text). The verdicts are the caller's. Never raises for an odd certificate:
    the certificate fields stay empty when there is none or it cannot be parsed."""
    cipher = ssl_object.cipher()
    der = ssl_object.getpeercert(binary_form=True)
    facts = (_facts(der) if der else None) or TlsInfo()
    return dataclasses.replace(
        facts,
        version=ssl_object.version(),
        cipher=cipher[0] if cipher else None,
        chain_valid=chain_valid,
        hostname_valid=hostname_valid,
        verify_error=verify_error,
    )


def subject_alt_names(cert: x509.Certificate) -> tuple[str, ...]:
    """DNS names, then IP addresses, of the subjectAltName extension, as text."""
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (x509.ExtensionNotFound, ValueError):
        return ()
    ips = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    return (*sans.get_values_for_type(x509.DNSName), *ips)


def hostname_matches(cert: x509.Certificate, host: str) -> bool:
    """Whether ``cert`` is valid for ``host`` (a DNS name or an IP address, no brackets);
    the rules are in the module docstring."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        ip = None
    try:
        sans: x509.SubjectAlternativeName | None = cert.extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
    except (x509.ExtensionNotFound, ValueError):
        sans = None
    if ip is not None:
        return sans is not None and ip in sans.get_values_for_type(x509.IPAddress)
    try:
        name = host.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    patterns = sans.get_values_for_type(x509.DNSName) if sans is not None else []
    if not patterns:  # as OpenSSL: the common name only when there is no DNS name
        patterns = [
            attr.value
            for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            if isinstance(attr.value, str)
        ]
    return any(_dns_match(pattern, name) for pattern in patterns)


def _dns_match(pattern: str, name: str) -> bool:
    pattern = pattern.rstrip(".").lower()
    if not pattern.startswith("*."):
        return "*" not in pattern and pattern == name
    suffix = pattern[2:]
    if "*" in suffix or suffix.count(".") < 1:  # never "*.com", never a second "*"
        return False
    label, dot, rest = name.partition(".")
    return bool(label and dot) and rest == suffix


def names_for(cert: x509.Certificate, limit: int = 3) -> str:
    """Whom ``cert`` is for, for messages: its subjectAltNames (or the CN), shortened."""
    names = list(subject_alt_names(cert)) or [
        str(attr.value) for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ]
    if not names:
        return "no name"
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} (+{len(names) - limit} more)"


def verify_message(exc: ssl.SSLCertVerificationError) -> str:
    """A short message for a failed verification: "certificate expired", "self-signed
    certificate" ...; OpenSSL's own words for the rarer codes."""
    known = _VERIFY_MESSAGES.get(exc.verify_code)
    if known is not None:
        return known
    return f"certificate verify failed: {exc.verify_message or exc.reason or exc}"


def hostname_mismatch(cert: x509.Certificate | None, host: str) -> str:
    """'hostname mismatch: cert is for a.example, b.example, not host'."""
    whom = names_for(cert) if cert is not None else "no certificate"
    return f"hostname mismatch: cert is for {whom}, not {host}"


def date_failure(info: TlsInfo, now: datetime) -> str | None:
    """'certificate expired on <date>' or 'certificate not valid until <date>' when ``now``
    (aware) is outside the certificate's validity, else None."""
    if info.not_after is not None and now > info.not_after:
        return f"certificate expired on {_date(info.not_after)}"
    if info.not_before is not None and now < info.not_before:
        return f"certificate not valid until {_date(info.not_before)}"
    return None


def _date(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")
