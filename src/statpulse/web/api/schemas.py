"""Request and response bodies of the REST API (pydantic), and their mapping to the model."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from statpulse.model import HttpOptions, LatencyThresholds, Monitor, MonitorConfig

_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
REDACTED = "********"

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
Region = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HttpIn(_Strict):
    method: Method = "GET"
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    body: str | None = Field(default=None, max_length=65536)
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=30)
    verify_tls: bool = True

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, val in value.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"invalid header name {name!r}")
            if "\r" in val or "\n" in val or len(val) > 8192:
                raise ValueError(f"invalid value for header {name!r}")
        return value


class LatencyIn(_Strict):
    p95_ms: float | None = Field(default=None, gt=0, le=600_000)
    p99_ms: float | None = Field(default=None, gt=0, le=600_000)


class MonitorIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="Probe kind: http or tcp.")
    target: str = Field(min_length=1, max_length=2048, description="URL, or host:port for tcp.")
    interval_s: int = Field(default=60, ge=10, le=86400)
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    regions: list[Region] = Field(default_factory=lambda: ["local"], min_length=1, max_length=50)
    http: HttpIn = Field(default_factory=HttpIn)
    conditions: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=50
    )
    latency: LatencyIn = Field(default_factory=LatencyIn)
    failure_threshold: int = Field(default=2, ge=1, le=100)
    recovery_threshold: int = Field(default=1, ge=1, le=100)

    def to_config(self) -> MonitorConfig:
        return MonitorConfig(
            name=self.name,
            kind=self.kind,
            target=self.target,
            interval_s=self.interval_s,
            timeout_s=self.timeout_s,
            regions=tuple(dict.fromkeys(self.regions)),
            http=HttpOptions(**self.http.model_dump()),
            conditions=tuple(self.conditions),
            latency=LatencyThresholds(**self.latency.model_dump()),
            failure_threshold=self.failure_threshold,
            recovery_threshold=self.recovery_threshold,
        )


class MonitorPatch(_Strict):
    """Every field optional; nested objects merge into the stored ones."""

    name: str | None = None
    kind: str | None = None
    target: str | None = None
    interval_s: int | None = None
    timeout_s: float | None = None
    regions: list[str] | None = None
    http: dict[str, object] | None = None
    conditions: list[str] | None = None
    latency: dict[str, object] | None = None
    failure_threshold: int | None = None
    recovery_threshold: int | None = None


def config_document(config: MonitorConfig) -> dict[str, object]:
    """The config as MonitorIn fields (plain JSON types)."""
    return {
        "name": config.name,
        "kind": config.kind,
        "target": config.target,
        "interval_s": config.interval_s,
        "timeout_s": config.timeout_s,
        "regions": list(config.regions),
        "http": {
            "method": config.http.method,
            "headers": dict(config.http.headers),
            "body": config.http.body,
            "follow_redirects": config.http.follow_redirects,
            "max_redirects": config.http.max_redirects,
            "verify_tls": config.http.verify_tls,
        },
        "conditions": list(config.conditions),
        "latency": {"p95_ms": config.latency.p95_ms, "p99_ms": config.latency.p99_ms},
        "failure_threshold": config.failure_threshold,
        "recovery_threshold": config.recovery_threshold,
    }


def redacted_document(config: MonitorConfig) -> dict[str, object]:
    """``config_document`` with header values redacted (they often hold credentials)."""
    doc = config_document(config)
    http = doc["http"]
    assert isinstance(http, dict)
    http["headers"] = dict.fromkeys(config.http.headers, REDACTED)
    return doc


class HttpOut(BaseModel):
    method: str
    headers: dict[str, str] = Field(description="Values are redacted.")
    body: str | None
    follow_redirects: bool
    max_redirects: int
    verify_tls: bool


class MonitorOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: str
    target: str
    interval_s: int
    timeout_s: float
    regions: list[str]
    http: HttpOut
    conditions: list[str]
    latency: LatencyIn
    failure_threshold: int
    recovery_threshold: int
    paused: bool
    status: str
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: Monitor) -> MonitorOut:
        return cls.model_validate(
            {
                "id": m.id,
                **redacted_document(m.config),
                "paused": m.paused,
                "status": m.status.value,
                "status_changed_at": m.status_changed_at,
                "created_at": m.created_at,
                "updated_at": m.updated_at,
            }
        )


class MonitorList(BaseModel):
    data: list[MonitorOut]


class StatsOut(BaseModel):
    checks: int
    uptime_pct: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class MonitorStatsOut(StatsOut):
    monitor_id: uuid.UUID
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    regions: dict[str, StatsOut]


class PageIn(_Strict):
    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class PageOut(BaseModel):
    id: uuid.UUID
    slug: str
    title: str
    description: str
    created_at: datetime


class ComponentIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    monitor_id: uuid.UUID | None = None
    pages: list[Slug] = Field(default_factory=list, max_length=50)


class ComponentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    monitor_id: uuid.UUID | None
    created_at: datetime
