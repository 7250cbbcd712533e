"""Custom domains of status pages: the stored shape, hostname validation and the records an
owner creates (pure; no I/O)."""

from __future__ import annotations

import ipaddress
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

TXT_PREFIX = "_statpulse"
TXT_VALUE_PREFIX = "statpulse-verify="
WELL_KNOWN_PATH = "/.well-known/statpulse-verify/"
DEFAULT_CNAME_TARGET = "status.statpulse.example"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class CustomDomain:
    id: uuid.UUID
    org_id: uuid.UUID
    page_id: uuid.UUID
    hostname: str
    token: str
    verified_at: datetime | None
    created_at: datetime


def normalise_hostname(value: str) -> str:
    """``value`` lower-cased without a final dot; raises ValueError (with the reason) unless it
    is a DNS name of at least two labels: no IP literal, no wildcard, no port, at most 253
    characters, letters/digits/hyphens in labels of 1-63 characters."""
    name = value.strip().lower().removesuffix(".")
    if not name:
        raise ValueError("must not be empty")
    if "*" in name:
        raise ValueError("wildcards are not allowed")
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValueError("must be a DNS name, not an IP address")
    if len(name) > 253:
        raise ValueError("must be at most 253 characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise ValueError("must be a fully qualified name such as status.example.com")
    if not all(_LABEL.match(label) for label in labels):
        raise ValueError("must be a DNS name: letters, digits and hyphens in dot-separated labels")
    if labels[-1].isdigit():
        raise ValueError("must be a DNS name, not an IP address")
    return name


def new_token() -> str:
    """A fresh verification token (URL- and DNS-safe)."""
    return secrets.token_hex(16)


def txt_name(hostname: str) -> str:
    return f"{TXT_PREFIX}.{hostname}"


def txt_value(token: str) -> str:
    return f"{TXT_VALUE_PREFIX}{token}"


def well_known_url(hostname: str, token: str) -> str:
    return f"http://{hostname}{WELL_KNOWN_PATH}{token}"


def host_of(header: str) -> str:
    """The host part of a Host header, lower-cased, without port or final dot (IPv6 literals
    keep no brackets)."""
    host = header.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.removesuffix(".")
