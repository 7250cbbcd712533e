"""Request and response bodies of the REST API (pydantic), and their mapping to the model."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from statpulse.engine.heartbeat import HEARTBEAT_KIND, PUSH_REGION
from statpulse.model import (
    MAX_CONFIRM_S,
    DnsOptions,
    GrpcOptions,
    HttpOptions,
    LatencyThresholds,
    Monitor,
    MonitorConfig,
    TcpOptions,
    TlsOptions,
)
from statpulse.web.api.options import (
    REDACTED,
    DnsIn,
    GrpcIn,
    HttpIn,
    LatencyIn,
    TcpIn,
    TlsIn,
)
from statpulse.web.errors import invalid

Region = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
_OPTION_KINDS = ("tcp", "grpc", "dns", "tls")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def set_fields(self, nullable: tuple[str, ...] = ()) -> dict[str, Any]:
        """The fields the request set (a PATCH body); raises ApiError 422 naming a field set
        to null, unless it is one of ``nullable`` (where null clears a link)."""
        fields = self.model_dump(exclude_unset=True)
        for name, value in fields.items():
            if value is None and name not in nullable:
                raise invalid(name, "must not be null")
        return fields


class MonitorIn(_Strict):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="Probe kind: http, tcp, grpc, dns, tls or heartbeat.")
    target: str = Field(
        default="",
        max_length=2048,
        description="URL (http), host:port (tcp, grpc, tls), a name to query (dns); "
        "empty for heartbeat.",
    )
    interval_s: int = Field(default=60, ge=10, le=86400)
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    regions: list[Region] = Field(
        default_factory=lambda: ["local"],
        min_length=1,
        max_length=50,
        description='Regions that run the check; heartbeat monitors always get ["push"].',
    )
    http: HttpIn = Field(default_factory=HttpIn)
    conditions: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(
        default_factory=list, max_length=50
    )
    latency: LatencyIn = Field(default_factory=LatencyIn)
    failure_threshold: int = Field(default=2, ge=1, le=100)
    recovery_threshold: int = Field(default=1, ge=1, le=100)
    tcp: TcpIn = Field(default_factory=TcpIn)
    grpc: GrpcIn = Field(default_factory=GrpcIn)
    dns: DnsIn = Field(default_factory=DnsIn)
    tls: TlsIn = Field(default_factory=TlsIn)
    retries: int = Field(default=0, ge=0, le=5, description="Extra attempts within one run.")
    retry_delay_s: float = Field(default=1.0, ge=0, le=60)
    grace_s: int = Field(
        default=60,
        ge=0,
        le=7 * 86400,
        description="Heartbeat: how late a ping may be beyond interval_s before a failure "
        "is recorded, and how long a run may take after /start.",
    )
    depends_on: uuid.UUID | None = Field(
        default=None,
        description="A parent monitor of the same organisation (the host, the database): while "
        "it is down this monitor's outage is folded into the parent's, with no alert or draft "
        "incident of its own. No cycles.",
    )
    confirm_s: int = Field(
        default=0,
        ge=0,
        le=MAX_CONFIRM_S,
        description="Seconds a down state must last before it alerts and opens a draft incident "
        "(a confirmation window on top of the regions' quorum); 0: at once.",
    )

    def to_config(self) -> MonitorConfig:
        return MonitorConfig(
            name=self.name,
            kind=self.kind,
            target=self.target,
            interval_s=self.interval_s,
            timeout_s=self.timeout_s,
            # Pings and the sweeper report as region "push", whatever the client sent.
            regions=(PUSH_REGION,)
            if self.kind == HEARTBEAT_KIND
            else tuple(dict.fromkeys(self.regions)),
            http=HttpOptions(**self.http.model_dump()),
            conditions=tuple(self.conditions),
            latency=LatencyThresholds(**self.latency.model_dump()),
            failure_threshold=self.failure_threshold,
            recovery_threshold=self.recovery_threshold,
            tcp=TcpOptions(**self.tcp.model_dump()),
            grpc=GrpcOptions(**self.grpc.model_dump()),
            dns=DnsOptions(**self.dns.model_dump()),
            tls=TlsOptions(**self.tls.model_dump()),
            retries=self.retries,
            retry_delay_s=self.retry_delay_s,
            grace_s=self.grace_s,
            depends_on=self.depends_on,
            confirm_s=self.confirm_s,
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
    tcp: dict[str, object] | None = None
    grpc: dict[str, object] | None = None
    dns: dict[str, object] | None = None
    tls: dict[str, object] | None = None
    retries: int | None = None
    retry_delay_s: float | None = None
    grace_s: int | None = None
    depends_on: uuid.UUID | None = None
    confirm_s: int | None = None

    NESTED: ClassVar[tuple[str, ...]] = ("http", "latency", *_OPTION_KINDS)
    """Objects that a patch merges into the stored ones."""


def config_document(config: MonitorConfig) -> dict[str, Any]:
    """The config as MonitorIn fields (plain JSON types)."""
    doc: dict[str, Any] = {
        f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)
    }
    return doc


def _plain(value: object) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def redacted_document(config: MonitorConfig) -> dict[str, Any]:
    """``config_document`` with secrets redacted: header and metadata values (they often hold
    credentials) and the client key."""
    doc = config_document(config)
    doc["http"]["headers"] = dict.fromkeys(config.http.headers, REDACTED)
    if config.http.client_key is not None:
        doc["http"]["client_key"] = REDACTED
    doc["grpc"]["metadata"] = dict.fromkeys(config.grpc.metadata, REDACTED)
    return doc


class HttpOut(BaseModel):
    method: str
    headers: dict[str, str] = Field(description="Values are redacted.")
    body: str | None
    follow_redirects: bool
    max_redirects: int
    verify_tls: bool
    ca_cert: str | None
    client_cert: str | None
    client_key: str | None = Field(description="Redacted.")
    http2: bool


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
    tcp: TcpIn
    grpc: GrpcIn = Field(description="Metadata values are redacted.")
    dns: DnsIn
    tls: TlsIn
    retries: int
    retry_delay_s: float
    grace_s: int
    depends_on: uuid.UUID | None = None
    confirm_s: int = 0
    paused: bool
    status: str
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    push_url: str | None = Field(
        default=None,
        description="Heartbeat monitors: the secret path to ping (/ping/<token>); "
        "null for other kinds.",
    )

    @classmethod
    def of(cls, m: Monitor, push_token: str | None = None) -> MonitorOut:
        return cls.model_validate(
            {
                "id": m.id,
                "push_url": f"/ping/{push_token}" if push_token else None,
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
    downtime_s: float | None = Field(
        default=None, description="seconds: one check interval per failed check"
    )


class MonitorStatsOut(StatsOut):
    monitor_id: uuid.UUID
    from_: datetime = Field(serialization_alias="from")
    to: datetime
    regions: dict[str, StatsOut]


class PageIn(_Strict):
    slug: Slug
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)


class PagePatch(_Strict):
    """Every field optional; the slug is not changeable."""

    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


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


class ComponentPatch(_Strict):
    """Every field optional; ``monitor_id`` null unlinks the monitor, ``pages`` replaces the
    pages that show the component."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    monitor_id: uuid.UUID | None = None
    pages: list[Slug] | None = Field(default=None, max_length=50)


class ComponentOut(BaseModel):
    id: uuid.UUID
    name: str
    description: str
    monitor_id: uuid.UUID | None
    created_at: datetime
