"""Builds the public view of a status page from the store (the one place both the HTML page,
its live stream and the public JSON API get their data)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from statpulse.engine.evaluate import stale_after
from statpulse.engine.regions import region_views, summary
from statpulse.model import DayUptime, Monitor, RegionState, Status, StatusPage
from statpulse.store.contract import Store
from statpulse.web.public.view import ComponentView, PageView, last_days, uptime_pct

HISTORY_DAYS = 90


async def page_view(
    store: Store, page: StatusPage, now: datetime, *, with_history: bool = True
) -> PageView:
    """The page as of ``now``: components in order, their current status and, unless
    ``with_history`` is false (the live stream needs only states), 90 days of daily uptime."""
    pairs = await store.page_components(page.id)
    today = now.astimezone(UTC).date()
    daily = {}
    if with_history:
        start = datetime.combine(today - timedelta(days=HISTORY_DAYS - 1), time(), UTC)
        end = datetime.combine(today + timedelta(days=1), time(), UTC)
        monitor_ids = [m.id for _, m in pairs if m is not None]
        daily = await store.daily_uptime(monitor_ids, start, end)
    multi = [m for _, m in pairs if m is not None and len(m.config.regions) > 1]
    states = await store.region_states([m.id for m in multi]) if multi else []
    components = []
    for component, monitor in pairs:
        days: tuple[DayUptime, ...] = ()
        if with_history:
            rows = daily.get(monitor.id, []) if monitor else []
            days = last_days(rows, today=today, n=HISTORY_DAYS)
        components.append(
            ComponentView(
                id=str(component.id),
                name=component.name,
                description=component.description,
                status=monitor.status if monitor else Status.UNKNOWN,
                days=days,
                uptime_pct=uptime_pct(days),
                regions=_regions(monitor, states, now) if monitor in multi else None,
            )
        )
    return PageView(
        slug=page.slug,
        title=page.title,
        description=page.description,
        components=components,
        updated_at=now,
    )


def _regions(monitor: Monitor, states: Sequence[RegionState], now: datetime) -> str:
    mine = [s for s in states if s.monitor_id == monitor.id]
    cfg = monitor.config
    return summary(region_views(cfg.regions, mine, now, stale_after(cfg.interval_s)))
