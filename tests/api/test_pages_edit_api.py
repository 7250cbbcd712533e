"""``PATCH``/``DELETE /api/v1/pages/{slug}`` and ``/api/v1/components/{id}``: changes, deletes,
per organisation, validation before any write, write keys only, audited; the public page shows
a change at once and survives a deleted component that incidents still name."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Env
from tests.api.test_incidents_api import error
from tests.api.test_public import MONITOR, make_page

ONE_OFF = {"kind": "one_off", "start": "2030-01-01T02:00:00Z", "end": "2030-01-01T04:00:00Z"}


async def _json(env: Env, path: str) -> Any:
    response = await env.client.get(path, headers=env.read)
    assert response.status_code == 200, response.text
    return response.json()


async def _audit(env: Env, target_id: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        await env.client.get(f"/api/v1/audit?target_id={target_id}", headers=env.write)
    ).json()["data"]
    return entries


async def _component(env: Env, name: str, pages: list[str]) -> str:
    response = await env.client.post(
        "/api/v1/components", json={"name": name, "pages": pages}, headers=env.write
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _page(env: Env, slug: str) -> str:
    response = await env.client.post(
        "/api/v1/pages", json={"slug": slug, "title": slug.upper()}, headers=env.write
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_a_page_title_change_shows_at_once_and_is_audited(env: Env) -> None:
    await make_page(env)
    assert "Acme &lt;status&gt;" in (await env.client.get("/s/acme")).text  # cached now
    response = await env.client.patch(
        "/api/v1/pages/acme", json={"title": "Acme status"}, headers=env.write
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["slug"], page["title"], page["description"]) == ("acme", "Acme status", "")
    assert "<title>Acme status" in (await env.client.get("/s/acme")).text
    assert [p["title"] for p in await _json(env, "/api/v1/pages")] == ["Acme status"]

    described = await env.client.patch(
        "/api/v1/pages/acme", json={"description": "All of it"}, headers=env.write
    )
    assert (described.json()["title"], described.json()["description"]) == (
        "Acme status",
        "All of it",
    )
    entries = await _audit(env, page["id"])
    assert [e["action"] for e in entries] == ["page.update", "page.update", "page.create"]
    assert entries[1]["before"]["title"] == "Acme <status>"
    assert entries[1]["after"] == {"slug": "acme", "title": "Acme status", "description": ""}


async def test_a_bad_page_patch_is_a_422_naming_the_field_and_changes_nothing(env: Env) -> None:
    await make_page(env)
    for body, field in (
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"description": "x" * 2001}, "description"),
        ({"slug": "renamed"}, "slug"),
    ):
        response = await env.client.patch("/api/v1/pages/acme", json=body, headers=env.write)
        assert (response.status_code, error(response)["field"]) == (422, field), body
    assert [p["title"] for p in await _json(env, "/api/v1/pages")] == ["Acme <status>"]


async def test_pages_of_another_organisation_or_unknown_are_404(env: Env) -> None:
    await make_page(env)
    for method, body in (("PATCH", {"title": "Mine"}), ("DELETE", None)):
        for slug, headers in (("acme", env.other), ("nope", env.write)):
            response = await env.client.request(
                method, f"/api/v1/pages/{slug}", json=body, headers=headers
            )
            assert (response.status_code, error(response)["code"]) == (404, "not_found")
    assert [p["title"] for p in await _json(env, "/api/v1/pages")] == ["Acme <status>"]


async def test_a_read_key_cannot_change_or_delete(env: Env) -> None:
    _, component_id = await make_page(env)
    for method, path, body in (
        ("PATCH", "/api/v1/pages/acme", {"title": "x"}),
        ("DELETE", "/api/v1/pages/acme", None),
        ("PATCH", f"/api/v1/components/{component_id}", {"name": "x"}),
        ("DELETE", f"/api/v1/components/{component_id}", None),
    ):
        response = await env.client.request(method, path, json=body, headers=env.read)
        assert response.status_code == 403, (method, path)
    assert [c["name"] for c in await _json(env, "/api/v1/pages/acme/components")] == ["Public API"]


async def test_a_deleted_page_is_gone_with_its_links_and_its_components_stay(env: Env) -> None:
    _, component_id = await make_page(env)
    response = await env.client.delete("/api/v1/pages/acme", headers=env.write)
    assert response.status_code == 204
    assert await _json(env, "/api/v1/pages") == []
    assert (await env.client.get("/s/acme")).status_code == 404
    missing = await env.client.get("/api/v1/pages/acme/components", headers=env.read)
    assert missing.status_code == 404
    assert [c["id"] for c in await _json(env, "/api/v1/components")] == [component_id]
    entries = (
        await env.client.get("/api/v1/audit?target_type=status_page", headers=env.write)
    ).json()["data"]
    assert (entries[0]["action"], entries[0]["after"]) == ("page.delete", None)
    assert entries[0]["before"]["slug"] == "acme"


async def test_a_component_is_changed_relinked_and_audited(env: Env) -> None:
    monitor_id, api = await make_page(env)
    web = await _component(env, "Web", ["acme"])
    await _page(env, "beta")
    db = await _component(env, "DB", ["beta"])
    path = f"/api/v1/components/{api}"
    response = await env.client.patch(
        path,
        json={
            "name": "REST API",
            "description": "v2",
            "monitor_id": None,
            "pages": ["beta", "acme"],
        },
        headers=env.write,
    )
    assert response.status_code == 200, response.text
    out = response.json()
    assert (out["id"], out["name"], out["description"], out["monitor_id"]) == (
        api,
        "REST API",
        "v2",
        None,
    )
    listed = [c["id"] for c in await _json(env, "/api/v1/pages/acme/components")]
    assert listed == [api, web]  # kept its place
    assert [c["id"] for c in await _json(env, "/api/v1/pages/beta/components")] == [db, api]

    relinked = await env.client.patch(
        path, json={"monitor_id": monitor_id, "pages": ["beta"]}, headers=env.write
    )
    assert relinked.json()["monitor_id"] == monitor_id and relinked.json()["name"] == "REST API"
    assert [c["id"] for c in await _json(env, "/api/v1/pages/acme/components")] == [web]

    entries = await _audit(env, api)
    assert [e["action"] for e in entries] == [
        "component.update",
        "component.update",
        "component.create",
    ]
    assert entries[1]["before"] == {
        "name": "Public API",
        "description": "",
        "monitor_id": monitor_id,
        "pages": ["acme"],
    }
    assert entries[1]["after"] == {
        "name": "REST API",
        "description": "v2",
        "monitor_id": None,
        "pages": ["acme", "beta"],
    }
    assert entries[0]["after"]["pages"] == ["beta"]


async def test_a_bad_component_patch_is_a_422_naming_the_field_and_changes_nothing(
    env: Env,
) -> None:
    monitor_id, api = await make_page(env)
    theirs = await env.client.post("/api/v1/monitors", json=MONITOR, headers=env.other)
    await env.client.post(
        "/api/v1/pages", json={"slug": "theirs", "title": "Theirs"}, headers=env.other
    )
    unknown = "0190a0a0-0000-7000-8000-000000000000"
    for body, field in (
        ({"name": "x", "monitor_id": unknown}, "monitor_id"),
        ({"name": "x", "monitor_id": theirs.json()["id"]}, "monitor_id"),
        ({"name": "x", "pages": ["acme", "nope"]}, "pages[1]"),
        ({"name": "x", "pages": ["theirs"]}, "pages[0]"),
        ({"name": "x", "pages": ["Not A Slug"]}, "pages[0]"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"pages": None}, "pages"),
    ):
        response = await env.client.patch(f"/api/v1/components/{api}", json=body, headers=env.write)
        assert (response.status_code, error(response)["field"]) == (422, field), body
    [component] = await _json(env, "/api/v1/pages/acme/components")
    assert (component["name"], component["monitor_id"]) == ("Public API", monitor_id)
    assert [e["action"] for e in await _audit(env, api)] == ["component.create"]


async def test_components_of_another_organisation_or_unknown_are_404(env: Env) -> None:
    _, api = await make_page(env)
    unknown = "0190a0a0-0000-7000-8000-000000000000"
    for method, body in (("PATCH", {"name": "Mine"}), ("DELETE", None)):
        for cid, headers in ((api, env.other), (unknown, env.write)):
            response = await env.client.request(
                method, f"/api/v1/components/{cid}", json=body, headers=headers
            )
            assert (response.status_code, error(response)["code"]) == (404, "not_found")
    assert [c["name"] for c in await _json(env, "/api/v1/components")] == ["Public API"]


async def test_a_deleted_component_named_by_an_incident_leaves_the_public_page_working(
    env: Env,
) -> None:
    _, api = await make_page(env)
    web = await _component(env, "Website", ["acme"])
    incident = await env.client.post(
        "/api/v1/incidents",
        json={"title": "Errors", "body": "Looking", "components": [api, web], "publish": True},
        headers=env.write,
    )
    assert incident.status_code == 201, incident.text
    maintenance = await env.client.post(
        "/api/v1/maintenances",
        json={"title": "Upgrade", "window": ONE_OFF, "components": [api]},
        headers=env.write,
    )
    assert maintenance.status_code == 201, maintenance.text
    assert (await env.client.get("/s/acme")).status_code == 200

    response = await env.client.delete(f"/api/v1/components/{api}", headers=env.write)
    assert response.status_code == 204
    assert [c["id"] for c in await _json(env, "/api/v1/components")] == [web]
    assert [c["id"] for c in await _json(env, "/api/v1/pages/acme/components")] == [web]
    entries = await _audit(env, api)
    assert [e["action"] for e in entries] == ["component.delete", "component.create"]
    assert entries[0]["before"]["pages"] == ["acme"] and entries[0]["after"] is None

    html = await env.client.get("/s/acme")
    assert html.status_code == 200
    assert "Errors" in html.text and "Public API" not in html.text
    summary = await env.client.get("/s/acme/api/v2/summary.json")
    assert summary.status_code == 200
    assert [c["name"] for c in summary.json()["components"]] == ["Website"]
    [shown] = summary.json()["incidents"]
    assert [c["name"] for c in shown["components"]] == ["Website"]
    assert (await env.client.get("/s/acme/api/v2/incidents.json")).status_code == 200
    assert (await env.client.get("/s/acme/api/v2/scheduled-maintenances.json")).status_code == 200
