"""The ASGI app factory. Its lifespan owns every background service of the process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import RedirectResponse

from statpulse import __version__
from statpulse.model import utcnow
from statpulse.settings import Settings
from statpulse.web import errors, ops, push
from statpulse.web.api import (
    audit,
    channels,
    domains,
    incidents,
    maintenances,
    monitors,
    overrides,
    pagerduty_inbound,
    pages,
    regions,
    results,
    slos,
    status,
    subscribers,
)
from statpulse.web.api.access import router as access_api
from statpulse.web.api.appearance import router as appearance_api
from statpulse.web.api.groups import router as groups_api
from statpulse.web.domains import HostRouting
from statpulse.web.domains import router as tls_ask
from statpulse.web.middleware import RequestContext
from statpulse.web.public import badges, feeds, statuspage, subscribe, subscribe_sms, widget
from statpulse.web.public import routes as public
from statpulse.web.public.access import PrivatePages
from statpulse.web.public.access_signin import router as access_signin
from statpulse.web.public.assets import router as public_assets
from statpulse.web.public.component_view import router as component_page
from statpulse.web.public.routes import CachedPages
from statpulse.web.public.snapshot import SnapshotPublisher, SnapshotTarget, renderer
from statpulse.web.services import Services
from statpulse.web.static_files import StaticAssets

StartupHook = Callable[[Services, AsyncExitStack], Awaitable[None]]
"""Runs after the services started; may push its own cleanup onto the exit stack."""


def create_app(
    settings: Settings,
    startup_hooks: Sequence[StartupHook] = (),
    *,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """``clock``: the time the services see (the evaluator and the heartbeats)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            services = await Services.start(settings, clock=clock)
            stack.push_async_callback(services.stop)
            for hook in startup_hooks:
                await hook(services, stack)
            app.state.services = services
            await _start_snapshots(app, services, stack)
            yield

    app = FastAPI(
        title="StatPulse",
        version=__version__,
        description="API status monitoring: checks, monitor states and public status pages.",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    errors.install(app)
    # Pages compress ~25x (SVG bars repeat); GZip skips text/event-stream, so SSE still streams.
    app.add_middleware(CachedPages)  # fresh status-page renders, answered before routing
    app.add_middleware(PrivatePages)  # every URL of a private page needs access (outside the cache)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(HostRouting, settings=settings)  # custom domains (off by default)
    app.add_middleware(RequestContext)
    app.include_router(ops.router)
    app.include_router(tls_ask)
    app.include_router(monitors.router)
    app.include_router(results.router)
    app.include_router(regions.router)
    app.include_router(channels.router)
    app.include_router(pages.router)
    app.include_router(appearance_api)
    app.include_router(groups_api)
    app.include_router(access_api)
    app.include_router(domains.router)
    app.include_router(slos.router)
    app.include_router(incidents.router)
    app.include_router(maintenances.router)
    app.include_router(overrides.router)
    app.include_router(audit.router)
    app.include_router(pagerduty_inbound.router)
    app.include_router(status.router)
    app.include_router(subscribers.router)
    app.include_router(public.router)
    app.include_router(public_assets)
    app.include_router(component_page)
    app.include_router(access_signin)
    app.include_router(statuspage.router)
    app.include_router(feeds.router)
    app.include_router(badges.router)
    app.include_router(subscribe.router)
    app.include_router(subscribe_sms.router)
    app.include_router(widget.router)
    app.include_router(push.router)
    app.include_router(push.api_router)
    app.mount("/static", StaticAssets(packages=[("statpulse", "web/static")]), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> RedirectResponse:
        return RedirectResponse("/static/favicon.svg", status_code=301)

    return app


async def _start_snapshots(app: FastAPI, services: Services, stack: AsyncExitStack) -> None:
    """Re-publish static snapshots of ``snapshot_pages`` to ``snapshot_url`` on every change
    (one process per installation). It needs the app itself to render, hence here."""
    settings = services.settings
    if not (settings.snapshot_url and settings.snapshot_pages) or settings.worker_index != 0:
        return
    s3 = settings.snapshot_url.startswith("s3:")
    secret = settings.archive_secret_key
    target = SnapshotTarget.from_url(
        settings.snapshot_url,
        access_key=settings.archive_access_key if s3 else None,
        secret_key=secret.get_secret_value() if secret and s3 else None,
    )
    root = settings.snapshot_base_url or f"http://{settings.host}:{settings.port}/s"
    publisher = SnapshotPublisher(
        renderer(app, services.store, root), target, settings.snapshot_pages, services.live
    )
    await publisher.start()
    stack.push_async_callback(publisher.stop)
