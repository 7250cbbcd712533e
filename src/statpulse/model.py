"""Domain types shared by every layer.

Nothing here does I/O. Times are timezone-aware UTC datetimes; durations are milliseconds
(``*_ms``) or seconds (``*_s``) as their names say.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import uuid_utils.compat as _uuid7


def new_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so primary keys stay index friendly."""
    return _uuid7.uuid7()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(StrEnum):
    """State of a monitor (and of one region's view of it)."""

    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    MAINTENANCE = "maintenance"
    PAUSED = "paused"
    UNKNOWN = "unknown"


class ErrorClass(StrEnum):
    """Why a check failed; short, stable, meant for narratives and grouping."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    PROTOCOL = "protocol"
    HTTP_STATUS = "http_status"
    ASSERTION = "assertion"
    BLOCKED = "blocked"  # the egress guard refused the target's address
    INTERNAL = "internal"


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class HttpOptions:
    """Options of an ``http`` check. PEM fields: ``ca_cert`` adds trusted CAs for this monitor;
    ``client_cert`` and ``client_key`` present a client certificate (mutual TLS)."""

    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: int = 10
    verify_tls: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    http2: bool = False
    """Offer HTTP/2 (ALPN) on https; servers that do not pick it are checked over HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class TcpOptions:
    """Options of a ``tcp`` check: after connecting, optionally send ``send`` and read until
    ``expect`` appears (both text, or hex when ``hex``). ``tls`` wraps the connection in TLS at
    once; ``starttls`` (``smtp``, ``imap``, ``pop3``, ``ftp``) upgrades after that protocol's
    greeting instead."""

    send: str | None = None
    expect: str | None = None
    hex: bool = False
    tls: bool = False
    starttls: str | None = None
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class GrpcOptions:
    """Options of a ``grpc`` check (``grpc.health.v1.Health/Check``); ``service`` empty asks
    about the whole server."""

    service: str = ""
    tls: bool = False
    verify_tls: bool = True
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DnsOptions:
    """Options of a ``dns`` check. The target is the name to query; ``resolver`` is
    ``host[:port]`` (default: the first nameserver of the system's resolv.conf)."""

    record_type: str = "A"
    resolver: str | None = None
    protocol: str = "udp"  # udp | tcp


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """Options of a ``tls`` check: the handshake only; ``warn_days`` before the certificate
    expires the check turns degraded."""

    warn_days: int = 14
    verify_tls: bool = True


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """Everything a runner needs to execute one monitor's checks."""

    monitor_id: uuid.UUID
    kind: str
    target: str
    interval_s: int
    timeout_s: float
    http: HttpOptions = field(default_factory=HttpOptions)
    conditions: tuple[str, ...] = ()
    tcp: TcpOptions = field(default_factory=TcpOptions)
    grpc: GrpcOptions = field(default_factory=GrpcOptions)
    dns: DnsOptions = field(default_factory=DnsOptions)
    tls: TlsOptions = field(default_factory=TlsOptions)
    retries: int = 0
    """Extra attempts within one run before the region reports a failure."""
    retry_delay_s: float = 1.0


@dataclass(frozen=True, slots=True)
class Phases:
    """Per-phase timings of one check, in milliseconds; None when the phase did not happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    first_byte_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """What a probe saw. A failing target is an observation with ``error_class`` set.

    ``headers`` keys are lower-case. ``body`` is capped by the probe.
    """

    connected: bool
    latency_ms: float | None
    phases: Phases = field(default_factory=Phases)
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    ip: str | None = None
    error_class: ErrorClass | None = None
    error_message: str | None = None
    tls: TlsInfo | None = None
    dns: DnsInfo | None = None
    redirects: tuple[RedirectHop, ...] = ()
    http_version: str | None = None
    grpc_status: str | None = None


@dataclass(frozen=True, slots=True)
class TlsInfo:
    """Facts of a TLS session and its peer certificate. Names are RFC 4514 strings
    (``CN=example.com,O=Example``); ``chain_valid`` says whether the chain verified against the
    trusted CAs (``verify_error`` says why not); ``hostname_valid`` whether it names the host."""

    version: str | None = None  # "TLSv1.3"
    cipher: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    issuer: str = ""
    subject: str = ""
    sans: tuple[str, ...] = ()
    chain_valid: bool = False
    hostname_valid: bool = False
    verify_error: str | None = None


@dataclass(frozen=True, slots=True)
class DnsInfo:
    """A DNS answer: ``rcode`` by name (``NOERROR``, ``NXDOMAIN`` ...), answers as text."""

    record_type: str
    rcode: str
    answers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RedirectHop:
    """One redirect an http check followed: the response that redirected."""

    url: str
    status_code: int
    location: str


@dataclass(frozen=True, slots=True)
class ConditionResult:
    """One evaluated condition.

    ``description`` says what was compared, e.g. ``[STATUS] (500) == 200``.
    """

    condition: str
    success: bool
    description: str
    latency_only: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The outcome of one scheduled check from one region.

    ``ok`` means the target is healthy: it answered and every condition that is not purely about
    latency held. ``degraded`` means it is healthy but a latency condition failed.
    """

    id: uuid.UUID
    monitor_id: uuid.UUID
    region: str
    scheduled_at: datetime
    started_at: datetime
    latency_ms: float | None
    ok: bool
    degraded: bool = False
    status_code: int | None = None
    phases: Phases = field(default_factory=Phases)
    error_class: ErrorClass | None = None
    error_message: str | None = None
    conditions: tuple[ConditionResult, ...] = ()
    """Every evaluated condition (stored for failed and degraded checks only)."""
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Organization:
    id: uuid.UUID
    slug: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    prefix: str
    scope: Scope
    created_at: datetime


@dataclass(frozen=True, slots=True)
class LatencyThresholds:
    p95_ms: float | None = None
    p99_ms: float | None = None


MAX_CONFIRM_S = 3600
"""The longest confirmation window a monitor may have."""


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """The user-editable part of a monitor."""

    name: str
    kind: str
    target: str
    interval_s: int = 60
    timeout_s: float = 10.0
    regions: tuple[str, ...] = ("local",)
    http: HttpOptions = field(default_factory=HttpOptions)
    conditions: tuple[str, ...] = ()
    latency: LatencyThresholds = field(default_factory=LatencyThresholds)
    failure_threshold: int = 2
    recovery_threshold: int = 1
    tcp: TcpOptions = field(default_factory=TcpOptions)
    grpc: GrpcOptions = field(default_factory=GrpcOptions)
    dns: DnsOptions = field(default_factory=DnsOptions)
    tls: TlsOptions = field(default_factory=TlsOptions)
    retries: int = 0
    retry_delay_s: float = 1.0
    grace_s: int = 60
    """Heartbeat monitors: how late a ping may be, beyond ``interval_s``, before it is down."""
    depends_on: uuid.UUID | None = None
    confirm_s: int = 0  # at most MAX_CONFIRM_S
    """How long a ``down`` must last before it alerts and opens a draft (0: at once)."""
    """A parent monitor (the host, the database): while it is down, this monitor's outage is
    folded into the parent's (no alert, no draft of its own)."""


@dataclass(frozen=True, slots=True)
class Monitor:
    id: uuid.UUID
    org_id: uuid.UUID
    config: MonitorConfig
    paused: bool
    status: Status
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def spec(self) -> CheckSpec:
        c = self.config
        return CheckSpec(
            monitor_id=self.id,
            kind=c.kind,
            target=c.target,
            interval_s=c.interval_s,
            timeout_s=c.timeout_s,
            http=c.http,
            conditions=c.conditions,
            tcp=c.tcp,
            grpc=c.grpc,
            dns=c.dns,
            tls=c.tls,
            retries=c.retries,
            retry_delay_s=c.retry_delay_s,
        )


@dataclass(frozen=True, slots=True)
class RegionState:
    """One region's view of a monitor, after its thresholds.

    ``streak`` counts the latest consecutive results whose own level was ``streak_level``
    (up, degraded or down); ``status`` changes only when a streak reaches its threshold.
    """

    monitor_id: uuid.UUID
    region: str
    status: Status
    streak_level: Status
    streak: int
    last_result_at: datetime | None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class StateChange:
    """A row for every monitor state change (the future outbox reads these)."""

    id: uuid.UUID
    monitor_id: uuid.UUID
    from_status: Status
    to_status: Status
    at: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One evaluation round's output: region states to upsert, new monitor statuses (with the
    time of change) and the state-change rows, stored together in one transaction."""

    region_states: Sequence[RegionState]
    monitor_statuses: Mapping[uuid.UUID, tuple[Status, datetime]]
    changes: Sequence[StateChange]


# Given the live monitors (existing, unpaused; read under their row locks, with their current
# status) and their stored region states, the evaluation to store. Awaited by the store inside
# the transaction that holds those locks; it may read through the store (another connection).
Decide = Callable[[Mapping[uuid.UUID, "Monitor"], list[RegionState]], Awaitable[Evaluation]]


@dataclass(frozen=True, slots=True)
class StatusPage:
    id: uuid.UUID
    org_id: uuid.UUID
    slug: str
    title: str
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Component:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    description: str
    monitor_id: uuid.UUID | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class DayUptime:
    """Checks of one UTC day, for uptime bars."""

    day: str  # YYYY-MM-DD
    checks: int
    ok: int
    degraded: int


@dataclass(frozen=True, slots=True)
class LatencySample:
    region: str
    ok: bool
    latency_ms: float | None


class SloKind(StrEnum):
    AVAILABILITY = "availability"
    LATENCY = "latency"


@dataclass(frozen=True, slots=True)
class Slo:
    """A service level objective on exactly one of a monitor or a component (see
    ``engine/slo.py`` for the definitions). ``target_pct`` is the availability target, or for a
    latency SLO the percentile (95 or 99) of checks that must answer within ``threshold_ms``."""

    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    kind: SloKind
    monitor_id: uuid.UUID | None
    component_id: uuid.UUID | None
    target_pct: float
    threshold_ms: float | None
    window_days: int
    created_at: datetime
