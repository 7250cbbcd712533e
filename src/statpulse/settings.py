"""Typed settings.

Precedence: defaults < optional TOML file < environment (``STATPULSE_*``) < explicit overrides.

Every default works with no file: SQLite in ``./statpulse-data/``, web on 127.0.0.1:8080, one
in-process runner in region ``local``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from statpulse.security.egress import DEFAULT_DENY, EgressPolicy

DB_FILE_NAME = "statpulse.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STATPULSE_", extra="forbid")

    data_dir: Path = Field(
        default=Path("statpulse-data"), description="Where the SQLite file and local state live."
    )
    db: str | None = Field(
        default=None, description="Database URL (sqlite:///... or postgresql://...)."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    region: str = Field(default="local", description="Region of the embedded runner.")
    embedded_runner: bool = Field(default=True, description="Run checks in the web process.")
    max_concurrent_checks: int = Field(default=500, ge=1)
    max_checks_per_host: int = Field(
        default=32, ge=1, description="Checks in flight against one target host at once."
    )
    result_batch_size: int = Field(default=500, ge=1)
    result_flush_ms: int = Field(default=200, ge=1)
    narrative_llm_url: str | None = Field(
        default=None,
        description="An OpenAI-compatible API base URL (e.g. http://127.0.0.1:8000/v1) whose "
        "chat completions rewrite draft incident texts; unset: the built-in templates only.",
    )
    narrative_llm_model: str = Field(default="gpt-4o-mini", description="The model to ask.")
    narrative_llm_key: SecretStr | None = Field(default=None, description="Its API key, if any.")
    narrative_llm_timeout_s: float = Field(default=8.0, gt=0, le=60)
    snapshot_url: str | None = Field(
        default=None,
        description="Where static snapshots of status pages are re-published on every change "
        "(a directory or s3://bucket/prefix?endpoint=...; S3 uses the archive_* credentials), "
        "so a CDN or static host keeps serving them when this server is down.",
    )
    snapshot_pages: list[str] = Field(
        default_factory=list, description="Slugs of the pages to snapshot (each to URL/SLUG/)."
    )
    snapshot_base_url: str | None = Field(
        default=None,
        description="The public root of the pages in feeds and JSON (e.g. https://status.example"
        ".com/s); default http://HOST:PORT/s.",
    )
    notify_poll_s: float = Field(
        default=1.0, gt=0, description="How often the notification outbox is checked for due rows."
    )
    multi_tenant: bool = Field(
        default=False,
        description="Several organisations share this server; turns the egress guard on.",
    )
    egress_guard: bool | None = Field(
        default=None,
        description="Refuse probe connections to the ranges in egress_deny "
        "(default: on when multi_tenant).",
    )
    egress_deny: list[str] = Field(
        default=list(DEFAULT_DENY), description="Address ranges probes may not connect to."
    )
    egress_allow: list[str] = Field(
        default_factory=list, description="Exceptions to egress_deny (e.g. one internal subnet)."
    )
    retention_raw_days: int = Field(
        default=30, ge=1, description="Days raw check results are kept (then archived, dropped)."
    )
    retention_minute_days: int = Field(default=30, ge=1, description="Days minute rollups live.")
    retention_hour_days: int = Field(default=365, ge=1, description="Days hour rollups live.")
    retention_day_days: int | None = Field(
        default=None, ge=1, description="Days day rollups live (default: forever)."
    )
    retention_interval_s: int = Field(
        default=3600, ge=10, description="Seconds between retention and partition upkeep runs."
    )
    partitions_ahead_days: int = Field(
        default=7, ge=1, description="PostgreSQL: daily partitions of results created ahead."
    )
    archive_url: str | None = Field(
        default=None,
        description="Where expired raw results go as Parquet before they are dropped: a "
        "directory, file:///DIR, or s3://BUCKET/PREFIX?endpoint=URL&region=R (none: not kept).",
    )
    archive_access_key: str | None = Field(
        default=None, description="S3 access key of archive_url (else AWS_ACCESS_KEY_ID)."
    )
    archive_secret_key: SecretStr | None = Field(
        default=None, description="S3 secret key of archive_url (else AWS_SECRET_ACCESS_KEY)."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://... : the result bus (Redis Streams) and live updates (pub/sub) "
        "go through Redis, so several engine processes share the work (none: in-process).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Processes of `serve` sharing the web and runner ports (SO_REUSEPORT), "
        "ingest and evaluation (needs redis_url); the first also runs the embedded runner, "
        "heartbeats and retention.",
    )
    worker_index: int = Field(
        default=0, ge=0, description="Internal: which of the `workers` processes this is."
    )
    redis_namespace: str = Field(
        default="statpulse",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Prefix of the Redis keys (stream NS:results, channel NS:live).",
    )
    runner_port: int | None = Field(
        default=None, ge=0, le=65535, description="Port of the mutual-TLS runner API (none: off)."
    )
    pki_dir: Path | None = Field(
        default=None, description="Directory of `statpulse pki` (CA, server certificate, CRL)."
    )
    pgbouncer: bool = Field(
        default=False,
        description="The PostgreSQL URL points at PgBouncer in transaction pooling mode: no "
        "server-side prepared statements are kept across transactions.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Master key wrapping the data keys of stored secrets (base64 of 32 bytes).",
    )
    master_key_file: Path | None = Field(
        default=None, description="File holding master_key (used when master_key is not set)."
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"
    # Custom domains of status pages (web/domains.py).
    custom_domains: bool = Field(
        default=False,
        description="Serve status pages on verified custom domains (by Host header); any Host "
        "that is neither one of those nor a main host (host, localhost, 127.0.0.1, ::1, "
        "public_host, public_hosts) gets 421.",
    )
    public_host: str | None = Field(
        default=None,
        description="This installation's public host name: the CNAME target page owners are "
        "told to create (default status.statpulse.example).",
    )
    public_hosts: list[str] = Field(
        default_factory=list, description="More host names that serve the main application."
    )
    domain_resolver: str | None = Field(
        default=None,
        description="DNS server (IP or IP:PORT) asked when a custom domain is verified (its "
        "_statpulse TXT record, or its address for the HTTP check; default: the system's).",
    )
    domain_http_port: int = Field(
        default=80,
        ge=1,
        le=65535,
        description="Port of the HTTP ownership check http://NAME:PORT/.well-known/...",
    )

    # Subscribers of status pages (web/public/subscribe.py): the operator's SMTP server sends
    # their e-mail (without smtp_host and smtp_from, e-mail subscriptions are refused).
    smtp_host: str | None = Field(default=None, description="SMTP server for subscriber e-mail.")
    smtp_port: int | None = Field(
        default=None, ge=1, le=65535, description="Its port (default 587 with STARTTLS, else 25)."
    )
    smtp_from: str | None = Field(default=None, description="From address of subscriber e-mail.")
    smtp_username: str | None = Field(default=None, description="SMTP user name, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password, if any.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP session (STARTTLS).")
    # SMS subscribers (web/public/subscribe_sms.py) through Twilio's Messages API; without the
    # account SID, auth token and sender, SMS subscriptions are refused.
    sms_twilio_account_sid: str | None = Field(
        default=None, description="Twilio account SID sending subscriber SMS."
    )
    sms_twilio_auth_token: SecretStr | None = Field(default=None, description="Its auth token.")
    sms_twilio_from: str | None = Field(
        default=None, description="Sender of subscriber SMS: a Twilio number (E.164) or ID."
    )
    sms_twilio_url: str = Field(
        default="https://api.twilio.com", description="Base URL of Twilio's API."
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Key signing subscribers' confirm/unsubscribe links (default: derived from "
        "the current master key, so rotating that key invalidates old links).",
    )

    @field_validator("egress_deny", "egress_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        EgressPolicy.guarded(deny=value)  # raises ValueError naming the bad entry
        return value

    @field_validator("retention_day_days")
    @classmethod
    def _day_rollups_outlive_raw(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Expiring a raw day finds its monitors through the day's rollups.
        raw = info.data.get("retention_raw_days")
        if value is not None and raw is not None and value < raw:
            raise ValueError("must be at least retention_raw_days")
        return value

    @model_validator(mode="after")
    def _workers_need_redis(self) -> Settings:
        if self.workers > 1 and self.redis_url is None:
            raise ValueError("workers: more than one needs redis_url (the shared result bus)")
        return self

    @model_validator(mode="after")
    def _runner_api_needs_pki(self) -> Settings:
        if self.runner_port is not None and self.pki_dir is None:
            raise ValueError("runner_port: needs pki_dir (the directory of `statpulse pki init`)")
        return self

    def egress_policy(self) -> EgressPolicy:
        """The policy probes run under: guarded when asked, or by default in multi-tenant mode."""
        guard = self.multi_tenant if self.egress_guard is None else self.egress_guard
        if not guard:
            return EgressPolicy.open()
        return EgressPolicy.guarded(deny=self.egress_deny, allow=self.egress_allow)

    @property
    def database_url(self) -> str:
        """The database URL to use: ``db`` when set, else the SQLite file in ``data_dir``."""
        if self.db:
            return self.db
        return f"sqlite:///{(self.data_dir / DB_FILE_NAME).resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML source reads `toml_file` from model_config; it is empty unless load_settings
        # was given a file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings; ``overrides`` whose value is None are ignored (unset CLI options).

    Raises ``FileNotFoundError`` when ``config_file`` is given but missing, and pydantic's
    ``ValidationError`` (naming the field) on bad values.
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    if config_file is None:
        return Settings(**given)
    if not config_file.is_file():
        raise FileNotFoundError(f"settings file not found: {config_file}")
    config = SettingsConfigDict(**Settings.model_config)
    config["toml_file"] = config_file
    with_file = type("FileSettings", (Settings,), {"model_config": config})
    return with_file(**given)  # type: ignore[no-any-return]
