"""SVG badges of a status page (real app, real SQLite store): well-formed SVG with the expected
text and accessible name, colour by state, uptime and p95 from stored results, escaping,
headers, 404s and ``days`` validation; plus the pure state rule and width estimate."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from statpulse.model import CheckResult, Status, new_id, utcnow
from statpulse.web.public import badges
from statpulse.web.public.badges import PageState, page_state, text_width
from tests.web.test_feeds import Env, app_env

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with app_env(tmp_path, badges.router) as started:
        yield started


def read(response: httpx.Response) -> tuple[str, list[str], str]:
    """(accessible name, the visible texts, the value half's fill) of a badge response."""
    assert response.status_code == 200, response.text
    root = ET.fromstring(response.content)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title = root.findtext(f"{SVG}title", "")
    assert root.get("aria-label") == title
    texts = [t.text or "" for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]
    fills = [r.get("fill", "") for r in root.iter(f"{SVG}rect") if r.get("x") is not None]
    return title, texts, fills[0]


async def set_status(env: Env, monitor: uuid.UUID, status: Status) -> None:
    await env.services.store.save_evaluation([], {monitor: (status, utcnow())}, [])


async def add_results(env: Env, ok: list[bool], latency_ms: float = 5.0) -> None:
    now = utcnow()
    await env.services.store.add_results(
        [CheckResult(new_id(), env.monitor, "local", now, now, latency_ms, o) for o in ok]
    )


async def test_status_badge_shows_the_page_state_in_its_colour(env: Env) -> None:
    seen = {}
    for status, state in (
        (Status.UP, "operational"),
        (Status.DEGRADED, "degraded"),
        (Status.DOWN, "major outage"),
        (Status.MAINTENANCE, "maintenance"),
    ):
        await set_status(env, env.monitor, status)
        title, texts, fill = read(await env.client.get("/s/acme/badge/status.svg"))
        assert (title, texts) == (f"status: {state}", ["status", state])
        seen[state] = fill
    assert len(set(seen.values())) == 4
    assert seen["operational"] == badges.GREEN and seen["major outage"] == badges.RED


async def test_status_badge_says_partial_outage_when_some_components_are_up(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/components",
        json={"name": "Billing", "monitor_id": str(env.other_monitor), "pages": ["acme"]},
        headers=env.write,
    )
    assert response.status_code == 201, response.text
    await set_status(env, env.monitor, Status.DOWN)
    await set_status(env, env.other_monitor, Status.UP)
    title, _, fill = read(await env.client.get("/s/acme/badge/status.svg"))
    assert title == "status: partial outage" and fill == badges.ORANGE


async def test_badges_carry_svg_type_cache_and_a_script_free_csp(env: Env) -> None:
    paths = (
        "/s/acme/badge/status.svg",
        f"/s/acme/components/{env.component}/badge/uptime.svg",
        f"/s/acme/components/{env.component}/badge/response.svg",
    )
    for path in paths:
        response = await env.client.get(path)
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["cache-control"] == "public, max-age=60"
        csp = response.headers["content-security-policy"]
        assert csp == "default-src 'none'; style-src 'unsafe-inline'"
        assert b"<script" not in response.content


async def test_badge_label_is_escaped(env: Env) -> None:
    label = '<script>alert("x")</script> & co'
    response = await env.client.get("/s/acme/badge/status.svg", params={"label": label})
    assert b"<script>" not in response.content
    title, texts, _ = read(response)
    assert title == f"{label}: no data" and texts == [label, "no data"]


async def test_uptime_badge_reads_the_stored_checks(env: Env) -> None:
    path = f"/s/acme/components/{env.component}/badge/uptime.svg"
    empty = read(await env.client.get(path))
    assert empty[:2] == ("uptime 30d: no data", ["uptime 30d", "no data"])
    await add_results(env, [i % 4 != 0 for i in range(8)])
    title, _, fill = read(await env.client.get(path, params={"days": 7}))
    assert title == "uptime 7d: 75.00%" and fill == badges.RED
    await add_results(env, [True] * 992)
    title, _, fill = read(await env.client.get(path))
    assert title == "uptime 30d: 99.80%" and fill == badges.LIGHT_GREEN


async def test_response_badge_shows_p95_of_ok_checks(env: Env) -> None:
    path = f"/s/acme/components/{env.component}/badge/response.svg"
    assert read(await env.client.get(path))[0] == "p95 1d: no data"
    await add_results(env, [True] * 20, latency_ms=120.0)
    title, texts, fill = read(await env.client.get(path, params={"days": 3, "label": "API"}))
    assert title == "API: 120 ms" and texts == ["API", "120 ms"] and fill == badges.GREEN


async def test_component_without_monitor_has_no_data(env: Env) -> None:
    response = await env.client.post(
        "/api/v1/components", json={"name": "Docs", "pages": ["acme"]}, headers=env.write
    )
    docs = response.json()["id"]
    for kind in ("uptime", "response"):
        title, _, fill = read(await env.client.get(f"/s/acme/components/{docs}/badge/{kind}.svg"))
        assert title.endswith(": no data") and fill == badges.GREY


@pytest.mark.parametrize("kind", ["uptime", "response"])
async def test_badges_of_unknown_pages_and_components_are_404(env: Env, kind: str) -> None:
    assert (await env.client.get("/s/nope/badge/status.svg")).status_code == 404
    for slug, component in (
        ("nope", env.component),
        ("acme", uuid.uuid4()),
        ("acme", "not-a-uuid"),
        ("acme", env.other_component),  # the organisation's, but not on this page
    ):
        response = await env.client.get(f"/s/{slug}/components/{component}/badge/{kind}.svg")
        assert response.status_code == 404, (slug, component)
        assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("days", ["0", "91", "-1", "week"])
async def test_badge_days_outside_1_to_90_are_refused_naming_days(env: Env, days: str) -> None:
    for kind in ("uptime", "response"):
        response = await env.client.get(
            f"/s/acme/components/{env.component}/badge/{kind}.svg", params={"days": days}
        )
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid" and error["field"] == "days"


@pytest.mark.parametrize(
    ("statuses", "state"),
    [
        ([], PageState.NO_DATA),
        ([Status.UNKNOWN, Status.PAUSED], PageState.NO_DATA),
        ([Status.UP, Status.PAUSED], PageState.OPERATIONAL),
        ([Status.UP, Status.DEGRADED], PageState.DEGRADED),
        ([Status.UP, Status.MAINTENANCE], PageState.MAINTENANCE),
        ([Status.DOWN, Status.DOWN], PageState.MAJOR_OUTAGE),
        ([Status.DOWN, Status.UNKNOWN, Status.PAUSED], PageState.MAJOR_OUTAGE),
        ([Status.DOWN, Status.MAINTENANCE], PageState.PARTIAL_OUTAGE),
        ([Status.DOWN, Status.UP], PageState.PARTIAL_OUTAGE),
    ],
)
def test_page_state_follows_the_banner_rule(statuses: list[Status], state: PageState) -> None:
    assert page_state(statuses) is state


def test_text_width_grows_with_wider_characters() -> None:
    assert text_width("") == 0
    assert text_width("W") > text_width("i")
    assert text_width("99.95%") == pytest.approx(4 * 7.0 + 4.0 + 11.84)
    assert text_width("\u00e9t\u00e9") > text_width("t")
    assert text_width("\u6570") > text_width("a")
    assert text_width("e\u0301") == text_width("e")  # a combining accent takes no room


def test_badge_width_fits_its_texts() -> None:
    short = ET.fromstring(badges.badge("a", "b", badges.GREEN))
    long = ET.fromstring(badges.badge("a", "much longer value", badges.GREEN))
    assert int(long.get("width", "0")) > int(short.get("width", "0"))
    bell = ET.fromstring(badges.badge("bell\x07", "x", badges.GREEN))
    assert bell.findtext(f"{SVG}title") == "bell: x"
