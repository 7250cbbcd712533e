"""The http probe against real local servers."""

from __future__ import annotations

import asyncio
import time

import pytest

from statpulse.model import ErrorClass
from statpulse.probes import PROBES, ProbeContext, probe_http

from .conftest import LocalServer, SpecFactory


def test_http_is_registered() -> None:
    assert PROBES["http"] is probe_http


async def test_success_reports_status_body_headers_and_phases(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/ok"), probe_ctx)

    assert obs.error_class is None
    assert obs.error_message is None
    assert obs.connected
    assert obs.status_code == 200
    assert obs.body == b"hello"
    assert obs.headers["x-custom-header"] == "yes"
    assert all(name == name.lower() for name in obs.headers)
    assert obs.ip == "127.0.0.1"
    assert obs.phases.dns_ms is None  # literal IP: nothing to resolve
    assert obs.phases.tls_ms is None  # plain HTTP
    assert obs.phases.connect_ms is not None
    assert obs.phases.first_byte_ms is not None
    assert obs.latency_ms is not None
    assert obs.latency_ms >= obs.phases.first_byte_ms >= obs.phases.connect_ms


async def test_host_name_is_resolved_and_timed(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"http://localhost:{http_server.port}/ok"), probe_ctx)

    assert obs.status_code == 200
    assert obs.phases.dns_ms is not None


async def test_server_error_status_is_connected_and_not_a_probe_error(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/status/503"), probe_ctx)

    assert obs.connected
    assert obs.status_code == 503
    assert obs.error_class is None


async def test_method_headers_and_body_are_sent_as_configured(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    spec = make_spec(
        f"{http_server.url}/ok",
        method="POST",
        headers={"X-Token": "abc", "Content-Type": "application/json"},
        body='{"ping": true}',
    )

    obs = await probe_http(spec, probe_ctx)

    assert obs.status_code == 200
    (received,) = http_server.requests
    assert received.method == "POST"
    assert received.headers["X-Token"] == "abc"
    assert received.headers["Content-Type"] == "application/json"
    assert received.body == b'{"ping": true}'


async def test_each_check_opens_a_new_connection(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    spec = make_spec(f"{http_server.url}/ok")

    first = await probe_http(spec, probe_ctx)
    second = await probe_http(spec, probe_ctx)

    assert first.phases.connect_ms is not None
    assert second.phases.connect_ms is not None
    ports = {request.peer_port for request in http_server.requests}
    assert len(ports) == 2


async def test_slow_response_times_out_at_the_deadline(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    started = time.monotonic()

    obs = await probe_http(make_spec(f"{http_server.url}/sleep/30", timeout_s=0.5), probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.5 s while waiting for the response"
    assert obs.connected
    assert time.monotonic() - started < 10  # far below the handler's 30 s


async def test_connection_refused_is_a_connect_error(
    probe_ctx: ProbeContext, refused_port: int, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"http://127.0.0.1:{refused_port}/"), probe_ctx)

    assert obs.error_class is ErrorClass.CONNECT
    assert obs.error_message == "connection refused"
    assert not obs.connected
    assert obs.status_code is None


async def test_unresolvable_host_is_a_dns_error(
    probe_ctx: ProbeContext, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec("http://statpulse-test.invalid/"), probe_ctx)

    assert obs.error_class is ErrorClass.DNS
    assert obs.error_message is not None
    assert obs.error_message.startswith("DNS lookup failed for statpulse-test.invalid")


async def test_self_signed_certificate_is_a_tls_error_when_verifying(
    probe_ctx: ProbeContext, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{https_server.url}/ok", verify_tls=True), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == "certificate verify failed: self-signed certificate"
    assert not obs.connected


async def test_self_signed_certificate_is_accepted_without_verification(
    probe_ctx: ProbeContext, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{https_server.url}/ok", verify_tls=False), probe_ctx)

    assert obs.error_class is None
    assert obs.status_code == 200
    assert obs.body == b"hello"


async def test_tls_handshake_is_timed_apart_from_tcp_connect(
    probe_ctx: ProbeContext, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{https_server.url}/ok", verify_tls=False), probe_ctx)

    assert obs.phases.tls_ms is not None
    assert obs.phases.tls_ms > 0
    assert obs.phases.connect_ms is not None
    assert obs.phases.first_byte_ms is not None
    assert obs.phases.first_byte_ms >= obs.phases.connect_ms + obs.phases.tls_ms


async def test_plain_http_to_a_tls_port_is_a_protocol_error(
    probe_ctx: ProbeContext, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    plain = https_server.url.replace("https://", "http://")

    obs = await probe_http(make_spec(f"{plain}/ok"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL


async def test_redirects_are_followed_to_the_final_response(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/redirect/2"), probe_ctx)

    assert obs.status_code == 200
    assert obs.body == b"arrived"
    assert http_server.hits["/redirect/0"] == 1


async def test_exactly_max_redirects_are_allowed(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/redirect/3", max_redirects=3), probe_ctx)

    assert obs.error_class is None
    assert obs.status_code == 200


async def test_redirect_is_reported_not_followed_when_following_is_off(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    spec = make_spec(f"{http_server.url}/redirect/2", follow_redirects=False)

    obs = await probe_http(spec, probe_ctx)

    assert obs.connected
    assert obs.error_class is None
    assert obs.status_code == 302
    assert obs.headers["location"] == "/redirect/1"
    assert http_server.hits["/redirect/1"] == 0


async def test_redirect_loop_beyond_max_redirects_is_a_protocol_error(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/loop", max_redirects=3), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == "too many redirects"
    assert http_server.hits["/loop"] == 4  # the first request and three redirects


async def test_body_is_cut_at_the_cap_and_the_rest_is_not_read(
    http_server: LocalServer, make_spec: SpecFactory
) -> None:
    # The server streams forever: only stopping at the cap lets the check finish in time.
    async with ProbeContext(body_cap=1024) as ctx:
        obs = await probe_http(make_spec(f"{http_server.url}/stream/fast", timeout_s=5), ctx)

    assert obs.error_class is None
    assert len(obs.body) == 1024


async def test_endless_slow_body_hits_the_deadline(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(make_spec(f"{http_server.url}/stream/slow", timeout_s=0.5), probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.5 s while reading the body"
    assert obs.connected
    assert obs.status_code == 200


async def test_garbage_response_is_a_protocol_error(
    probe_ctx: ProbeContext, make_spec: SpecFactory
) -> None:
    async def answer_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"this is not HTTP\r\n\r\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(answer_garbage, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        obs = await probe_http(make_spec(f"http://127.0.0.1:{port}/"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.connected


@pytest.mark.parametrize("target", ["not a url", "ftp://127.0.0.1/file"])
async def test_unusable_url_is_a_protocol_error(
    probe_ctx: ProbeContext, make_spec: SpecFactory, target: str
) -> None:
    obs = await probe_http(make_spec(target), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL


async def test_unexpected_exception_becomes_an_internal_error(make_spec: SpecFactory) -> None:
    ctx = ProbeContext()
    await ctx.close()  # using a closed context is a bug, not a target failure

    obs = await probe_http(make_spec("http://127.0.0.1:9/"), ctx)

    assert obs.error_class is ErrorClass.INTERNAL
    assert obs.error_message is not None
    assert obs.error_message.startswith("RuntimeError")


async def test_cancellation_propagates_out_of_the_probe(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    task = asyncio.create_task(probe_http(make_spec(f"{http_server.url}/sleep/30"), probe_ctx))
    async with asyncio.timeout(5):
        while not http_server.hits["/sleep/30"]:  # the request is in flight
            await asyncio.sleep(0.01)

    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task


async def test_unanswered_connect_times_out_while_connecting(
    probe_ctx: ProbeContext, full_backlog_port: int, make_spec: SpecFactory
) -> None:
    spec = make_spec(f"http://127.0.0.1:{full_backlog_port}/", timeout_s=0.3)

    obs = await probe_http(spec, probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.3 s while connecting"
    assert not obs.connected
