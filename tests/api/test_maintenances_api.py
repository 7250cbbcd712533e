"""The maintenances API: one-off and recurring windows in a time zone, validation naming the
field, occurrences in responses, scopes, tenancy and audit."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Env
from tests.api.test_incidents_api import error, post, wenv  # noqa: F401

WEEKLY = {"kind": "weekly", "timezone": "Europe/Berlin", "weekdays": [6], "start_time": "02:00",
          "duration_s": 7200}  # fmt: skip
ONE_OFF = {"kind": "one_off", "start": "2030-01-01T02:00:00Z", "end": "2030-01-01T04:00:00Z"}


async def component(env: Env) -> str:
    return str((await post(env, "/api/v1/components", {"name": "API"}))["id"])


async def test_a_maintenance_is_created_read_replaced_and_deleted(wenv: Env) -> None:  # noqa: F811
    env = wenv
    cid = await component(env)
    m = await post(
        env,
        "/api/v1/maintenances",
        {"title": "DB upgrade", "body": "**Short**", "window": WEEKLY, "components": [cid]},
    )
    assert m["window"]["kind"] == "weekly" and m["components"] == [cid]
    assert len(m["next"]) == 5
    # Sundays 02:00 Berlin is 01:00 UTC in winter, 00:00 UTC in summer.
    assert {o["start"][11:16] for o in m["next"]} <= {"00:00", "01:00"}
    path = f"/api/v1/maintenances/{m['id']}"
    assert (await env.client.get(path, headers=env.read)).json() == {**m, "next": m["next"]}
    replaced = await env.client.put(
        path, json={"title": "DB upgrade", "window": ONE_OFF}, headers=env.write
    )
    assert replaced.status_code == 200
    assert replaced.json()["next"] == [
        {"start": "2030-01-01T02:00:00Z", "end": "2030-01-01T04:00:00Z"}
    ]
    listed = (await env.client.get("/api/v1/maintenances", headers=env.read)).json()["data"]
    assert [x["id"] for x in listed] == [m["id"]]
    assert (await env.client.delete(path, headers=env.write)).status_code == 204
    assert (await env.client.get(path, headers=env.read)).status_code == 404
    entries = (
        await env.client.get("/api/v1/audit?target_type=maintenance", headers=env.write)
    ).json()["data"]
    assert [e["action"] for e in entries] == [
        "maintenance.delete",
        "maintenance.update",
        "maintenance.create",
    ]
    assert entries[1]["before"]["window"]["kind"] == "weekly"
    assert entries[1]["after"]["window"]["kind"] == "one_off"


async def test_rrule_and_cron_windows_are_accepted(env: Env) -> None:
    rrule = {"kind": "rrule", "timezone": "America/New_York", "duration_s": 3600,
             "rrule": "DTSTART:20260101T230000\nRRULE:FREQ=MONTHLY;BYDAY=1SA"}  # fmt: skip
    cron = {"kind": "cron", "cron": "30 3 * * 1-5", "duration_s": 600}
    for window in (rrule, cron):
        created = await post(env, "/api/v1/maintenances", {"title": "t", "window": window})
        assert len(created["next"]) == 5


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({**WEEKLY, "timezone": "Mars/Olympus"}, "window.timezone"),
        ({**ONE_OFF, "end": "2029-12-31T00:00:00Z"}, "window.end"),
        ({**ONE_OFF, "start": "2030-01-01T02:00:00"}, "window.start"),
        ({**WEEKLY, "weekdays": []}, "window.weekdays"),
        ({**WEEKLY, "weekdays": [7]}, "window.weekdays"),
        ({**WEEKLY, "start_time": None}, "window.start_time"),
        ({**WEEKLY, "duration_s": 0}, "window.duration_s"),
        ({"kind": "rrule", "rrule": "RRULE:FREQ=DAILY", "duration_s": 60}, "window.rrule"),
        ({"kind": "rrule", "rrule": "DTSTART:20260101T000000\nRRULE:FREQ=SOMETIMES",
          "duration_s": 60}, "window.rrule"),
        ({"kind": "cron", "cron": "61 * * * *", "duration_s": 60}, "window.cron"),
        ({"kind": "monthly"}, "window.kind"),
        # Windows whose occurrences cannot be computed, or only at great cost on every read.
        ({"kind": "cron", "cron": "0 0 30 2 *", "duration_s": 60}, "window.cron"),
        ({"kind": "cron", "cron": "* * * * * *", "duration_s": 86400}, "window.cron"),
        ({"kind": "rrule", "rrule": "DTSTART:20200101T000000\nRRULE:FREQ=MINUTELY",
          "duration_s": 60}, "window.rrule"),
        ({"kind": "rrule", "rrule": "DTSTART:20200101T000000\nRRULE:FREQ=DAILY;COUNT=3",
          "duration_s": 60}, "window.rrule"),
        ({"kind": "one_off", "start": "0001-01-01T00:00:00+01:00",
          "end": "0001-01-02T00:00:00+01:00"}, "window.start"),
    ],
)  # fmt: skip
async def test_an_invalid_window_names_the_field(
    env: Env, window: dict[str, Any], field: str
) -> None:
    response = await env.client.post(
        "/api/v1/maintenances", json={"title": "t", "window": window}, headers=env.write
    )
    assert response.status_code == 422, response.text
    assert error(response)["field"] == field
    assert (await env.client.get("/api/v1/maintenances", headers=env.read)).json()["data"] == []


async def test_an_unknown_component_names_the_field(env: Env) -> None:
    cid = await component(env)
    unknown = cid[:-1] + ("1" if cid.endswith("0") else "0")  # never the same id
    body = {"title": "t", "window": ONE_OFF, "components": [cid, unknown]}
    response = await env.client.post("/api/v1/maintenances", json=body, headers=env.write)
    assert (response.status_code, error(response)["field"]) == (422, "components[1]")


async def test_another_organisations_maintenance_is_not_found(wenv: Env) -> None:  # noqa: F811
    env = wenv
    m = await post(env, "/api/v1/maintenances", {"title": "t", "window": ONE_OFF})
    path = f"/api/v1/maintenances/{m['id']}"
    assert (await env.client.get(path, headers=env.other)).status_code == 404
    put = await env.client.put(path, json={"title": "x", "window": ONE_OFF}, headers=env.other)
    assert put.status_code == 404
    assert (await env.client.delete(path, headers=env.other)).status_code == 404
    assert (await env.client.get("/api/v1/maintenances", headers=env.other)).json()["data"] == []
    assert (await env.client.get(path, headers=env.read)).json()["title"] == "t"


async def test_a_read_key_cannot_change_maintenances(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/maintenances", json={"title": "t", "window": ONE_OFF}, headers=env.read
    )
    assert response.status_code == 403
