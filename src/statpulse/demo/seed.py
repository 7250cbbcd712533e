"""Seeds (idempotently) the ``demo`` organisation, its four monitors and the ``demo`` page."""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import replace

from statpulse.demo.target import start_target
from statpulse.model import HttpOptions, MonitorConfig
from statpulse.store.contract import Store
from statpulse.web.services import Services

ORG = "demo"
PAGE = "demo"


def demo_monitors(base_url: str) -> list[tuple[MonitorConfig, str]]:
    """(monitor config, component description) for each demo monitor, in page order."""
    json_up = ("[STATUS] == 200", "[BODY].status == UP")
    return [
        (
            MonitorConfig(
                name="Website",
                kind="http",
                target=f"{base_url}/healthy",
                interval_s=10,
                timeout_s=5,
                conditions=json_up,
            ),
            "Marketing site and sign-in.",
        ),
        (
            MonitorConfig(
                name="Search API",
                kind="http",
                target=f"{base_url}/slow",
                interval_s=10,
                timeout_s=5,
                conditions=(*json_up, "[RESPONSE_TIME] < 300"),
            ),
            "Answers in 450-750 ms; degraded above 300 ms.",
        ),
        (
            MonitorConfig(
                name="Billing API",
                kind="http",
                target=f"{base_url}/failing",
                interval_s=10,
                timeout_s=5,
                conditions=("[STATUS] == 200",),
            ),
            "Returns HTTP 503 on every check.",
        ),
        (
            MonitorConfig(
                name="Webhooks",
                kind="http",
                target=f"{base_url}/flapping",
                interval_s=10,
                timeout_s=5,
                http=HttpOptions(method="GET"),
                conditions=("[STATUS] == 200",),
                failure_threshold=1,
            ),
            "Flaps: up for 40 s, down for 40 s.",
        ),
    ]


async def seed(store: Store, base_url: str) -> None:
    """Create or refresh the demo data so the monitors point at the running target."""
    org = await store.get_org_by_slug(ORG) or await store.create_org(ORG, "Demo Inc.")
    page = await store.get_page(PAGE) or await store.create_page(
        org.id, PAGE, "Demo Inc. status", "Live checks of the built-in demo service."
    )
    existing = {m.config.name: m for m in await store.list_monitors(org.id)}
    listed = {c.monitor_id for c, _ in await store.page_components(page.id)}
    for config, description in demo_monitors(base_url):
        monitor = existing.get(config.name)
        if monitor is None:
            monitor = await store.create_monitor(org.id, config)
        elif monitor.config != config:
            # Keep the user's edits except the target, whose port changes on every start.
            fresh = replace(monitor.config, target=config.target)
            await store.update_monitor(org.id, monitor.id, fresh)
        if monitor.id not in listed:
            await store.create_component(org.id, config.name, description, monitor.id, [page.id])


async def setup_demo(services: Services, stack: AsyncExitStack) -> None:
    """Startup hook of ``statpulse demo``: start the target, seed, wake the runner."""
    target = await start_target()
    stack.push_async_callback(target.stop)
    await seed(services.store, target.base_url)
    services.monitors_changed()
