"""An app on a temporary SQLite database with an organisation and keys, driven through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from statpulse.model import Organization, Scope
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.services import Services


@dataclass
class Env:
    client: httpx.AsyncClient
    services: Services
    org: Organization
    write: dict[str, str]
    read: dict[str, str]
    other: dict[str, str]  # a write key of another organisation


async def _key(services: Services, org: Organization, scope: Scope) -> dict[str, str]:
    key = apikeys.generate()
    await services.store.create_api_key(org.id, "test", scope, key.prefix, key.secret_hash)
    return {"Authorization": f"Bearer {key.token}"}


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    settings = Settings(db=f"sqlite:///{tmp_path / 'api.db'}", data_dir=tmp_path)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        org = await services.store.create_org("acme", "Acme")
        other = await services.store.create_org("other", "Other")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Env(
                client,
                services,
                org,
                await _key(services, org, Scope.WRITE),
                await _key(services, org, Scope.READ),
                await _key(services, other, Scope.WRITE),
            )
