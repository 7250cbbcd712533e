"""The LLM rewrite against a real local chat completions server on 127.0.0.1:0 that records
what it received: a valid answer is used, anything else keeps the template and says why."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from statpulse.engine.narrative import Draft, Evidence, draft
from statpulse.engine.narrative_llm import Rewriter
from statpulse.model import ErrorClass

EVIDENCE = Evidence(
    components=("Checkout API",),
    affected_regions=("eu-central-1", "us-east-1", "ap-south-1"),
    total_regions=5,
    error_class=ErrorClass.HTTP_STATUS,
    started_at=datetime(2026, 11, 23, 14, 3, tzinfo=UTC),
    status_code=503,
    message="[STATUS] (503) == 200 from 10.0.3.7 db-7.internal.acme.local",
)
TEMPLATE = draft(EVIDENCE)
GOOD_BODY = (
    "Since 14:03 UTC, some requests to Checkout API in 3 of our 5 regions are failing with "
    "HTTP 503 errors. We are investigating and will share an update within 30 minutes."
)

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ChatServer:
    """A chat completions endpoint; ``reply`` decides the answer, ``requests`` records them."""

    base_url: str = ""
    reply: Reply | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {
                "path": request.path,
                "authorization": request.headers.get("Authorization"),
                "json": await request.json(),
            }
        )
        assert self.reply is not None
        return await self.reply(request)


def content(text: str) -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": text}}]})

    return reply


@pytest.fixture
async def server() -> AsyncIterator[ChatServer]:
    chat = ChatServer()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    chat.base_url = f"http://127.0.0.1:{port}/v1"
    yield chat
    chat.release.set()  # lets a deliberately slow handler finish before shutdown
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def test_valid_json_answer_replaces_the_template(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    answer = {"title": "Errors on Checkout API in some regions", "body": GOOD_BODY}
    server.reply = content(json.dumps(answer))
    rewriter = Rewriter(server.base_url + "/", "local-model", api_key="sk-test-123")

    result = await rewriter.rewrite(TEMPLATE, EVIDENCE, session)

    assert result.source == "llm"
    assert result.fallback_reason is None
    assert result.draft == Draft(answer["title"], GOOD_BODY, TEMPLATE.impact)
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["authorization"] == "Bearer sk-test-123"
    sent = request["json"]
    assert sent["model"] == "local-model"
    system, user = sent["messages"]
    assert system["role"] == "system"
    assert "do not invent causes" in system["content"]
    assert "under 120 words" in system["content"]
    facts = json.loads(user["content"])
    assert facts["draft_body"] == TEMPLATE.body
    assert facts["http_status"] == 503
    assert facts["problem"] == "http_5xx"
    assert facts["started_at"] == "2026-11-23 14:03 UTC"
    assert facts["affected_regions"] == ["eu-central-1", "us-east-1", "ap-south-1"]
    # The technical message never leaves the process.
    assert "10.0.3.7" not in json.dumps(sent)
    assert "internal" not in json.dumps(sent)


async def test_plain_text_answer_is_the_body_under_the_template_title(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    server.reply = content(f"  {GOOD_BODY}\n")
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert result.source == "llm"
    assert result.draft == Draft(TEMPLATE.title, GOOD_BODY, TEMPLATE.impact)


async def test_json_in_a_code_fence_is_accepted(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    server.reply = content('```json\n{"body": "' + GOOD_BODY + '"}\n```')
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert result.source == "llm"
    assert result.draft.body == GOOD_BODY


async def test_no_api_key_sends_no_authorization_header(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    server.reply = content(GOOD_BODY)
    await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert server.requests[0]["authorization"] is None


async def test_slow_server_beyond_the_timeout_keeps_the_template(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await server.release.wait()
        return await content(GOOD_BODY)(request)

    server.reply = slow
    rewriter = Rewriter(server.base_url, "m", timeout_s=0.2)
    result = await rewriter.rewrite(TEMPLATE, EVIDENCE, session)
    assert result.source == "template"
    assert result.draft is TEMPLATE
    assert result.fallback_reason == "timed out after 0.2 s"


async def test_server_error_keeps_the_template(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        return web.json_response({"error": {"message": "overloaded"}}, status=500)

    server.reply = broken
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert (result.source, result.draft, result.fallback_reason) == (
        "template",
        TEMPLATE,
        "HTTP 500",
    )


async def test_unreachable_endpoint_keeps_the_template(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    rewriter = Rewriter(f"http://127.0.0.1:{port}/v1", "m")
    result = await rewriter.rewrite(TEMPLATE, EVIDENCE, session)
    assert result.source == "template"
    assert result.fallback_reason == "request failed: ClientConnectorError"


async def test_non_json_response_keeps_the_template(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    async def html(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<html>gateway</html>", content_type="text/html")

    server.reply = html
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert (result.source, result.fallback_reason) == ("template", "response is not JSON")


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ('{"title": "Errors", "body": ', "malformed JSON content"),
        ('{"title": "Errors"}', "JSON content without a string body"),
        ('{"title": 7, "body": "' + GOOD_BODY + '"}', "JSON content without a string body"),
        ("   ", "empty content"),
        ("ok", "body too short or too long"),
        ("word " * 500, "body too short or too long"),
        ('{"title": "' + "T" * 121 + '", "body": "' + GOOD_BODY + '"}', "title empty or too long"),
        (GOOD_BODY + " Upstream 10.0.3.7 is down.", "internal details in content"),
        (GOOD_BODY + " Node fd00:ec2::254 is down.", "internal details in content"),
        (GOOD_BODY + "\x07", "control characters in content"),
    ],
)
async def test_unusable_content_keeps_the_template(
    server: ChatServer, session: aiohttp.ClientSession, answer: str, reason: str
) -> None:
    server.reply = content(answer)
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert result.source == "template"
    assert result.draft is TEMPLATE
    assert result.fallback_reason == reason


async def test_response_without_choices_keeps_the_template(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    async def empty(request: web.Request) -> web.StreamResponse:
        return web.json_response({"choices": []})

    server.reply = empty
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert result.fallback_reason == "response has no choices[0].message.content"


@pytest.mark.parametrize(
    "answer",
    [
        GOOD_BODY + "<script>alert(1)</script>",
        '{"title": "<b>Errors</b>", "body": "' + GOOD_BODY + '"}',
        GOOD_BODY + " See <a href=x>details</a>.",
        GOOD_BODY + " javascript:alert(1)",
        GOOD_BODY + " &lt;script&gt;",
    ],
)
async def test_markup_in_content_keeps_the_template(
    server: ChatServer, session: aiohttp.ClientSession, answer: str
) -> None:
    server.reply = content(answer)
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert (result.source, result.draft) == ("template", TEMPLATE)
    assert result.fallback_reason == "markup in content"


async def test_times_of_day_are_not_mistaken_for_addresses(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    server.reply = content(GOOD_BODY.replace("14:03 UTC", "14:03:27 UTC"))
    result = await Rewriter(server.base_url, "m").rewrite(TEMPLATE, EVIDENCE, session)
    assert result.source == "llm"


def test_repr_does_not_show_the_api_key() -> None:
    rewriter = Rewriter("http://127.0.0.1:1/v1", "m", api_key="sk-secret-456")
    assert "sk-secret-456" not in repr(rewriter)


async def test_fallback_is_logged_with_its_reason_but_never_the_api_key(
    server: ChatServer, session: aiohttp.ClientSession
) -> None:
    server.reply = content("{broken")
    with capture_logs() as logs:
        await Rewriter(server.base_url, "m", api_key="sk-secret-789").rewrite(
            TEMPLATE, EVIDENCE, session
        )
    assert [entry["reason"] for entry in logs] == ["malformed JSON content"]
    assert "sk-secret-789" not in repr(logs)
