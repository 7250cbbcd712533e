"""Slack, Discord, Teams, Telegram and ntfy: what the recording server received."""

from __future__ import annotations

from collections.abc import Callable
from email.header import decode_header

import pytest

from statpulse.notify.base import DeliveryError, HttpSender
from statpulse.notify.discord import DiscordNotifier
from statpulse.notify.message import Message
from statpulse.notify.ntfy import NtfyNotifier
from statpulse.notify.slack import SlackNotifier
from statpulse.notify.teams import TeamsNotifier
from statpulse.notify.telegram import TelegramNotifier
from tests.notify.conftest import Recorder

MakeMessage = Callable[..., Message]


async def test_slack_sends_header_section_context_and_button_blocks(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    slack = SlackNotifier()
    await slack.send(make_message(), slack.validate({"url": server.url + "/services/T/B/x"}), http)
    body = server.last.json()
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context", "actions"]
    assert body["blocks"][0]["text"] == {"type": "plain_text", "text": "API is down"}
    assert body["blocks"][1]["text"]["text"] == "Checks fail in 3 of 5 regions."
    context = " ".join(e["text"] for e in body["blocks"][2]["elements"])
    assert "investigating" in context
    assert "eu-west, us-east" in context
    assert body["blocks"][3]["elements"][0]["url"] == "https://status.example.com/incidents/inc_7"
    assert body["text"].startswith("API is down")


async def test_slack_omits_the_button_without_a_url(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    slack = SlackNotifier()
    await slack.send(make_message(url=None), slack.validate({"url": server.url}), http)
    assert [b["type"] for b in server.last.json()["blocks"]][-1] == "context"


async def test_slack_renders_a_configured_template(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    slack = SlackNotifier()
    config = slack.validate({"url": server.url, "template": "{{ monitor_name }}: {{ status }}"})
    await slack.send(make_message(), config, http)
    assert server.last.json()["blocks"][1]["text"]["text"] == "API: investigating"


@pytest.mark.parametrize(("severity", "colour"), [("critical", 0xE74C3C), ("none", 0x2ECC71)])
async def test_discord_colours_the_embed_by_severity(
    server: Recorder, http: HttpSender, make_message: MakeMessage, severity: str, colour: int
) -> None:
    discord = DiscordNotifier()
    await discord.send(make_message(severity=severity), discord.validate({"url": server.url}), http)
    embed = server.last.json()["embeds"][0]
    assert embed["color"] == colour
    assert embed["title"] == "API is down"
    assert {"name": "Monitor", "value": "API", "inline": True} in embed["fields"]


async def test_discord_turns_off_mentions(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    discord = DiscordNotifier()
    await discord.send(make_message(), discord.validate({"url": server.url}), http)
    assert server.last.json()["allowed_mentions"] == {"parse": []}


async def test_discord_429_json_retry_after_is_honoured(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    server.answer(429, {"message": "You are being rate limited.", "retry_after": 2.5})
    discord = DiscordNotifier()
    with pytest.raises(DeliveryError) as caught:
        await discord.send(make_message(), discord.validate({"url": server.url}), http)
    assert (caught.value.permanent, caught.value.retry_after) == (False, 2.5)


async def test_teams_sends_an_adaptive_card_message(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    teams = TeamsNotifier()
    await teams.send(make_message(), teams.validate({"url": server.url}), http)
    body = server.last.json()
    assert body["type"] == "message"
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["body"][0]["text"] == "API is down"
    assert card["actions"][0]["url"] == "https://status.example.com/incidents/inc_7"


async def test_telegram_sends_escaped_html_to_the_bot_path(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    server.answer(200, {"ok": True, "result": {"message_id": 42}})
    telegram = TelegramNotifier()
    config = telegram.validate({"bot_token": "123:abc", "chat_id": -100, "base_url": server.url})
    delivered = await telegram.send(make_message(title="<b>API</b> & co"), config, http)
    got = server.last
    assert got.path == "/bot123:abc/sendMessage"
    body = got.json()
    assert body["chat_id"] == "-100"
    assert body["parse_mode"] == "HTML"
    assert body["text"].startswith("<b>&lt;b&gt;API&lt;/b&gt; &amp; co</b>\n")
    assert delivered.detail == "42"


async def test_telegram_429_parameters_retry_after_is_honoured(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    server.answer(429, {"ok": False, "parameters": {"retry_after": 7}})
    telegram = TelegramNotifier()
    config = telegram.validate({"bot_token": "1:x", "chat_id": "@ops", "base_url": server.url})
    with pytest.raises(DeliveryError) as caught:
        await telegram.send(make_message(), config, http)
    assert caught.value.retry_after == 7.0
    assert "1:x" not in str(caught.value)


async def test_ntfy_sends_title_priority_tags_and_token(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    ntfy = NtfyNotifier()
    config = ntfy.validate({"url": server.url + "/alerts", "token": "tk_1"})
    await ntfy.send(make_message(severity="critical"), config, http)
    got = server.last
    assert got.path == "/alerts"
    assert got.body == b"Checks fail in 3 of 5 regions."
    assert got.headers["Title"] == "API is down"
    assert got.headers["Priority"] == "5"
    assert got.headers["Tags"] == "rotating_light,incident.opened"
    assert got.headers["Authorization"] == "Bearer tk_1"
    assert got.headers["Click"] == "https://status.example.com/incidents/inc_7"


async def test_ntfy_encodes_a_non_ascii_title(
    server: Recorder, http: HttpSender, make_message: MakeMessage
) -> None:
    ntfy = NtfyNotifier()
    await ntfy.send(make_message(title="Zürich\ndown"), ntfy.validate({"url": server.url}), http)
    [(raw, charset)] = decode_header(server.last.headers["Title"])
    assert isinstance(raw, bytes)
    assert raw.decode(charset or "ascii") == "Zürich down"
