"""``GET/PUT /api/v1/pages/{slug}/access``: the rules of a private page, validated, audited,
write-only password, per organisation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from statpulse.model import Scope
from statpulse.settings import Settings
from statpulse.web.app import create_app
from statpulse.web.services import Services
from tests.api.conftest import Env, _key

URL = "/api/v1/pages/acme/access"


@pytest.fixture
async def aenv(tmp_path: Path) -> AsyncIterator[Env]:
    """The API with SMTP settings (e-mail sign-in needs them) and a page ``acme``."""
    settings = Settings(
        db=f"sqlite:///{tmp_path / 'access.db'}",
        data_dir=tmp_path,
        embedded_runner=False,
        smtp_host="127.0.0.1",
        smtp_from="status@acme.test",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        svc: Services = app.state.services
        org = await svc.store.create_org("acme", "Acme")
        other = await svc.store.create_org("other", "Other")
        await svc.store.create_page(org.id, "acme", "Acme", "")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Env(
                client,
                svc,
                org,
                await _key(svc, org, Scope.WRITE),
                await _key(svc, org, Scope.READ),
                await _key(svc, other, Scope.WRITE),
            )


async def test_a_new_page_is_public(aenv: Env) -> None:
    r = await aenv.client.get(URL, headers=aenv.read)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "private": False,
        "password_set": False,
        "email_domains": [],
        "ip_allowlist": [],
        "session_version": 0,
        "updated_at": None,
    }


async def test_rules_are_normalised_and_the_password_is_never_shown(aenv: Env) -> None:
    body = {
        "password": "correct horse battery",
        "email_domains": ["Example.COM", "@example.org", "example.com"],
        "ip_allowlist": ["10.1.2.3/8", "192.0.2.7", "2001:DB8::/32"],
    }
    r = await aenv.client.put(URL, headers=aenv.write, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["private"] is True
    assert out["password_set"] is True
    assert out["email_domains"] == ["example.com", "example.org"]
    assert out["ip_allowlist"] == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    assert out["session_version"] == 1
    got = await aenv.client.get(URL, headers=aenv.read)
    assert got.json() == out
    assert "correct horse" not in got.text
    stored = await aenv.services.store.get_page_access(
        (await aenv.services.store.get_page("acme")).id  # type: ignore[union-attr]
    )
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$")


async def test_an_omitted_password_is_kept_and_null_removes_it(aenv: Env) -> None:
    await aenv.client.put(URL, headers=aenv.write, json={"password": "first password"})
    kept = await aenv.client.put(URL, headers=aenv.write, json={"ip_allowlist": ["10.0.0.0/8"]})
    assert kept.json()["password_set"] is True
    assert kept.json()["session_version"] == 2
    removed = await aenv.client.put(
        URL, headers=aenv.write, json={"password": None, "ip_allowlist": ["10.0.0.0/8"]}
    )
    assert removed.json()["password_set"] is False
    assert removed.json()["private"] is True
    assert removed.json()["session_version"] == 3
    public = await aenv.client.put(URL, headers=aenv.write, json={})
    assert public.json()["private"] is False


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ip_allowlist": ["10.0.0.0/8", "10.0.0.0/33"]}, "ip_allowlist[1]"),
        ({"ip_allowlist": ["not an address"]}, "ip_allowlist[0]"),
        ({"email_domains": ["example.com", "bad domain"]}, "email_domains[1]"),
        ({"email_domains": ["localhost"]}, "email_domains[0]"),
        ({"password": "short"}, "password"),
        ({"password": "x" * 2000}, "password"),
        ({"ip_allowlist": "10.0.0.0/8"}, "ip_allowlist"),
        ({"passwd": "typo in the name"}, "passwd"),
    ],
)
async def test_bad_rules_are_a_422_naming_the_field_and_keep_what_was_stored(
    aenv: Env, body: dict[str, object], field: str
) -> None:
    first = await aenv.client.put(URL, headers=aenv.write, json={"password": "the first one"})
    assert first.status_code == 200
    r = await aenv.client.put(URL, headers=aenv.write, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    after = await aenv.client.get(URL, headers=aenv.read)
    assert after.json() == first.json()


async def test_email_sign_in_needs_the_smtp_settings(env: Env) -> None:
    await env.services.store.create_page(env.org.id, "acme", "Acme", "")
    r = await env.client.put(URL, headers=env.write, json={"email_domains": ["example.com"]})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "email_domains"


async def test_only_the_pages_organisation_with_a_write_key_may_change_it(aenv: Env) -> None:
    body = {"ip_allowlist": ["10.0.0.0/8"]}
    assert (await aenv.client.put(URL, headers=aenv.read, json=body)).status_code == 403
    assert (await aenv.client.put(URL, headers=aenv.other, json=body)).status_code == 404
    assert (await aenv.client.get(URL, headers=aenv.other)).status_code == 404
    assert (await aenv.client.put(URL, json=body)).status_code == 401
    missing = "/api/v1/pages/nope/access"
    assert (await aenv.client.get(missing, headers=aenv.read)).status_code == 404
    assert (await aenv.client.get(URL, headers=aenv.read)).json()["private"] is False


async def test_a_change_is_audited_without_the_password(aenv: Env) -> None:
    body = {"password": "audited secret", "ip_allowlist": ["10.0.0.0/8"]}
    await aenv.client.put(URL, headers=aenv.write, json=body)
    await aenv.client.put(URL, headers=aenv.write, json=body | {"password": "second secret"})
    log = await aenv.client.get("/api/v1/audit", headers=aenv.write)
    entries = [e for e in log.json()["data"] if e["action"] == "page.access"]
    assert len(entries) == 2
    newest = entries[0]
    assert newest["before"]["session_version"] == 1
    assert newest["after"]["session_version"] == 2
    assert newest["after"]["password_set"] is True
    assert "secret" not in log.text
