"""``/api/v1/pages/{slug}/groups``: create, list and delete component groups; 422 naming
``components[i]`` for a component not on the page, 404 for another organisation's page, audit
entries (real app, real SQLite store)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api import conftest as api
from tests.api.conftest import Env
from tests.web.test_statuspage_api import make_page

env = api.env

URL = "/api/v1/pages/acme/groups"


async def _groups(env: Env) -> list[dict[str, Any]]:
    response = await env.client.get(URL, headers=env.read)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def test_create_list_and_delete_a_group(env: Env) -> None:
    page = await make_page(env)
    # listed in any order; stored members come back in the page's component order
    body = {"name": "Core", "components": [str(page.web), str(page.api)]}
    response = await env.client.post(URL, json=body, headers=env.write)
    assert response.status_code == 201, response.text
    core = response.json()
    assert core["name"] == "Core" and core["position"] == 0
    assert core["components"] == [str(page.api), str(page.web)]
    second = await env.client.post(URL, json={"name": "Edge", "components": []}, headers=env.write)
    assert second.status_code == 201 and second.json()["position"] == 1
    assert [g["name"] for g in await _groups(env)] == ["Core", "Edge"]

    deleted = await env.client.delete(f"{URL}/{core['id']}", headers=env.write)
    assert deleted.status_code == 204
    assert [g["name"] for g in await _groups(env)] == ["Edge"]
    again = await env.client.delete(f"{URL}/{core['id']}", headers=env.write)
    assert again.status_code == 404
    # the members are ungrouped, not gone
    components = await env.client.get("/s/acme/api/v2/components.json")
    docs = components.json()["components"]
    assert [(c["name"], c["group_id"]) for c in docs if not c["group"]] == [
        ("Public API", None),
        ("Website", None),
    ]


async def test_a_component_moves_to_its_new_group(env: Env) -> None:
    page = await make_page(env)
    first = {"name": "A", "components": [str(page.api), str(page.web)]}
    assert (await env.client.post(URL, json=first, headers=env.write)).status_code == 201
    second = {"name": "B", "components": [str(page.web)]}
    assert (await env.client.post(URL, json=second, headers=env.write)).status_code == 201
    groups = {g["name"]: g["components"] for g in await _groups(env)}
    assert groups == {"A": [str(page.api)], "B": [str(page.web)]}


async def test_a_component_not_on_the_page_is_a_422_naming_it(env: Env) -> None:
    page = await make_page(env)
    theirs = await env.client.post("/api/v1/components", json={"name": "Theirs"}, headers=env.other)
    assert theirs.status_code == 201
    for bad, field in (
        ([str(page.api), str(page.elsewhere)], "components[1]"),
        ([theirs.json()["id"]], "components[0]"),
        ([str(page.api), str(page.web), "nope"], "components[2]"),
        ([str(uuid.uuid4())], "components[0]"),
    ):
        response = await env.client.post(
            URL, json={"name": "Core", "components": bad}, headers=env.write
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["field"] == field
    blank = await env.client.post(URL, json={"name": "  ", "components": []}, headers=env.write)
    assert blank.status_code == 422 and blank.json()["error"]["field"] == "name"
    assert await _groups(env) == []  # nothing stored


async def test_another_organisations_page_is_a_404(env: Env) -> None:
    page = await make_page(env)
    body = {"name": "Core", "components": [str(page.api)]}
    created = await env.client.post(URL, json=body, headers=env.write)
    group_id = created.json()["id"]
    for response in (
        await env.client.get(URL, headers=env.other),
        await env.client.post(URL, json=body, headers=env.other),
        await env.client.delete(f"{URL}/{group_id}", headers=env.other),
        await env.client.get("/api/v1/pages/nope/groups", headers=env.read),
    ):
        assert response.status_code == 404
    assert [g["id"] for g in await _groups(env)] == [group_id]


async def test_a_read_key_cannot_write(env: Env) -> None:
    await make_page(env)
    response = await env.client.post(URL, json={"name": "X", "components": []}, headers=env.read)
    assert response.status_code == 403


async def test_create_and_delete_are_audited(env: Env) -> None:
    page = await make_page(env)
    body = {"name": "Core", "components": [str(page.api)]}
    group_id = (await env.client.post(URL, json=body, headers=env.write)).json()["id"]
    await env.client.delete(f"{URL}/{group_id}", headers=env.write)
    entries = (await env.client.get("/api/v1/audit", headers=env.write)).json()["data"]
    created = next(e for e in entries if e["action"] == "group.create")
    assert created["target_type"] == "component_group" and created["target_id"] == group_id
    assert created["after"] == {"page": "acme", "name": "Core", "components": [str(page.api)]}
    deleted = next(e for e in entries if e["action"] == "group.delete")
    assert deleted["before"]["name"] == "Core" and deleted["after"] is None
