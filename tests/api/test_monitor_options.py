"""Monitor options of every kind through the API: stored, validated naming the field,
secrets redacted, merged by PATCH; and the results endpoint with condition descriptions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from statpulse.model import CheckResult, ConditionResult, ErrorClass, new_id
from tests.api.conftest import Env

from .test_monitors import create

PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nsecretkeymaterial\n-----END PRIVATE KEY-----\n"


@pytest.mark.parametrize(
    ("kind", "target", "options"),
    [
        ("tcp", "db.example.com:5432", {"tcp": {"send": "PING\r\n", "expect": "PONG"}}),
        ("tcp", "mail.example.com:25", {"tcp": {"starttls": "smtp"}}),
        ("tcp", "h.example.com:7", {"tcp": {"send": "0a0b", "expect": "0A0B", "hex": True}}),
        ("grpc", "api.example.com:443", {"grpc": {"service": "pkg.Svc", "tls": True}}),
        ("dns", "example.com", {"dns": {"record_type": "MX", "resolver": "1.1.1.1"}}),
        ("dns", "example.com.", {"dns": {"record_type": "TXT", "resolver": "[::1]:5353"}}),
        ("tls", "example.com:443", {"tls": {"warn_days": 30}}),
    ],
)
async def test_every_kind_is_created_with_its_options(
    env: Env, kind: str, target: str, options: dict[str, Any]
) -> None:
    body = await create(env, kind=kind, target=target, conditions=[], http={}, **options)
    ((name, values),) = options.items()
    for field, value in values.items():
        assert body[name][field] == value
    got = (await env.client.get(f"/api/v1/monitors/{body['id']}", headers=env.read)).json()
    assert got[name] == body[name]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"kind": "tcp", "target": "h:1", "tcp": {"send": "zz", "hex": True}}, "tcp"),
        ({"kind": "tcp", "target": "h:1", "tcp": {"tls": True, "starttls": "smtp"}}, "tcp"),
        ({"kind": "tcp", "target": "h:1", "tcp": {"starttls": "xmpp"}}, "tcp.starttls"),
        (
            {"kind": "dns", "target": "example.com", "dns": {"record_type": "PTR"}},
            "dns.record_type",
        ),
        ({"kind": "dns", "target": "example.com", "dns": {"resolver": "a:b:c"}}, "dns.resolver"),
        ({"kind": "dns", "target": "not a name!"}, "target"),
        (
            {"kind": "grpc", "target": "h:1", "grpc": {"metadata": {"Bad Key": "v"}}},
            "grpc.metadata",
        ),
        ({"kind": "tls", "target": "example.com:https"}, "target"),
        ({"kind": "tls", "target": "h:443", "tls": {"warn_days": -1}}, "tls.warn_days"),
        ({"http": {"client_cert": PEM_CERT}}, "http"),
        ({"http": {"ca_cert": "not pem"}}, "http.ca_cert"),
        ({"retries": 9}, "retries"),
        ({"kind": "grpc", "target": ""}, "target"),
    ],
)
async def test_invalid_options_are_rejected_naming_the_field(
    env: Env, changes: dict[str, Any], field: str
) -> None:
    payload = {"name": "x", "kind": "http", "target": "http://h/", "conditions": [], **changes}
    response = await env.client.post("/api/v1/monitors", json=payload, headers=env.write)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


async def test_client_key_and_grpc_metadata_are_redacted(env: Env) -> None:
    body = await create(env, http={"client_cert": PEM_CERT, "client_key": PEM_KEY})
    assert body["http"]["client_key"] == "********"
    assert body["http"]["client_cert"] == PEM_CERT
    grpc = await create(
        env, kind="grpc", target="h:1", http={}, conditions=[], grpc={"metadata": {"x-key": "v1"}}
    )
    assert grpc["grpc"]["metadata"] == {"x-key": "********"}
    for monitor in (body, grpc):
        got = await env.client.get(f"/api/v1/monitors/{monitor['id']}", headers=env.read)
        assert "secretkeymaterial" not in got.text and "v1" not in got.text


async def test_patch_merges_options_and_keeps_the_stored_secret(env: Env) -> None:
    body = await create(env, http={"client_cert": PEM_CERT, "client_key": PEM_KEY}, retries=1)
    response = await env.client.patch(
        f"/api/v1/monitors/{body['id']}",
        json={"http": {"verify_tls": False}, "retries": 3, "retry_delay_s": 0.5},
        headers=env.write,
    )
    assert response.status_code == 200, response.text
    assert response.json()["retries"] == 3
    monitor = await env.services.store.get_monitor(env.org.id, uuid.UUID(body["id"]))
    assert monitor is not None
    assert monitor.config.http.client_key == PEM_KEY
    assert monitor.config.http.verify_tls is False
    assert monitor.config.retry_delay_s == 0.5


async def test_results_show_what_each_failing_condition_compared(env: Env) -> None:
    body = await create(env)
    monitor_id = uuid.UUID(body["id"])
    now = datetime.now(UTC)
    failed = CheckResult(
        id=new_id(),
        monitor_id=monitor_id,
        region="local",
        scheduled_at=now - timedelta(seconds=1),
        started_at=now,
        latency_ms=12.0,
        ok=False,
        status_code=500,
        error_class=ErrorClass.HTTP_STATUS,
        error_message="[STATUS] (500) == 200",
        conditions=(
            ConditionResult("[STATUS] == 200", False, "[STATUS] (500) == 200"),
            ConditionResult("[BODY].status == UP", True, "[BODY].status == UP"),
        ),
        attempts=2,
    )
    healthy = CheckResult(
        id=new_id(),
        monitor_id=monitor_id,
        region="local",
        scheduled_at=now - timedelta(seconds=61),
        started_at=now - timedelta(seconds=60),
        latency_ms=10.0,
        ok=True,
        conditions=(ConditionResult("[STATUS] == 200", True, "[STATUS] == 200"),),
    )
    await env.services.store.add_results([failed, healthy])
    response = await env.client.get(f"/api/v1/monitors/{monitor_id}/results", headers=env.read)
    assert response.status_code == 200, response.text
    newest, older = response.json()["data"]
    assert newest["conditions"] == [
        {"condition": "[STATUS] == 200", "success": False, "description": "[STATUS] (500) == 200"},
        {"condition": "[BODY].status == UP", "success": True, "description": "[BODY].status == UP"},
    ]
    assert newest["attempts"] == 2 and newest["error_class"] == "http_status"
    assert older["ok"] is True and older["conditions"] == []  # all held: not stored


async def test_results_of_another_tenants_monitor_are_not_found(env: Env) -> None:
    body = await create(env)
    response = await env.client.get(f"/api/v1/monitors/{body['id']}/results", headers=env.other)
    assert response.status_code == 404
