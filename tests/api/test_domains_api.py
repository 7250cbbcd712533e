"""Custom domains through the API: the records to create, verification against a real local DNS
server (tests/probes/dns_server.py), tenancy, and Caddy's ask endpoint."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from statpulse.model import Scope, utcnow
from statpulse.settings import Settings
from statpulse.store.contract import Conflict
from statpulse.store.sql import SqlStore
from statpulse.web.app import create_app
from statpulse.web.services import Services
from tests.api.conftest import _key
from tests.probes.dns_server import DnsServer, dns_server


@dataclass
class DomainEnv:
    client: httpx.AsyncClient
    services: Services
    dns: DnsServer
    write: dict[str, str]
    read: dict[str, str]
    other: dict[str, str]
    page_id: str


@pytest.fixture
async def denv(tmp_path: Path) -> AsyncIterator[DomainEnv]:
    async with dns_server({}) as server:
        settings = Settings(
            db=f"sqlite:///{tmp_path / 'api.db'}",
            data_dir=tmp_path,
            embedded_runner=False,
            custom_domains=True,
            public_host="status.statpulse.test",
            public_hosts=["testserver"],
            domain_resolver=server.address,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            org = await services.store.create_org("acme", "Acme")
            other = await services.store.create_org("other", "Other")
            page = await services.store.create_page(org.id, "acme", "Acme status", "")
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                yield DomainEnv(
                    client,
                    services,
                    server,
                    await _key(services, org, Scope.WRITE),
                    await _key(services, org, Scope.READ),
                    await _key(services, other, Scope.WRITE),
                    str(page.id),
                )


async def _add(env: DomainEnv, hostname: str) -> dict[str, Any]:
    response = await env.client.post(
        f"/api/v1/pages/{env.page_id}/domains", headers=env.write, json={"hostname": hostname}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _publish_txt(env: DomainEnv, domain: dict[str, Any]) -> None:
    txt = next(r for r in domain["records"] if r["type"] == "TXT")
    env.dns.zone[(txt["name"] + ".", "TXT")] = [f'"{txt["value"]}"']


async def test_adding_a_domain_lists_the_cname_and_txt_records_to_create(denv: DomainEnv) -> None:
    domain = await _add(denv, "Status.Example.COM.")
    assert domain["hostname"] == "status.example.com"
    assert domain["verified"] is False
    token = domain["http_verification_url"].rsplit("/", 1)[1]
    assert domain["records"] == [
        {"type": "CNAME", "name": "status.example.com", "value": "status.statpulse.test"},
        {
            "type": "TXT",
            "name": "_statpulse.status.example.com",
            "value": f"statpulse-verify={token}",
        },
    ]
    assert domain["http_verification_url"] == (
        f"http://status.example.com/.well-known/statpulse-verify/{token}"
    )
    listed = await denv.client.get(f"/api/v1/pages/{denv.page_id}/domains", headers=denv.read)
    assert [d["id"] for d in listed.json()] == [domain["id"]]


@pytest.mark.parametrize(
    ("hostname", "reason"),
    [
        ("127.0.0.1", "IP address"),
        ("[::1]", "IP address"),
        ("*.example.com", "wildcard"),
        ("localhost", "fully qualified"),
        ("bad_name.example.com", "DNS name"),
        ("-x.example.com", "DNS name"),
        ("example.com:8443", "DNS name"),
        ("a" * 64 + ".example.com", "DNS name"),
    ],
)
async def test_a_hostname_that_is_no_dns_name_is_refused_naming_the_field(
    denv: DomainEnv, hostname: str, reason: str
) -> None:
    response = await denv.client.post(
        f"/api/v1/pages/{denv.page_id}/domains", headers=denv.write, json={"hostname": hostname}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "hostname"
    assert reason in response.json()["error"]["message"]


async def test_a_hostname_already_in_use_is_a_conflict(denv: DomainEnv) -> None:
    await _add(denv, "status.example.com")
    response = await denv.client.post(
        f"/api/v1/pages/{denv.page_id}/domains",
        headers=denv.write,
        json={"hostname": "STATUS.example.com"},
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "hostname"


async def test_verify_fails_naming_the_hostname_until_the_txt_record_exists(
    denv: DomainEnv,
) -> None:
    domain = await _add(denv, "status.example.com")
    verify = f"/api/v1/pages/{denv.page_id}/domains/{domain['id']}/verify"
    denv.dns.nxdomain.add("_statpulse.status.example.com.")
    missing = await denv.client.post(verify, headers=denv.write)
    assert missing.status_code == 422
    assert missing.json()["error"]["field"] == "hostname"
    assert "does not exist" in missing.json()["error"]["message"]
    denv.dns.nxdomain.clear()
    denv.dns.zone[("_statpulse.status.example.com.", "TXT")] = ['"statpulse-verify=wrong"']
    wrong = await denv.client.post(verify, headers=denv.write)
    assert wrong.status_code == 422
    assert "no TXT record" in wrong.json()["error"]["message"]

    _publish_txt(denv, domain)
    verified = await denv.client.post(verify, headers=denv.write)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
    assert verified.json()["verified_at"] is not None
    assert any(q.record_type == "TXT" for q in denv.dns.queries)


async def test_another_tenant_cannot_see_verify_or_delete_a_domain(denv: DomainEnv) -> None:
    domain = await _add(denv, "status.example.com")
    base = f"/api/v1/pages/{denv.page_id}/domains"
    assert (await denv.client.get(base, headers=denv.other)).status_code == 404
    added = await denv.client.post(base, headers=denv.other, json={"hostname": "x.example.org"})
    assert added.status_code == 404
    verify = await denv.client.post(f"{base}/{domain['id']}/verify", headers=denv.other)
    assert verify.status_code == 404
    delete = await denv.client.delete(f"{base}/{domain['id']}", headers=denv.other)
    assert delete.status_code == 404
    assert len((await denv.client.get(base, headers=denv.read)).json()) == 1


async def test_a_read_key_cannot_add_a_domain(denv: DomainEnv) -> None:
    response = await denv.client.post(
        f"/api/v1/pages/{denv.page_id}/domains", headers=denv.read, json={"hostname": "a.b.com"}
    )
    assert response.status_code == 403


async def test_ask_answers_200_only_for_a_verified_domain(denv: DomainEnv) -> None:
    domain = await _add(denv, "status.example.com")
    await _add(denv, "pending.example.com")
    ask = "/internal/tls/ask"
    assert (await denv.client.get(ask, params={"domain": "status.example.com"})).status_code == 404
    _publish_txt(denv, domain)
    verify = f"/api/v1/pages/{denv.page_id}/domains/{domain['id']}/verify"
    assert (await denv.client.post(verify, headers=denv.write)).status_code == 200

    assert (await denv.client.get(ask, params={"domain": "status.example.com"})).status_code == 200
    assert (await denv.client.get(ask, params={"domain": "Status.Example.com"})).status_code == 200
    for name in ("pending.example.com", "unknown.example.com", "127.0.0.1", ""):
        assert (await denv.client.get(ask, params={"domain": name})).status_code == 404, name
    relayed = await denv.client.get(
        ask, params={"domain": "status.example.com"}, headers={"X-Forwarded-For": "203.0.113.9"}
    )
    assert relayed.status_code == 403


async def test_deleting_a_verified_domain_stops_the_ask_at_once(denv: DomainEnv) -> None:
    domain = await _add(denv, "status.example.com")
    _publish_txt(denv, domain)
    base = f"/api/v1/pages/{denv.page_id}/domains"
    assert (await denv.client.post(f"{base}/{domain['id']}/verify", headers=denv.write)).is_success
    ask = {"domain": "status.example.com"}
    assert (await denv.client.get("/internal/tls/ask", params=ask)).status_code == 200
    deleted = await denv.client.delete(f"{base}/{domain['id']}", headers=denv.write)
    assert deleted.status_code == 204
    assert (await denv.client.get("/internal/tls/ask", params=ask)).status_code == 404


async def test_ask_refuses_a_client_that_is_not_on_loopback(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    settings = Settings(db=db, data_dir=tmp_path, embedded_runner=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            response = await c.get("/internal/tls/ask", params={"domain": "status.example.com"})
    assert response.status_code == 403


async def test_the_ask_endpoint_is_not_in_the_openapi_document(denv: DomainEnv) -> None:
    paths = (await denv.client.get("/openapi.json")).json()["paths"]
    assert "/internal/tls/ask" not in paths
    assert "/api/v1/pages/{page_id}/domains" in paths


class _Tokens(BaseHTTPRequestHandler):
    """Whatever answers the name: serves the tokens in ``server.tokens`` by path."""

    def do_GET(self) -> None:
        body = self.server.tokens.get(self.path, b"")  # type: ignore[attr-defined]
        self.send_response(200 if body else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


async def test_verify_by_http_fetches_the_token_from_the_name(tmp_path: Path) -> None:
    web = ThreadingHTTPServer(("127.0.0.1", 0), _Tokens)
    web.tokens = {}  # type: ignore[attr-defined]
    threading.Thread(target=web.serve_forever, daemon=True).start()
    zone = {("status.example.com.", "A"): ["127.0.0.1"]}
    try:
        async with dns_server(zone) as server:
            settings = Settings(
                db=f"sqlite:///{tmp_path / 'http.db'}",
                data_dir=tmp_path,
                embedded_runner=False,
                domain_resolver=server.address,
                domain_http_port=web.server_address[1],
            )
            app = create_app(settings)
            async with app.router.lifespan_context(app):
                services: Services = app.state.services
                org = await services.store.create_org("acme", "Acme")
                page = await services.store.create_page(org.id, "acme", "Acme", "")
                write = await _key(services, org, Scope.WRITE)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    base = f"/api/v1/pages/{page.id}/domains"
                    added = await c.post(
                        base, headers=write, json={"hostname": "status.example.com"}
                    )
                    verify = f"{base}/{added.json()['id']}/verify"
                    missing = await c.post(verify, headers=write, json={"method": "http"})
                    assert missing.status_code == 422
                    assert "answered 404" in missing.json()["error"]["message"]
                    path = added.json()["http_verification_url"].removeprefix(
                        "http://status.example.com"
                    )
                    web.tokens[path] = path.rsplit("/", 1)[1].encode()  # type: ignore[attr-defined]
                    done = await c.post(verify, headers=write, json={"method": "http"})
                    assert done.status_code == 200, done.text
                    assert done.json()["verified"] is True
    finally:
        web.shutdown()
        web.server_close()


async def test_verify_by_http_refuses_a_name_that_resolves_to_a_denied_address(
    tmp_path: Path,
) -> None:
    zone = {("status.example.com.", "A"): ["127.0.0.1"]}
    async with dns_server(zone) as server:
        settings = Settings(
            db=f"sqlite:///{tmp_path / 'guard.db'}",
            data_dir=tmp_path,
            embedded_runner=False,
            multi_tenant=True,
            domain_resolver=server.address,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            services: Services = app.state.services
            org = await services.store.create_org("acme", "Acme")
            page = await services.store.create_page(org.id, "acme", "Acme", "")
            write = await _key(services, org, Scope.WRITE)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                base = f"/api/v1/pages/{page.id}/domains"
                added = await c.post(base, headers=write, json={"hostname": "status.example.com"})
                verify = f"{base}/{added.json()['id']}/verify"
                refused = await c.post(verify, headers=write, json={"method": "http"})
    assert refused.status_code == 422
    assert "may not connect" in refused.json()["error"]["message"]


async def test_the_store_finds_a_domain_by_hostname_only_once_verified(store: SqlStore) -> None:
    org = await store.create_org("acme", "Acme")
    page = await store.create_page(org.id, "acme", "Acme", "")
    domain = await store.create_domain(org.id, page.id, "status.example.com", "t0k3n")
    with pytest.raises(Conflict) as taken:
        await store.create_domain(org.id, page.id, "status.example.com", "other")
    assert taken.value.field == "hostname"
    assert await store.verified_domain_slug("status.example.com") is None
    assert await store.domain_token("status.example.com") == "t0k3n"
    verified = await store.mark_domain_verified(org.id, domain.id, utcnow())
    assert verified is not None and verified.verified_at is not None
    assert await store.verified_domain_slug("status.example.com") == "acme"
    assert await store.domain_token("status.example.com") is None
    other = await store.create_org("other", "Other")
    assert await store.get_domain(other.id, domain.id) is None
    assert not await store.delete_domain(other.id, domain.id)
    assert await store.list_domains(org.id, page.id) == [verified]
    await store.delete_domain(org.id, domain.id)
    assert await store.verified_domain_slug("status.example.com") is None
