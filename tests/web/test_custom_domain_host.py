"""Routing by Host header with custom domains on: a verified domain serves its page at ``/``
(and the page's other public paths), main hosts pass through, any other Host gets 421; with
the setting off nothing changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from statpulse.model import Scope, StatusPage
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.domains import rewrite_path
from statpulse.web.services import Services
from tests.api.conftest import _key
from tests.probes.dns_server import dns_server


@dataclass
class HostEnv:
    client: httpx.AsyncClient
    services: Services
    page: StatusPage
    zone: dict[tuple[str, str], list[str]]
    write: dict[str, str]


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        db=f"sqlite:///{tmp_path / 'hosts.db'}",
        data_dir=tmp_path,
        embedded_runner=False,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
async def henv(tmp_path: Path) -> AsyncIterator[HostEnv]:
    async with dns_server({}) as server:
        settings = _settings(
            tmp_path,
            custom_domains=True,
            public_hosts=["status.statpulse.test"],
            domain_resolver=server.address,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            org = await services.store.create_org("acme", "Acme")
            page = await services.store.create_page(org.id, "acme", "Acme status", "All good")
            await services.store.create_page(org.id, "secret", "Another page", "")
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                key = await _key(services, org, Scope.WRITE)
                yield HostEnv(c, services, page, server.zone, key)


async def _verified(env: HostEnv, hostname: str) -> None:
    base = f"/api/v1/pages/{env.page.id}/domains"
    added = await env.client.post(base, headers=env.write, json={"hostname": hostname})
    assert added.status_code == 201, added.text
    txt = next(r for r in added.json()["records"] if r["type"] == "TXT")
    env.zone[(txt["name"] + ".", "TXT")] = [f'"{txt["value"]}"']
    verify = await env.client.post(f"{base}/{added.json()['id']}/verify", headers=env.write)
    assert verify.status_code == 200, verify.text


async def test_a_verified_domain_serves_its_page_at_the_root(henv: HostEnv) -> None:
    await _verified(henv, "status.example.com")
    host = {"Host": "status.example.com"}
    root = await henv.client.get("/", headers=host)
    assert root.status_code == 200, root.text
    assert "Acme status" in root.text
    direct = await henv.client.get("/s/acme")
    assert root.text == direct.text
    with_port = await henv.client.get("/", headers={"Host": "STATUS.example.com:443"})
    assert with_port.status_code == 200
    summary = await henv.client.get("/api/v2/summary.json", headers=host)
    assert summary.status_code == 200
    assert summary.json()["page"]["name"] == "Acme status"
    assert (await henv.client.get("/feed.atom", headers=host)).status_code == 200
    assert (await henv.client.get("/static/status.css", headers=host)).status_code == 200
    assert (await henv.client.get("/s/acme", headers=host)).status_code == 200


async def test_a_custom_domain_serves_nothing_but_its_own_page(henv: HostEnv) -> None:
    await _verified(henv, "status.example.com")
    host = {"Host": "status.example.com"}
    assert (await henv.client.get("/s/secret", headers=host)).status_code == 404
    assert (await henv.client.get("/api/v1/pages", headers=host)).status_code == 404
    ask = await henv.client.get(
        "/internal/tls/ask", params={"domain": "status.example.com"}, headers=host
    )
    assert ask.status_code == 404


@pytest.mark.parametrize(
    "host", ["evil.example.net", "pending.example.com", "203.0.113.5", "status.example.com.evil"]
)
async def test_an_unknown_or_unverified_host_gets_421(henv: HostEnv, host: str) -> None:
    added = await henv.client.post(
        f"/api/v1/pages/{henv.page.id}/domains",
        headers=henv.write,
        json={"hostname": "pending.example.com"},
    )
    assert added.status_code == 201
    response = await henv.client.get("/", headers={"Host": host})
    assert response.status_code == 421
    assert response.json()["error"]["code"] == "misdirected"
    assert "x-request-id" in response.headers


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.0.0.1:8080", "localhost:8080", "[::1]:8080", "status.statpulse.test"]
)
async def test_main_hosts_pass_through(henv: HostEnv, host: str) -> None:
    response = await henv.client.get("/healthz", headers={"Host": host})
    assert response.status_code == 200
    assert (await henv.client.get("/s/secret", headers={"Host": host})).status_code == 200


async def test_verifying_takes_effect_at_once_despite_the_cache(henv: HostEnv) -> None:
    host = {"Host": "status.example.com"}
    assert (await henv.client.get("/", headers=host)).status_code == 421  # cached: unknown
    await _verified(henv, "status.example.com")
    assert (await henv.client.get("/", headers=host)).status_code == 200


async def test_with_custom_domains_off_any_host_reaches_the_app(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            response = await client.get("/healthz", headers={"Host": "anything.example.org"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", "/s/acme"),
        ("/events", "/s/acme/events"),
        ("/api/v2/status.json", "/s/acme/api/v2/status.json"),
        ("/incidents/x", "/s/acme/incidents/x"),
        ("/s/acme", "/s/acme"),
        ("/s/acme/events", "/s/acme/events"),
        ("/s/acmex", "/s/acme/s/acmex"),
        ("/static/live.js", "/static/live.js"),
        ("/favicon.ico", "/favicon.ico"),
    ],
)
def test_paths_on_a_custom_domain_map_under_the_page(path: str, expected: str) -> None:
    assert rewrite_path(path, "acme") == expected


async def test_a_pending_domain_answers_only_its_http_verification_token(henv: HostEnv) -> None:
    added = await henv.client.post(
        f"/api/v1/pages/{henv.page.id}/domains",
        headers=henv.write,
        json={"hostname": "pending.example.com"},
    )
    url = added.json()["http_verification_url"]
    token = url.rsplit("/", 1)[1]
    host = {"Host": "pending.example.com"}
    path = f"/.well-known/statpulse-verify/{token}"
    answered = await henv.client.get(path, headers=host)
    assert answered.status_code == 200
    assert answered.text == token
    wrong = await henv.client.get("/.well-known/statpulse-verify/nope", headers=host)
    assert wrong.status_code == 404
    other = await henv.client.get(path, headers={"Host": "other.example.com"})
    assert other.status_code == 404
    assert (await henv.client.get("/", headers=host)).status_code == 421
