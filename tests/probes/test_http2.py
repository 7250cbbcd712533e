"""probe_http2 against real HTTP/2 servers on 127.0.0.1 (h2 on asyncio, TLS with ALPN h2),
and against an HTTP/1.1-only TLS server, where it must hand the check back (None)."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import pytest
from yarl import URL

from statpulse.model import CheckSpec, ErrorClass, Observation
from statpulse.probes import ProbeContext, probe_http
from statpulse.probes.base import USER_AGENT
from statpulse.probes.body import ACCEPT_ENCODING
from statpulse.probes.http2 import probe_http2, redirect_target, request_fields
from statpulse.probes.http2_conn import PADDING_ROOM, Http2Error
from statpulse.security.egress import EgressPolicy

from .conftest import LocalServer, SpecFactory

MiB = 1024 * 1024


# --- an HTTP/2 test server ---------------------------------------------------------------


@dataclass(frozen=True)
class H2Request:
    method: str
    path: str
    authority: str
    headers: dict[str, str]  # regular fields only, as received (lower-case)
    body: bytes


@dataclass
class H2Server:
    """An HTTP/2 server over TLS on 127.0.0.1:0 (ALPN offers only h2). Records requests,
    connections (accepted and still open), SNI names and the body bytes sent per path."""

    context: ssl.SSLContext
    port: int = 0
    requests: list[H2Request] = field(default_factory=list)
    accepted: int = 0
    open: int = 0
    sent: Counter[str] = field(default_factory=Counter)
    server_names: list[str | None] = field(default_factory=list)
    cancelled: int = 0  # handlers cancelled because their client went away
    _server: asyncio.Server | None = None
    _connections: set[_ServerConnection] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.context.sni_callback = self._sni
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ServerConnection(self), "127.0.0.1", 0, ssl=self.context
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def _sni(self, _obj: Any, name: str | None, _ctx: Any) -> None:
        self.server_names.append(name)

    async def all_closed(self, timeout: float = 2.0) -> bool:
        """Whether every accepted connection is closed (waits up to ``timeout``)."""
        deadline = perf_counter() + timeout
        while self.open and perf_counter() < deadline:
            await asyncio.sleep(0.01)
        return self.open == 0

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for conn in list(self._connections):
                conn.abort()
            await self._server.wait_closed()


class _ServerConnection(asyncio.Protocol):
    def __init__(self, server: H2Server) -> None:
        self.server = server
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.requests: dict[int, dict[str, Any]] = {}
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.window = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.server.accepted += 1
        self.server.open += 1
        self.server._connections.add(self)
        self.conn.initiate_connection()
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.open -= 1
        self.server._connections.discard(self)
        for task in self.tasks.values():
            task.cancel()
        self.window.set()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        try:
            events = self.conn.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            self.abort()
            return
        for event in events:
            if isinstance(event, h2.events.RequestReceived):
                self.requests[event.stream_id] = {"headers": event.headers, "body": bytearray()}
            elif isinstance(event, h2.events.DataReceived):
                self.requests[event.stream_id]["body"] += event.data
                self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                self.dispatch(event.stream_id)
            elif isinstance(event, h2.events.StreamReset):
                task = self.tasks.get(event.stream_id)
                if task is not None:
                    task.cancel()
                self.window.set()
            elif isinstance(event, h2.events.WindowUpdated | h2.events.RemoteSettingsChanged):
                self.window.set()
        self.flush()

    def dispatch(self, stream_id: int) -> None:
        raw = self.requests.pop(stream_id)
        pseudo = {k: v for k, v in raw["headers"] if k.startswith(":")}
        request = H2Request(
            method=pseudo[":method"],
            path=pseudo[":path"],
            authority=pseudo[":authority"],
            headers={k: v for k, v in raw["headers"] if not k.startswith(":")},
            body=bytes(raw["body"]),
        )
        self.server.requests.append(request)
        task = asyncio.get_running_loop().create_task(self.handle(stream_id, request))
        self.tasks[stream_id] = task

    async def handle(self, stream_id: int, request: H2Request) -> None:
        try:
            await _route(self, stream_id, request)
        except asyncio.CancelledError:
            self.server.cancelled += 1
            raise
        except h2.exceptions.ProtocolError:
            pass  # the client reset the stream
        finally:
            self.tasks.pop(stream_id, None)

    def respond(
        self, stream_id: int, status: int, headers: list[tuple[str, str]], end: bool
    ) -> None:
        self.conn.send_headers(stream_id, [(":status", str(status)), *headers], end_stream=end)
        self.flush()

    async def send_body(self, stream_id: int, path: str, data: bytes, pad: int = 0) -> None:
        """Send ``data`` as flow control allows (``pad`` bytes of padding per frame)."""
        sent = 0
        while sent < len(data):
            try:
                window = min(
                    self.conn.local_flow_control_window(stream_id),
                    self.conn.max_outbound_frame_size,
                )
            except h2.exceptions.ProtocolError:
                return  # reset by the client
            window -= pad + 1 if pad else 0
            if window <= 0:
                self.window.clear()
                await self.window.wait()
                continue
            chunk = data[sent : sent + window]
            sent += len(chunk)
            self.conn.send_data(
                stream_id, chunk, end_stream=sent == len(data), pad_length=pad or None
            )
            self.server.sent[path] += len(chunk)
            self.flush()


async def _route(conn: _ServerConnection, sid: int, request: H2Request) -> None:
    url = URL(request.path)
    path, query = url.path, url.query
    respond = conn.respond
    if path == "/ok":
        headers = [("x-custom-header", "yes"), ("x-multi", "a"), ("x-multi", "b")]
        respond(sid, 200, [*headers, ("content-length", "5")], end=request.method == "HEAD")
        if request.method != "HEAD":
            await conn.send_body(sid, path, b"hello")
    elif path == "/echo":
        respond(sid, 200, [], end=not request.body)
        await conn.send_body(sid, path, request.body)
    elif path == "/gzip":
        respond(sid, 200, [("content-encoding", "gzip")], end=False)
        await conn.send_body(sid, path, gzip.compress(b"hello gzip " * 1000))
    elif path == "/large":
        respond(sid, 200, [], end=False)
        size, pad = int(query["size"]), int(query.get("pad", "0"))
        await conn.send_body(sid, path, b"x" * size, pad=pad)
    elif path.startswith("/redirect/"):
        left = int(path.rsplit("/", 1)[1])
        if left == 0:
            respond(sid, 200, [], end=False)
            await conn.send_body(sid, path, f"arrived {request.method}".encode())
        else:
            code = query.get("code", "302")
            location = f"/redirect/{left - 1}?code={code}"
            respond(sid, int(code), [("location", location)], end=True)
    elif path == "/to":
        respond(sid, int(query.get("code", "302")), [("location", query["url"])], end=True)
    elif path == "/no-location":
        respond(sid, 302, [], end=True)
    elif path == "/slow":
        await asyncio.sleep(30)
        respond(sid, 200, [], end=True)
    elif path == "/reset":
        conn.conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        conn.flush()
    elif path == "/reset-mid-body":
        respond(sid, 200, [], end=False)
        conn.conn.send_data(sid, b"partial")
        conn.conn.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        conn.flush()
    elif path == "/goaway":
        conn.conn.close_connection(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, last_stream_id=0)
        conn.flush()
        assert conn.transport is not None
        conn.transport.close()
    elif path == "/hang-up":
        assert conn.transport is not None
        conn.transport.close()
    else:
        respond(sid, 404, [], end=True)


def _server_context(cert: tuple[Path, Path], alpn: list[str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    context.set_alpn_protocols(alpn)
    return context


@pytest.fixture
async def start_h2() -> AsyncIterator[Callable[[ssl.SSLContext], Awaitable[H2Server]]]:
    servers: list[H2Server] = []

    async def start(context: ssl.SSLContext) -> H2Server:
        server = H2Server(context)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def h2_server(
    start_h2: Callable[[ssl.SSLContext], Awaitable[H2Server]],
    self_signed_cert: tuple[Path, Path],
) -> H2Server:
    return await start_h2(_server_context(self_signed_cert, ["h2"]))


@pytest.fixture
def cert_pem(self_signed_cert: tuple[Path, Path]) -> str:
    return self_signed_cert[0].read_text()


async def _probe(spec: CheckSpec, ctx: ProbeContext) -> Observation | None:
    return await probe_http2(spec, ctx, perf_counter())


async def _h2(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    obs = await _probe(spec, ctx)
    assert obs is not None, "expected an HTTP/2 observation, got a fallback"
    return obs


def _spec(make_spec: SpecFactory, url: str, **options: Any) -> CheckSpec:
    options.setdefault("verify_tls", False)  # the test certificate is self-signed
    return make_spec(url, **options)


# --- success ------------------------------------------------------------------------------


async def test_success_reports_status_body_headers_phases_and_tls(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    started = perf_counter()
    obs = await probe_http2(_spec(make_spec, f"{h2_server.url}/ok?x=1"), probe_ctx, started)

    assert obs is not None
    assert obs.error_class is None and obs.error_message is None
    assert obs.connected
    assert obs.http_version == "2"
    assert obs.status_code == 200
    assert obs.body == b"hello"
    assert obs.headers["x-custom-header"] == "yes"
    assert obs.headers["x-multi"] == "a, b"
    assert obs.redirects == ()
    assert obs.ip == "127.0.0.1"
    phases = obs.phases
    assert phases.dns_ms is None  # literal IP
    assert phases.connect_ms is not None and phases.tls_ms is not None
    assert phases.first_byte_ms is not None and obs.latency_ms is not None
    assert obs.latency_ms >= phases.first_byte_ms >= phases.connect_ms + phases.tls_ms
    assert obs.latency_ms <= (perf_counter() - started) * 1000
    assert obs.tls is not None
    assert obs.tls.version is not None and obs.tls.version.startswith("TLS")
    assert obs.tls.subject == "CN=localhost"
    assert not obs.tls.chain_valid and not obs.tls.hostname_valid
    assert obs.tls.verify_error == "not verified (verify_tls is off)"
    assert await h2_server.all_closed()


async def test_request_carries_method_path_authority_and_default_headers(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    spec = _spec(
        make_spec,
        f"{h2_server.url}/ok?x=1&y=%20",
        headers={"X-Token": " abc ", "Connection": "keep-alive", "Upgrade": "h2c", "TE": "gzip"},
    )
    obs = await _h2(spec, probe_ctx)

    assert obs.status_code == 200
    (request,) = h2_server.requests
    assert request.method == "GET"
    assert request.path == "/ok?x=1&y=%20"
    assert request.authority == f"127.0.0.1:{h2_server.port}"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["accept-encoding"] == ACCEPT_ENCODING
    assert request.headers["accept"] == "*/*"
    assert request.headers["x-token"] == "abc"
    for dropped in ("connection", "upgrade", "te", "content-length", "content-type"):
        assert dropped not in request.headers
    assert request.body == b""


async def test_given_headers_override_the_defaults_and_host_is_the_authority(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    headers = {"User-Agent": "custom/1", "Accept-Encoding": "identity", "Host": "example.test"}
    await _h2(_spec(make_spec, f"{h2_server.url}/ok", headers=headers), probe_ctx)

    (request,) = h2_server.requests
    assert request.headers["user-agent"] == "custom/1"
    assert request.headers["accept-encoding"] == "identity"
    assert request.authority == "example.test"
    assert "host" not in request.headers


async def test_post_body_larger_than_the_window_is_sent_under_flow_control(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    body = "b" * 300_000  # the server's initial window is 65535
    spec = _spec(
        make_spec,
        f"{h2_server.url}/echo",
        method="post",
        body=body,
        headers={"Content-Length": "1"},
    )
    obs = await _h2(spec, probe_ctx)

    assert obs.status_code == 200
    assert obs.body == body.encode()
    (request,) = h2_server.requests
    assert request.method == "POST"
    assert request.body == body.encode()
    assert request.headers["content-length"] == str(len(body))
    assert request.headers["content-type"] == "application/octet-stream"


async def test_head_has_no_body(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}/ok", method="HEAD"), probe_ctx)

    assert obs.status_code == 200
    assert obs.body == b""
    assert obs.headers["content-length"] == "5"


async def test_credentials_in_the_url_become_basic_authorization(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    url = f"https://user:pa%20ss@127.0.0.1:{h2_server.port}/ok"
    await _h2(_spec(make_spec, url), probe_ctx)

    (request,) = h2_server.requests
    assert request.headers["authorization"] == "Basic dXNlcjpwYSBzcw=="  # user:pa ss
    assert request.authority == f"127.0.0.1:{h2_server.port}"


async def test_host_name_is_resolved_timed_and_sent_as_sni(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory, cert_pem: str
) -> None:
    url = f"https://localhost:{h2_server.port}/ok"
    obs = await _h2(_spec(make_spec, url, verify_tls=True, ca_cert=cert_pem), probe_ctx)

    assert obs.status_code == 200
    assert obs.phases.dns_ms is not None
    assert h2_server.server_names == ["localhost"]
    assert h2_server.requests[0].authority == f"localhost:{h2_server.port}"
    assert obs.tls is not None and obs.tls.chain_valid and obs.tls.verify_error is None


# --- bodies -------------------------------------------------------------------------------


async def test_gzip_body_is_decoded(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}/gzip"), probe_ctx)

    assert obs.headers["content-encoding"] == "gzip"
    assert obs.body == b"hello gzip " * 1000


async def test_large_body_is_capped_and_the_server_is_granted_no_more(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}/large?size={4 * MiB}"), probe_ctx)

    assert obs.status_code == 200
    assert obs.body == b"x" * probe_ctx.body_cap
    assert h2_server.sent["/large"] <= probe_ctx.body_cap + PADDING_ROOM
    assert await h2_server.all_closed()
    assert h2_server.cancelled == 1  # the stream was reset, the sender stopped


@pytest.mark.parametrize("cap", [0, 1000, 100_000])
async def test_small_caps_bound_what_the_server_may_send(
    cap: int, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    async with ProbeContext(body_cap=cap) as ctx:
        obs = await _h2(_spec(make_spec, f"{h2_server.url}/large?size=300000"), ctx)

    assert obs.status_code == 200
    assert obs.body == b"x" * cap
    assert h2_server.sent["/large"] <= cap + PADDING_ROOM


async def test_body_of_several_windows_within_the_cap_is_read_whole(
    h2_server: H2Server, make_spec: SpecFactory
) -> None:
    async with ProbeContext(body_cap=8 * MiB) as ctx:
        obs = await _h2(_spec(make_spec, f"{h2_server.url}/large?size={3 * MiB}"), ctx)

    assert obs.body == b"x" * (3 * MiB)


async def test_padding_does_not_eat_into_the_body_credit(
    h2_server: H2Server, make_spec: SpecFactory
) -> None:
    async with ProbeContext(body_cap=200_000) as ctx:
        url = f"{h2_server.url}/large?size=300000&pad=255"
        obs = await _h2(_spec(make_spec, url, timeout_s=3.0), ctx)

    assert obs.error_class is None
    assert obs.body == b"x" * 200_000


# --- redirects ----------------------------------------------------------------------------


async def test_redirects_are_followed_and_recorded(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}/redirect/3"), probe_ctx)

    assert obs.status_code == 200
    assert obs.body == b"arrived GET"
    assert [(hop.url, hop.status_code, hop.location) for hop in obs.redirects] == [
        (f"{h2_server.url}/redirect/3", 302, "/redirect/2?code=302"),
        (f"{h2_server.url}/redirect/2?code=302", 302, "/redirect/1?code=302"),
        (f"{h2_server.url}/redirect/1?code=302", 302, "/redirect/0?code=302"),
    ]
    assert h2_server.accepted == 4  # a new connection per hop
    assert await h2_server.all_closed()


async def test_max_redirects_are_allowed_one_more_is_a_protocol_error(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    allowed = await _h2(_spec(make_spec, f"{h2_server.url}/redirect/2", max_redirects=2), probe_ctx)
    too_many = await _h2(
        _spec(make_spec, f"{h2_server.url}/redirect/3", max_redirects=2), probe_ctx
    )

    assert allowed.status_code == 200 and len(allowed.redirects) == 2
    assert too_many.error_class is ErrorClass.PROTOCOL
    assert too_many.error_message == "too many redirects"
    assert too_many.connected
    assert await h2_server.all_closed()


async def test_redirects_are_not_followed_when_disabled(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/redirect/1", follow_redirects=False)
    obs = await _h2(spec, probe_ctx)

    assert obs.status_code == 302
    assert obs.headers["location"] == "/redirect/0?code=302"
    assert obs.redirects == ()


async def test_redirect_without_location_is_the_final_response(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}/no-location"), probe_ctx)

    assert obs.status_code == 302
    assert obs.error_class is None


@pytest.mark.parametrize(
    ("code", "method", "has_body"),
    [(301, "GET", False), (302, "GET", False), (303, "GET", False), (307, "POST", True)],
)
async def test_post_redirects_switch_to_get_except_307_and_308(
    code: int,
    method: str,
    has_body: bool,
    probe_ctx: ProbeContext,
    h2_server: H2Server,
    make_spec: SpecFactory,
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/redirect/1?code={code}", method="POST", body="data")
    obs = await _h2(spec, probe_ctx)

    assert obs.body == f"arrived {method}".encode()
    first, second = h2_server.requests
    assert first.body == b"data"
    assert second.method == method
    assert second.body == (b"data" if has_body else b"")
    assert ("content-length" in second.headers) is has_body


async def test_absolute_redirect_to_another_origin_drops_credentials(
    probe_ctx: ProbeContext,
    start_h2: Callable[[ssl.SSLContext], Awaitable[H2Server]],
    self_signed_cert: tuple[Path, Path],
    make_spec: SpecFactory,
) -> None:
    first = await start_h2(_server_context(self_signed_cert, ["h2"]))
    second = await start_h2(_server_context(self_signed_cert, ["h2"]))
    target = f"{second.url}/ok"
    spec = _spec(
        make_spec,
        f"{first.url}/to?code=308&url={target}",
        headers={"Authorization": "Bearer secret", "Cookie": "a=b", "X-Keep": "1"},
    )
    obs = await _h2(spec, probe_ctx)

    assert obs.status_code == 200
    assert [hop.location for hop in obs.redirects] == [target]
    assert first.requests[0].headers["authorization"] == "Bearer secret"
    moved = second.requests[0].headers
    assert "authorization" not in moved and "cookie" not in moved
    assert moved["x-keep"] == "1"


async def test_redirect_to_plain_http_hands_the_check_back(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    url = f"{h2_server.url}/to?url=http://127.0.0.1:{h2_server.port}/ok"
    assert await _probe(_spec(make_spec, url), probe_ctx) is None
    assert await h2_server.all_closed()


async def test_redirect_to_a_server_without_h2_hands_the_check_back(
    probe_ctx: ProbeContext, h2_server: H2Server, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    url = f"{h2_server.url}/to?url={https_server.url}/ok"
    assert await _probe(_spec(make_spec, url), probe_ctx) is None
    assert https_server.requests == []


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("ftp://example.test/file", "redirect to a non-HTTP URL: ftp://example.test/file"),
        ("https://[::1", "redirect to an invalid URL: https://[::1"),
    ],
)
async def test_bad_redirect_location_is_a_protocol_error(
    location: str,
    message: str,
    probe_ctx: ProbeContext,
    h2_server: H2Server,
    make_spec: SpecFactory,
) -> None:
    url = str(URL(f"{h2_server.url}/to").with_query(url=location))
    obs = await _h2(_spec(make_spec, url), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == message


# --- no HTTP/2 ----------------------------------------------------------------------------


async def test_server_without_h2_hands_the_check_back_without_a_request(
    probe_ctx: ProbeContext, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    assert await _probe(_spec(make_spec, f"{https_server.url}/ok"), probe_ctx) is None
    assert https_server.requests == []


async def test_server_offering_only_http11_hands_the_check_back(
    probe_ctx: ProbeContext,
    start_h2: Callable[[ssl.SSLContext], Awaitable[H2Server]],
    self_signed_cert: tuple[Path, Path],
    make_spec: SpecFactory,
) -> None:
    server = await start_h2(_server_context(self_signed_cert, ["http/1.1"]))
    assert await _probe(_spec(make_spec, f"{server.url}/ok"), probe_ctx) is None
    assert server.requests == []
    assert await server.all_closed()


async def test_plain_http_url_is_handed_back(
    probe_ctx: ProbeContext, http_server: LocalServer, make_spec: SpecFactory
) -> None:
    assert await _probe(_spec(make_spec, f"{http_server.url}/ok"), probe_ctx) is None
    assert http_server.requests == []


# --- TLS ----------------------------------------------------------------------------------


async def test_self_signed_certificate_fails_verification(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}/ok", verify_tls=True), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message is not None
    assert obs.error_message.startswith("certificate verify failed: self")
    assert obs.connected
    assert obs.phases.tls_ms is not None
    assert h2_server.requests == []


async def test_monitor_ca_makes_the_certificate_valid(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory, cert_pem: str
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/ok", verify_tls=True, ca_cert=cert_pem)
    obs = await _h2(spec, probe_ctx)

    assert obs.status_code == 200
    assert obs.tls is not None
    assert obs.tls.chain_valid and obs.tls.hostname_valid and obs.tls.verify_error is None


async def test_unusable_pem_is_a_tls_error_without_connecting(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/ok", ca_cert="not a certificate")
    obs = await _h2(spec, probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message is not None
    assert obs.error_message.startswith("invalid TLS settings: ")
    assert h2_server.accepted == 0


# --- egress, connection errors ------------------------------------------------------------


async def test_egress_guard_blocks_before_connecting(
    h2_server: H2Server, make_spec: SpecFactory
) -> None:
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        literal = await _h2(_spec(make_spec, f"{h2_server.url}/ok"), ctx)
        named = await _h2(_spec(make_spec, f"https://localhost:{h2_server.port}/ok"), ctx)

    for obs in (literal, named):
        assert obs.error_class is ErrorClass.BLOCKED
        assert obs.error_message is not None
        assert obs.error_message.startswith("blocked by the egress policy: ")
        assert not obs.connected
    assert named.phases.dns_ms is not None
    assert h2_server.accepted == 0


async def test_redirect_into_a_denied_address_is_blocked(
    h2_server: H2Server, make_spec: SpecFactory
) -> None:
    # loopback is allowed as an exception, except the target of the redirect
    policy = EgressPolicy.guarded(allow=["127.0.0.1/32"])
    async with ProbeContext(egress=policy) as ctx:
        url = f"{h2_server.url}/to?url=https://127.0.0.2:{h2_server.port}/ok"
        obs = await _h2(_spec(make_spec, url), ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert len(h2_server.requests) == 1


async def test_refused_connection_is_a_connect_error(
    probe_ctx: ProbeContext, refused_port: int, make_spec: SpecFactory
) -> None:
    obs = await _h2(_spec(make_spec, f"https://127.0.0.1:{refused_port}/"), probe_ctx)

    assert obs.error_class is ErrorClass.CONNECT
    assert obs.error_message == "connection refused"
    assert not obs.connected


# --- HTTP/2 failures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message", "status"),
    [
        ("/reset", "the server reset the stream (INTERNAL_ERROR)", None),
        ("/reset-mid-body", "the server reset the stream (INTERNAL_ERROR)", 200),
        ("/goaway", "the server closed the connection (GOAWAY ENHANCE_YOUR_CALM)", None),
        ("/hang-up", "the server closed the connection without a response", None),
    ],
)
async def test_server_breaking_off_is_a_protocol_error(
    path: str,
    message: str,
    status: int | None,
    probe_ctx: ProbeContext,
    h2_server: H2Server,
    make_spec: SpecFactory,
) -> None:
    obs = await _h2(_spec(make_spec, f"{h2_server.url}{path}"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == message
    assert obs.connected
    assert obs.status_code == status
    assert await h2_server.all_closed()


# --- deadline -----------------------------------------------------------------------------


async def test_deadline_is_a_timeout_naming_the_stage(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/slow", timeout_s=0.3)
    started = perf_counter()
    async with asyncio.timeout(spec.timeout_s + 1):  # as the caller does, but later
        obs = await probe_http2(spec, probe_ctx, started)

    assert obs is not None
    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.3 s while waiting for the response"
    assert obs.connected
    assert obs.latency_ms is not None and 250 <= obs.latency_ms < 1000
    assert await h2_server.all_closed()
    assert h2_server.cancelled == 1


async def test_time_already_spent_counts_against_the_deadline(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/ok", timeout_s=0.5)
    obs = await probe_http2(spec, probe_ctx, perf_counter() - 1.0)

    assert obs is not None
    assert obs.error_class is ErrorClass.TIMEOUT
    assert h2_server.requests == []


async def test_cancellation_by_the_caller_closes_the_connection(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    spec = _spec(make_spec, f"{h2_server.url}/slow", timeout_s=10.0)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await probe_http2(spec, probe_ctx, perf_counter())

    assert h2_server.accepted == 1
    assert await h2_server.all_closed()
    assert h2_server.cancelled == 1


async def test_deadline_during_the_handshake_closes_the_socket(
    probe_ctx: ProbeContext, make_spec: SpecFactory
) -> None:
    """A server that accepts TCP but never answers the TLS handshake."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        spec = _spec(make_spec, f"https://127.0.0.1:{port}/", timeout_s=0.3)
        obs = await _h2(spec, probe_ctx)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.3 s while performing the TLS handshake"
    assert obs.connected and obs.phases.tls_ms is None


# --- helpers ------------------------------------------------------------------------------


def test_request_fields_lower_case_and_drop_connection_specific_fields() -> None:
    fields = request_fields(
        {
            "X-A": "1",
            "Keep-Alive": "5",
            "Transfer-Encoding": "chunked",
            ":path": "/x",
            "TE": "trailers",
        }
    )
    assert fields == {
        "user-agent": USER_AGENT,
        "accept": "*/*",
        "accept-encoding": ACCEPT_ENCODING,
        "x-a": "1",
        "te": "trailers",
    }


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/b", "https://h.test/b"),
        ("c?q=1", "https://h.test/a/c?q=1"),
        ("//o.test/p", "https://o.test/p"),
        ("http://o.test/", "http://o.test/"),
    ],
)
def test_redirect_target_resolves_relative_locations(location: str, expected: str) -> None:
    assert str(redirect_target(URL("https://h.test/a/b"), location)) == expected


def test_redirect_target_refuses_other_schemes() -> None:
    with pytest.raises(Http2Error, match="non-HTTP"):
        redirect_target(URL("https://h.test/"), "javascript:alert(1)")


# --- through probe_http (the monitor option) ------------------------------------------------


async def test_http_probe_with_http2_on_speaks_http2_to_a_server_that_offers_it(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await probe_http(_spec(make_spec, f"{h2_server.url}/ok", http2=True), probe_ctx)
    assert obs.error_class is None, obs.error_message
    assert obs.http_version == "2"
    assert obs.status_code == 200


async def test_http_probe_with_http2_on_falls_back_to_http11(
    probe_ctx: ProbeContext, https_server: LocalServer, make_spec: SpecFactory
) -> None:
    obs = await probe_http(_spec(make_spec, f"{https_server.url}/ok", http2=True), probe_ctx)
    assert obs.error_class is None, obs.error_message
    assert obs.http_version == "1.1"
    assert obs.body == b"hello"
    assert len(https_server.requests) == 1


async def test_http_probe_without_http2_never_offers_it(
    probe_ctx: ProbeContext, h2_server: H2Server, make_spec: SpecFactory
) -> None:
    obs = await probe_http(_spec(make_spec, f"{h2_server.url}/ok"), probe_ctx)
    assert obs.http_version != "2"
