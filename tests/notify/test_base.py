from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from statpulse.notify.base import DeliveryError, HttpSender, parse_retry_after
from statpulse.security.egress import EgressPolicy
from tests.notify.conftest import Recorder

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def test_2xx_is_delivered_with_status(server: Recorder, http: HttpSender) -> None:
    server.answer(202, {"id": "x"})
    delivered = await http.post_json(server.url + "/hook", {"a": 1})
    assert delivered.status == 202
    assert server.last.json() == {"a": 1}


async def test_500_is_transient(server: Recorder, http: HttpSender) -> None:
    server.answer(500)
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(server.url, {})
    assert (caught.value.permanent, caught.value.status) == (False, 500)


async def test_429_retry_after_seconds_is_honoured(server: Recorder, http: HttpSender) -> None:
    server.answer(429, headers={"Retry-After": "120"})
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(server.url, {})
    assert not caught.value.permanent
    assert caught.value.retry_after == 120.0


async def test_410_is_permanent(server: Recorder, http: HttpSender) -> None:
    server.answer(410)
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(server.url, {})
    assert (caught.value.permanent, caught.value.retry_after) == (True, None)


async def test_400_is_permanent(server: Recorder, http: HttpSender) -> None:
    server.answer(400)
    with pytest.raises(DeliveryError) as caught:
        await http.post_form(server.url, {"a": "b"})
    assert caught.value.permanent


async def test_redirect_is_not_followed_and_is_permanent(
    server: Recorder, http: HttpSender
) -> None:
    server.answer(301, headers={"Location": server.url + "/elsewhere"})
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(server.url + "/old", {})
    assert caught.value.permanent
    assert [r.path for r in server.received] == ["/old"]


async def test_timeout_is_transient(server: Recorder) -> None:
    server.answer(stall=True)
    async with HttpSender(timeout=0.2) as http:
        with pytest.raises(DeliveryError) as caught:
            await http.post_json(server.url, {})
    assert not caught.value.permanent


async def test_connection_refused_is_transient(http: HttpSender) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(f"http://127.0.0.1:{port}/x", {})
    assert not caught.value.permanent


async def test_error_message_never_quotes_the_url(server: Recorder, http: HttpSender) -> None:
    server.answer(404)
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(server.url + "/bot123:SECRET/sendMessage", {})
    assert "SECRET" not in str(caught.value)


async def test_response_read_is_capped(server: Recorder) -> None:
    server.answer(200, b"x" * 100_000)
    seen: list[int] = []

    def size(body: bytes) -> str:
        seen.append(len(body))
        return ""

    async with HttpSender(max_read=1024) as http:
        await http.post_json(server.url, {}, detail=size)
    assert seen == [1024]


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A bare TCP listener on 127.0.0.1: its port and a list that grows per accepted
    connection, to show a guarded sender never even connects."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], accepted
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "0x7f.1"])
async def test_guarded_sender_never_connects_to_loopback(
    listener: tuple[int, list[int]], host: str
) -> None:
    port, accepted = listener
    async with HttpSender(egress=EgressPolicy.guarded()) as http:
        with pytest.raises(DeliveryError) as caught:
            await http.post_json(f"http://{host}:{port}/hook", {})
    assert caught.value.permanent
    await asyncio.sleep(0.05)  # let a connection, had one been made, reach the listener
    assert accepted == []


async def test_unguarded_sender_reaches_the_same_listener(
    listener: tuple[int, list[int]], http: HttpSender
) -> None:
    # The control for the test above: without the guard the listener does see a connection.
    port, accepted = listener
    with pytest.raises(DeliveryError):
        await http.post_json(f"http://127.0.0.1:{port}/hook", {})
    assert accepted == [1]


async def test_guard_with_an_allow_range_reaches_the_server(server: Recorder) -> None:
    policy = EgressPolicy.guarded(allow=["127.0.0.0/8"])
    async with HttpSender(egress=policy) as http:
        await http.post_json(server.url.replace("127.0.0.1", "localhost") + "/hook", {})
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        ("Mon, 23 Nov 2026 12:01:00 GMT", 60.0),
        ("Mon, 23 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_retry_after_reads_seconds_and_http_dates(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, NOW) == expected


async def test_error_message_carries_the_providers_reason(
    server: Recorder, http: HttpSender
) -> None:
    server.answer(400, b"invalid_payload")
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(server.url, {})
    assert str(caught.value) == "HTTP 400 from 127.0.0.1: invalid_payload"


async def test_error_message_redacts_a_token_the_provider_echoes(
    server: Recorder, http: HttpSender
) -> None:
    server.answer(401, b"bad token T0KEN-123 for bot 55:ABCDEF")
    with pytest.raises(DeliveryError) as caught:
        await http.post_json(
            server.url + "/bot55:ABCDEF/x",
            {},
            headers={"Authorization": "Bearer T0KEN-123"},
            redact=["55:ABCDEF"],
        )
    message = str(caught.value)
    assert "T0KEN-123" not in message
    assert "ABCDEF" not in message
