"""Real servers on 127.0.0.1 port 0 for the probe tests, and a ProbeContext per test."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from statpulse.model import CheckSpec, HttpOptions
from statpulse.probes import ProbeContext


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    peer_port: int


@dataclass
class LocalServer:
    """A running test server: ``url`` is its base URL, and it records what it received."""

    url: str
    port: int
    requests: list[RecordedRequest] = field(default_factory=list)
    hits: Counter[str] = field(default_factory=Counter)


SpecFactory = Callable[..., CheckSpec]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Run every probe test on asyncio and on uvloop: runners use uvloop, and phase timing
    leans on how the loop drives TLS."""
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return factories
    factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture
def make_spec() -> SpecFactory:
    """``make_spec(target, kind="http", timeout_s=5.0, **HttpOptions fields) -> CheckSpec``."""

    def build(target: str, *, kind: str = "http", timeout_s: float = 5.0, **http: Any) -> CheckSpec:
        return CheckSpec(
            monitor_id=uuid.uuid4(),
            kind=kind,
            target=target,
            interval_s=60,
            timeout_s=timeout_s,
            http=HttpOptions(**http),
        )

    return build


@pytest.fixture
async def probe_ctx() -> AsyncIterator[ProbeContext]:
    async with ProbeContext() as ctx:
        yield ctx


def _app(server: LocalServer) -> web.Application:
    async def record(request: web.Request) -> None:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        server.hits[request.path] += 1
        server.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                body=await request.read(),
                peer_port=peer[1] if peer else -1,
            )
        )

    async def ok(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(text="hello", headers={"X-Custom-Header": "yes"})

    async def status(request: web.Request) -> web.Response:
        await record(request)
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def sleep(request: web.Request) -> web.Response:
        await record(request)
        await asyncio.sleep(float(request.match_info["seconds"]))
        return web.Response(text="late")

    async def redirect(request: web.Request) -> web.Response:
        await record(request)
        left = int(request.match_info["left"])
        if left == 0:
            return web.Response(text="arrived")
        raise web.HTTPFound(f"/redirect/{left - 1}")

    async def loop(request: web.Request) -> web.Response:
        await record(request)
        raise web.HTTPFound("/loop")

    async def stream(request: web.Request) -> web.StreamResponse:
        """Sends body bytes forever: fast (64 KiB at a time) or slow (1 byte every 50 ms)."""
        slow = request.match_info["speed"] == "slow"
        response = web.StreamResponse()
        await response.prepare(request)
        chunk = b"x" if slow else b"x" * 65536
        while True:
            await response.write(chunk)
            if slow:
                await asyncio.sleep(0.05)

    app = web.Application()
    app.router.add_route("*", "/ok", ok)
    app.router.add_get("/status/{code}", status)
    app.router.add_get("/sleep/{seconds}", sleep)
    app.router.add_get("/redirect/{left}", redirect)
    app.router.add_get("/loop", loop)
    app.router.add_get("/stream/{speed}", stream)
    return app


ServerFactory = Callable[..., Awaitable[LocalServer]]


@pytest.fixture
async def start_server() -> AsyncIterator[ServerFactory]:
    """``await start_server(ssl_context=None)`` starts the test app on 127.0.0.1, port 0."""
    runners: list[web.AppRunner] = []

    async def start(ssl_context: ssl.SSLContext | None = None) -> LocalServer:
        server = LocalServer(url="", port=0)
        # Cancel handlers whose client went away, so endless handlers end with their check.
        runner = web.AppRunner(
            _app(server), handler_cancellation=True, access_log=None, shutdown_timeout=1
        )
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = runner.addresses[0][1]
        scheme = "https" if ssl_context else "http"
        server.url, server.port = f"{scheme}://127.0.0.1:{port}", port
        return server

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def http_server(start_server: ServerFactory) -> LocalServer:
    return await start_server()


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
async def https_server(
    start_server: ServerFactory, self_signed_cert: tuple[Path, Path]
) -> LocalServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*self_signed_cert)
    return await start_server(ssl_context=context)


@pytest.fixture
def refused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def full_backlog_port() -> Iterator[int]:
    """A port whose accept queue is full, so new connection attempts hang (Linux drops the SYN)."""
    with socket.socket() as server, socket.socket() as filler:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port: int = server.getsockname()[1]
        filler.connect(("127.0.0.1", port))
        yield port
