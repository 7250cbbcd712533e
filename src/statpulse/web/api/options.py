"""Request bodies for the per-kind options of a monitor (``http``, ``tcp``, ``grpc``, ``dns``,
``tls``), their field checks, and the secret fields that responses redact."""

from __future__ import annotations

import re
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from statpulse.probes.tcp import parse_host_port

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_GRPC_KEY = re.compile(r"^[0-9a-z_.-]+$")  # gRPC metadata keys are lower-case ASCII
_PEM_CERT = "-----BEGIN CERTIFICATE-----"
REDACTED = "********"

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
RecordType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA"]
Pem = str | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_pem(value: str | None, marker: str, what: str) -> str | None:
    if value is not None and marker not in value:
        raise ValueError(f"must be a PEM {what} ({marker})")
    return value


class HttpIn(_Strict):
    method: Method = "GET"
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=65536)
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=30)
    verify_tls: bool = True
    ca_cert: Pem = Field(default=None, max_length=65536, description="Extra trusted CAs (PEM).")
    client_cert: Pem = Field(default=None, max_length=65536, description="Client certificate.")
    client_key: Pem = Field(default=None, max_length=65536, description="Its key; redacted.")
    http2: bool = Field(default=False, description="Offer HTTP/2 on https (falls back to 1.1).")

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, val in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            if "\r" in val or "\n" in val or len(val) > 8192:
                raise ValueError(f"invalid value for header {name!r}")
        return value

    @field_validator("ca_cert", "client_cert")
    @classmethod
    def _certificate(cls, value: str | None) -> str | None:
        return _check_pem(value, _PEM_CERT, "certificate")

    @field_validator("client_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        return _check_pem(value, "PRIVATE KEY-----", "private key")

    @model_validator(mode="after")
    def _pair(self) -> Self:
        if (self.client_cert is None) != (self.client_key is None):
            raise ValueError("client_cert and client_key go together")
        return self


class TcpIn(_Strict):
    send: str | None = Field(default=None, max_length=4096)
    expect: str | None = Field(default=None, max_length=4096)
    hex: bool = Field(default=False, description="send and expect are hex, e.g. 48656c6c6f.")
    tls: bool = False
    starttls: Literal["smtp", "imap", "pop3", "ftp"] | None = None
    verify_tls: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.tls and self.starttls:
            raise ValueError("tls and starttls exclude each other")
        if self.hex:
            for name in ("send", "expect"):
                value = getattr(self, name)
                try:
                    bytes.fromhex(value or "")
                except ValueError:
                    raise ValueError(f"{name} is not valid hex") from None
        return self


class GrpcIn(_Strict):
    service: str = Field(default="", max_length=255)
    tls: bool = False
    verify_tls: bool = True
    metadata: dict[str, str] = Field(default_factory=dict, max_length=50)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            if not _GRPC_KEY.match(key) or key.startswith("grpc-"):
                raise ValueError(f"invalid metadata key {key!r}")
            if "\r" in val or "\n" in val or len(val) > 8192:
                raise ValueError(f"invalid value for metadata {key!r}")
        return value


class DnsIn(_Strict):
    record_type: RecordType = "A"
    resolver: str | None = Field(
        default=None, max_length=300, description="host[:port]; default: the system resolver."
    )
    protocol: Literal["udp", "tcp"] = "udp"

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is not None:
            parse_host_port(value if value.rsplit("]", 1)[-1].count(":") else f"{value}:53")
        return value


class TlsIn(_Strict):
    warn_days: int = Field(default=14, ge=0, le=365)
    verify_tls: bool = True


class LatencyIn(_Strict):
    p95_ms: float | None = Field(default=None, gt=0, le=600_000)
    p99_ms: float | None = Field(default=None, gt=0, le=600_000)
