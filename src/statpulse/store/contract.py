"""The one storage contract. ``SqlStore`` implements it on SQLite and PostgreSQL; the same contract
tests run on both.

Reads scoped to an organisation take its id and never return another tenant's rows: a lookup of
another tenant's monitor returns None, exactly like an unknown id.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from statpulse.engine.rollup_query import Span
from statpulse.engine.rollups import Resolution, Rollup
from statpulse.engine.sketch import LatencySketch
from statpulse.model import (
    ApiKey,
    CheckResult,
    Component,
    DayUptime,
    Decide,
    Evaluation,
    LatencySample,
    Monitor,
    MonitorConfig,
    Organization,
    RegionState,
    Scope,
    Slo,
    StateChange,
    Status,
    StatusPage,
)

if TYPE_CHECKING:
    from statpulse.custom_domains import CustomDomain
    from statpulse.engine.incidents import Impact, IncidentState, Override
    from statpulse.engine.maintenance import MaintenanceWindow
    from statpulse.store.sql_access import PageAccess
    from statpulse.store.sql_audit import AuditEntry
    from statpulse.store.sql_channels import Channel
    from statpulse.store.sql_groups import ComponentGroup
    from statpulse.store.sql_incidents import Incident
    from statpulse.store.sql_maintenance import ComponentOverride, Maintenance
    from statpulse.store.sql_outbox import OutboxItem
    from statpulse.store.sql_runners import RunnerHealth
    from statpulse.store.sql_subscribers import Subscriber
    from statpulse.web.public.appearance import PageAppearance


class StoreError(Exception):
    """Base class of storage errors callers are expected to handle."""


class Conflict(StoreError):
    """A unique value (slug, prefix ...) is already taken. ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


HEARTBEAT_KIND = "heartbeat"
"""Monitors of this kind are pushed to (``/ping/<token>``), never probed by a runner."""
PUSH_REGION = "push"
"""The one region of every heartbeat monitor: its results come from pings and the sweeper."""


class Signal(StrEnum):
    """What a ping to a heartbeat monitor says."""

    START = "start"
    SUCCESS = "success"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class HeartbeatState:
    """The push state of a heartbeat monitor.

    ``since_at``: silence is counted from here at the earliest (creation, resume, kind change).
    ``last_overdue_at``: the deadline of the last silence failure the sweeper wrote.
    ``version`` grows with every change, so the sweeper can claim a failure conditionally.
    """

    monitor_id: uuid.UUID
    token: str
    since_at: datetime
    last_success_at: datetime | None
    last_fail_at: datetime | None
    last_start_at: datetime | None
    last_overdue_at: datetime | None
    version: int


class Store(Protocol):
    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise if the database cannot be reached."""

    # organisations and keys
    async def create_org(self, slug: str, name: str) -> Organization:
        """Raises Conflict(field="slug")."""

    async def get_org_by_slug(self, slug: str) -> Organization | None: ...

    async def list_orgs(self) -> list[Organization]:
        """Oldest first."""

    async def create_api_key(
        self, org_id: uuid.UUID, name: str, scope: Scope, prefix: str, secret_hash: str
    ) -> ApiKey: ...

    async def find_api_key(self, prefix: str) -> tuple[ApiKey, str] | None:
        """The unrevoked key with this prefix and its stored secret hash."""

    # monitors
    async def create_monitor(self, org_id: uuid.UUID, config: MonitorConfig) -> Monitor: ...

    async def get_monitor(self, org_id: uuid.UUID, monitor_id: uuid.UUID) -> Monitor | None: ...

    async def list_monitors(self, org_id: uuid.UUID) -> list[Monitor]: ...

    async def update_monitor(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, config: MonitorConfig
    ) -> Monitor | None: ...

    async def set_paused(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, paused: bool
    ) -> Monitor | None:
        """Pausing sets status ``paused``; resuming sets ``unknown`` and forgets region states."""

    async def delete_monitor(self, org_id: uuid.UUID, monitor_id: uuid.UUID) -> bool:
        """Deletes the monitor, its results, rollups and states; False when there was none."""

    async def unconfirmed_downs(self, changed_since: datetime) -> list[Monitor]:
        """Unpaused monitors with ``confirm_s`` that went down at or after ``changed_since``."""

    async def monitors_for_region(self, region: str) -> list[Monitor]:
        """Every unpaused monitor of every organisation assigned to ``region``."""

    async def monitors_by_id(self, monitor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Monitor]:
        """Unscoped lookup for the engine (results carry only a monitor id)."""

    async def monitor_regions(self, monitor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
        """The configured regions of those of ``monitor_ids`` that exist (the runner API's
        check of an upload, without reading whole monitors)."""

    # results
    async def add_results(self, results: Sequence[CheckResult]) -> int:
        """Store a batch in one transaction; a result id already stored is skipped.

        The same transaction adds the new rows (only those) to the minute, hour and day rollups
        (``engine/rollups.py``), so the rollups always equal a recomputation from the stored
        results, whatever the duplicates, late arrivals, failures and concurrent ingesters.
        Returns how many rows were new. Returns only after the commit is durable.
        """

    async def latency_samples(
        self, monitor_id: uuid.UUID, start: datetime, end: datetime
    ) -> list[LatencySample]:
        """Results with ``start <= started_at < end``."""

    async def recent_results(self, monitor_id: uuid.UUID, limit: int) -> list[CheckResult]:
        """Newest first."""

    async def range_rollups(
        self, monitor_id: uuid.UUID, spans: Sequence[Span]
    ) -> dict[str, Rollup]:
        """Per region, the merged rollup of the monitor's results in ``spans`` (a
        ``rollup_query.plan``): rollup spans from their tables, raw spans from the results
        (``started_at`` in the span; downtime from the monitor's current interval). Regions
        without results in any span are absent."""

    async def daily_uptime(
        self, monitor_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> dict[uuid.UUID, list[DayUptime]]:
        """Per monitor, per UTC day whose midnight lies in ``[start, end)`` and that has results,
        oldest first. Read from the day rollups, so days are whole: pass midnights."""

    async def daily_uptime_raw(
        self, monitor_ids: Sequence[uuid.UUID], start: datetime, end: datetime
    ) -> dict[uuid.UUID, list[DayUptime]]:
        """Per monitor, per UTC day that has results in ``[start, end)``, oldest first, counted
        from raw results (exact for any bounds; the reference for the rollups, and benchmarks)."""

    async def bucket_sketches(
        self, monitor_id: uuid.UUID, resolution: Resolution, start: datetime, end: datetime
    ) -> dict[datetime, LatencySketch]:
        """Per bucket of ``resolution`` whose start lies in ``[start, end)`` and that has
        results, the latency sketch of the monitor's ok checks in it, every region merged;
        oldest first. Read from that resolution's rollups (pass bucket boundaries)."""

    # monitor state
    async def region_states(self, monitor_ids: Sequence[uuid.UUID]) -> list[RegionState]: ...

    async def save_evaluation(
        self,
        region_states: Sequence[RegionState],
        monitor_statuses: Mapping[uuid.UUID, tuple[Status, datetime]],
        changes: Sequence[StateChange],
    ) -> None:
        """Persist one evaluation round atomically: region states (upsert), monitor statuses
        (skipping monitors deleted or paused meanwhile) and state-change rows."""

    async def evaluate_locked(self, monitor_ids: Sequence[uuid.UUID], decide: Decide) -> Evaluation:
        """Run ``decide`` on the live (existing, unpaused) monitors among ``monitor_ids`` and
        their region states, and store its evaluation, all in one transaction that holds those
        monitors' rows: concurrent callers for the same monitors run one after the other, each
        seeing what the previous one stored. Returns what ``decide`` returned."""

    async def open_draft_incident(
        self,
        org_id: uuid.UUID,
        monitor_id: uuid.UUID,
        title: str,
        body: str,
        at: datetime,
        impact: str = "major",
    ) -> uuid.UUID | None:
        """The draft incident of a monitor's outage; None when one is already open."""

    async def rewrite_draft(
        self, incident_id: uuid.UUID, title: str, body: str, at: datetime
    ) -> bool:
        """Replace an untouched draft's title and text; False once published or updated."""

    async def resolve_drafts(self, monitor_id: uuid.UUID, at: datetime, body: str) -> int:
        """Resolve the monitor's open incident if it was never published."""

    async def list_incidents(self, org_id: uuid.UUID, limit: int = 50) -> list[Incident]:
        """Newest first, drafts included, each with its updates."""

    async def runner_health(self) -> list[RunnerHealth]:
        """The last health report of every remote runner."""

    # notification channels and their outbox (store/sql_channels.py, store/sql_outbox.py)
    async def create_channel(
        self,
        org_id: uuid.UUID,
        kind: str,
        name: str,
        config: Mapping[str, Any],
        secret_fields: Sequence[str],
        events: Sequence[str] = (),
    ) -> Channel:
        """A new enabled channel; ``secret_fields`` of ``config`` are sealed at rest."""

    async def get_channel(self, org_id: uuid.UUID | None, channel_id: uuid.UUID) -> Channel | None:
        """The channel, secrets opened; ``org_id`` None: any organisation's."""

    async def list_channels(self, org_id: uuid.UUID) -> list[Channel]: ...

    async def delete_channel(self, org_id: uuid.UUID, channel_id: uuid.UUID) -> bool: ...

    async def set_channel_enabled(
        self, org_id: uuid.UUID, channel_id: uuid.UUID, enabled: bool
    ) -> bool: ...

    async def channel_failed(
        self, channel_id: uuid.UUID, error: str, at: datetime, *, disable: bool
    ) -> None: ...

    async def enqueue(
        self,
        org_id: uuid.UUID,
        event: str,
        group_key: str,
        message: Mapping[str, Any],
        at: datetime,
        channel_ids: list[uuid.UUID] | None = None,
    ) -> int:
        """One outbox row per wanting channel; the same ``group_key`` twice adds nothing."""

    async def claim_outbox(
        self, now: datetime, lease: timedelta, limit: int
    ) -> list[OutboxItem]: ...

    async def mark_sent(self, item_id: uuid.UUID, at: datetime) -> None: ...

    async def mark_retry(self, item_id: uuid.UUID, next_at: datetime, error: str) -> None: ...

    async def mark_dead(self, item_id: uuid.UUID, error: str) -> None: ...

    async def outbox_rows(self, channel_id: uuid.UUID) -> list[dict[str, Any]]: ...

    async def state_changes(self, monitor_id: uuid.UUID, limit: int) -> list[StateChange]:
        """Newest first."""

    # heartbeat (push) monitors
    async def ensure_heartbeat(self, monitor_id: uuid.UUID, token: str, at: datetime) -> str:
        """Give a monitor push state if it has none (``token``, silence counted from ``at``).

        Returns the stored token: the existing one when the monitor already had push state.
        """

    async def push_tokens(self, monitor_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
        """Unscoped: the callers pass ids of monitors the caller may see."""

    async def rotate_push_token(self, org_id: uuid.UUID, monitor_id: uuid.UUID, token: str) -> bool:
        """Replace the organisation's monitor's token (the old one stops working at once);
        False when that monitor has no push state."""

    async def heartbeat_by_token(self, token: str) -> tuple[Monitor, HeartbeatState] | None:
        """The heartbeat monitor (of any organisation, paused or not) that owns ``token``."""

    async def due_heartbeats(self) -> list[tuple[Monitor, HeartbeatState]]:
        """Every unpaused heartbeat monitor with its push state: the sweeper's work list."""

    async def record_ping(self, monitor_id: uuid.UUID, signal: Signal, at: datetime) -> None:
        """Set ``last_<signal>_at`` to ``at`` and bump the version."""

    async def restart_heartbeat(
        self, org_id: uuid.UUID, monitor_id: uuid.UUID, at: datetime
    ) -> None:
        """Count silence from ``at`` (a resumed monitor) and bump the version."""

    async def claim_overdue(self, monitor_id: uuid.UUID, version: int, deadline: datetime) -> bool:
        """Record that the failure for ``deadline`` is being written, only while the state is
        still at ``version``: of several concurrent claimers exactly one gets True."""

    # pages and components
    async def create_page(
        self, org_id: uuid.UUID, slug: str, title: str, description: str
    ) -> StatusPage:
        """Raises Conflict(field="slug")."""

    async def get_page(self, slug: str) -> StatusPage | None: ...

    async def list_pages(self, org_id: uuid.UUID) -> list[StatusPage]: ...

    async def update_page(
        self, org_id: uuid.UUID, page_id: uuid.UUID, title: str, description: str
    ) -> StatusPage | None:
        """Sets both; None when the page is not the organisation's (the slug never changes)."""

    async def delete_page(self, org_id: uuid.UUID, page_id: uuid.UUID) -> bool:
        """False when the page is not the organisation's. Its component links, groups,
        domains, subscribers and settings go with it; its components stay."""

    async def create_component(
        self,
        org_id: uuid.UUID,
        name: str,
        description: str,
        monitor_id: uuid.UUID | None,
        page_ids: Sequence[uuid.UUID],
    ) -> Component:
        """Creates a component and appends it to each page."""

    async def get_component(
        self, org_id: uuid.UUID, component_id: uuid.UUID
    ) -> Component | None: ...

    async def component_pages(self, component_id: uuid.UUID) -> list[StatusPage]:
        """The pages that show the component, oldest first."""

    async def update_component(
        self,
        org_id: uuid.UUID,
        component_id: uuid.UUID,
        name: str,
        description: str,
        monitor_id: uuid.UUID | None,
        page_ids: Sequence[uuid.UUID] | None,
    ) -> Component | None:
        """Sets the fields and, unless ``page_ids`` is None, its pages (one transaction): a page
        it stays on keeps its position, a new page gets it at the end. None when the component
        is not the organisation's."""

    async def delete_component(self, org_id: uuid.UUID, component_id: uuid.UUID) -> bool:
        """False when it is not the organisation's. Its page links, group memberships,
        override and SLOs go with it; incidents, maintenances and subscribers keep its id."""

    async def list_components(self, org_id: uuid.UUID) -> list[Component]: ...

    async def page_components(self, page_id: uuid.UUID) -> list[tuple[Component, Monitor | None]]:
        """Components of a page in display order, each with its monitor (if any)."""

    # service level objectives
    async def create_slo(self, slo: Slo) -> Slo:
        """Stores ``slo`` as given (the caller checked that its monitor or component is the
        org's); returns it."""

    async def get_slo(self, org_id: uuid.UUID, slo_id: uuid.UUID) -> Slo | None: ...

    async def list_slos(self, org_id: uuid.UUID) -> list[Slo]:
        """Oldest first. Deleting a monitor or component deletes its SLOs."""

    async def delete_slo(self, org_id: uuid.UUID, slo_id: uuid.UUID) -> bool: ...

    # audit
    async def audit(
        self,
        org_id: uuid.UUID,
        actor: str,
        action: str,
        target_type: str,
        target_id: uuid.UUID | None,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
    ) -> None: ...

    async def audit_entries(self, org_id: uuid.UUID, limit: int) -> list[dict[str, Any]]:
        """Newest first."""

    # incident workflow, maintenances, component overrides, audit log (store/sql_incidents.py,
    # store/sql_maintenance.py, store/sql_audit.py). Every change writes its audit row (actor,
    # action, target, before/after JSON) in the same transaction; ``at`` is the change's time.
    async def create_incident(
        self,
        org_id: uuid.UUID,
        actor: str,
        author: str,
        *,
        title: str,
        body: str,
        at: datetime,
        status: IncidentState = ...,
        impact: Impact = ...,
        components: Sequence[uuid.UUID] = (),
        monitor_id: uuid.UUID | None = None,
        auto_resolve: bool = True,
        publish: bool = False,
        started_at: datetime | None = None,
    ) -> Incident:
        """An open incident with its first update (``author``); a draft unless ``publish``.
        Raises ValueError ("status: ...") for a status that is not open, and
        Conflict(field="monitor_id") when the monitor already has an open incident."""

    async def get_incident(self, org_id: uuid.UUID, incident_id: uuid.UUID) -> Incident | None:
        """With its updates, oldest first."""

    async def incident_page(
        self,
        org_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None = None,
        drafts: bool = True,
    ) -> list[Incident]:
        """Newest first (started_at, id), each with its updates; ``before``: (started_at, id)
        of the last incident of the previous page; ``drafts=False`` leaves drafts out."""

    async def add_incident_update(
        self,
        org_id: uuid.UUID,
        incident_id: uuid.UUID,
        actor: str,
        author: str,
        *,
        status: IncidentState,
        body: str,
        at: datetime,
        impact: Impact | None = None,
        components: Sequence[uuid.UUID] | None = None,
    ) -> Incident | None:
        """A timeline entry moving the incident to ``status``; None when unknown to the org.
        Raises InvalidTransition (nothing changes), Conflict(field="status") when reopening
        would give its monitor a second open incident."""

    async def publish_incident(
        self, org_id: uuid.UUID, incident_id: uuid.UUID, actor: str, at: datetime
    ) -> Incident | None:
        """Sets published_at and ttpu_s once; publishing again changes nothing."""

    async def auto_publish_due_drafts(self, now: datetime) -> list[uuid.UUID]:
        """Publish the open drafts due by their organisation's auto-publish delay; their ids."""

    async def get_auto_publish(self, org_id: uuid.UUID) -> int | None:
        """Auto-publish delay in seconds; None (the default): drafts wait for a person."""

    async def set_auto_publish(
        self, org_id: uuid.UUID, actor: str, seconds: int | None, at: datetime
    ) -> None: ...

    async def create_maintenance(
        self,
        org_id: uuid.UUID,
        actor: str,
        title: str,
        body: str,
        window: MaintenanceWindow,
        components: tuple[uuid.UUID, ...],
        at: datetime,
    ) -> Maintenance:
        """``window`` must have passed ``engine.maintenance.validate``."""

    async def get_maintenance(
        self, org_id: uuid.UUID, maintenance_id: uuid.UUID
    ) -> Maintenance | None: ...

    async def list_maintenances(self, org_id: uuid.UUID) -> list[Maintenance]:
        """Newest first."""

    async def update_maintenance(
        self,
        org_id: uuid.UUID,
        maintenance_id: uuid.UUID,
        actor: str,
        title: str,
        body: str,
        window: MaintenanceWindow,
        components: tuple[uuid.UUID, ...],
        at: datetime,
    ) -> Maintenance | None: ...

    async def delete_maintenance(
        self, org_id: uuid.UUID, maintenance_id: uuid.UUID, actor: str, at: datetime
    ) -> bool: ...

    async def set_override(
        self,
        org_id: uuid.UUID,
        component_id: uuid.UUID,
        actor: str,
        status: Override,
        reason: str,
        at: datetime,
    ) -> ComponentOverride | None:
        """Set or replace; None when the component is not the organisation's."""

    async def clear_override(
        self, org_id: uuid.UUID, component_id: uuid.UUID, actor: str, at: datetime
    ) -> bool:
        """False when the component had no override (or is not the organisation's)."""

    async def list_overrides(self, org_id: uuid.UUID) -> list[ComponentOverride]: ...

    async def audit_log(
        self,
        org_id: uuid.UUID,
        limit: int,
        before: tuple[datetime, uuid.UUID] | None = None,
        target_type: str | None = None,
        target_id: uuid.UUID | None = None,
    ) -> list[AuditEntry]:
        """Newest first; ``before``: (at, id) of the last entry of the previous page."""

    # custom domains of status pages (store/sql_domains.py)
    async def create_domain(
        self, org_id: uuid.UUID, page_id: uuid.UUID, hostname: str, token: str
    ) -> CustomDomain:
        """``hostname`` already normalised; raises Conflict(field="hostname") when taken."""

    async def list_domains(self, org_id: uuid.UUID, page_id: uuid.UUID) -> list[CustomDomain]: ...

    async def get_domain(self, org_id: uuid.UUID, domain_id: uuid.UUID) -> CustomDomain | None: ...

    async def delete_domain(self, org_id: uuid.UUID, domain_id: uuid.UUID) -> bool: ...

    async def mark_domain_verified(
        self, org_id: uuid.UUID, domain_id: uuid.UUID, at: datetime
    ) -> CustomDomain | None:
        """Sets verified_at (kept when already set); None when not the organisation's."""

    async def verified_domain_slug(self, hostname: str) -> str | None:
        """The slug of the page a verified ``hostname`` serves (unique index); else None."""

    async def domain_token(self, hostname: str) -> str | None:
        """The verification token of ``hostname`` while it is not verified; else None."""

    # subscribers of status pages (store/sql_subscribers.py); each delivers through a hidden
    # channel of its own, so the outbox and the dispatcher serve them unchanged
    async def create_subscriber(
        self,
        subscriber: Subscriber,
        channel_kind: str,
        config: Mapping[str, Any],
        secret_fields: Sequence[str],
    ) -> Subscriber:
        """Stores ``subscriber`` with a new hidden channel holding ``config`` (sealed)."""

    async def get_subscriber(self, subscriber_id: uuid.UUID) -> Subscriber | None:
        """Any organisation's subscriber (public links carry only its id)."""

    async def find_subscriber(
        self, page_id: uuid.UUID, kind: str, address: str
    ) -> Subscriber | None: ...

    async def list_subscribers(
        self, org_id: uuid.UUID, page_id: uuid.UUID | None = None, *, confirmed: bool = False
    ) -> list[Subscriber]: ...

    async def confirm_subscriber(self, subscriber_id: uuid.UUID, at: datetime) -> bool: ...

    async def delete_subscriber(self, org_id: uuid.UUID | None, subscriber_id: uuid.UUID) -> bool:
        """Removes it with its channel and queued messages; ``org_id`` None: any tenant's."""

    async def set_subscriber_code(
        self, subscriber_id: uuid.UUID, code_hash: str, expires_at: datetime
    ) -> None:
        """Replaces an SMS subscriber's pending confirmation code (attempts back to 0)."""

    async def spend_subscriber_code(
        self, subscriber_id: uuid.UUID, max_attempts: int
    ) -> tuple[str, datetime] | None:
        """Counts one attempt; the code's hash and expiry, or None (none, or attempts used)."""

    async def clear_subscriber_code(self, subscriber_id: uuid.UUID) -> None: ...

    # how status pages look (store/sql_appearance.py; web/public/appearance.py validates)
    async def get_page_appearance(self, page_id: uuid.UUID) -> PageAppearance:
        """The default look when none was set."""

    async def set_page_appearance(self, page_id: uuid.UUID, appearance: PageAppearance) -> None:
        """Replaces the page's appearance."""

    # private status pages (store/sql_access.py)
    async def get_page_access(self, page_id: uuid.UUID) -> PageAccess | None: ...

    async def page_access_by_slug(self, slug: str) -> PageAccess | None: ...

    async def set_page_access(
        self,
        page_id: uuid.UUID,
        *,
        password_hash: str | None,
        email_domains: Sequence[str],
        ip_allowlist: Sequence[str],
    ) -> PageAccess:
        """Stores the rules; bumps ``session_version`` when they differ from the stored ones."""

    async def create_access_link(self, page_id: uuid.UUID, expires_at: datetime) -> uuid.UUID: ...

    async def use_access_link(self, link_id: uuid.UUID, page_id: uuid.UUID, now: datetime) -> bool:
        """Spends a one-time sign-in link: True once, for an unused, unexpired link."""

    # component groups of status pages (store/sql_groups.py)
    async def create_group(
        self,
        org_id: uuid.UUID,
        page_id: uuid.UUID,
        name: str,
        component_ids: Sequence[uuid.UUID],
    ) -> ComponentGroup:
        """Last on the page; members of another group of the page move to this one."""

    async def list_groups(self, page_id: uuid.UUID) -> list[ComponentGroup]:
        """By position, members in the page's component order."""

    async def delete_group(
        self, org_id: uuid.UUID, page_id: uuid.UUID, group_id: uuid.UUID
    ) -> bool:
        """Members become ungrouped; False when the page has no such group."""
