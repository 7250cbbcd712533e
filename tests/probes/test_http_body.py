"""The http probe's body handling against hostile and compressed responses."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from statpulse.model import ErrorClass
from statpulse.probes import ProbeContext, probe_http
from statpulse.probes.body import read_capped

from .conftest import SpecFactory

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Serve = Callable[[Handler], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(handler)`` answers every path with ``handler``; returns the base URL."""
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def _raw(body: bytes, encoding: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, headers={"Content-Encoding": encoding})

    return handler


async def test_gzip_body_is_decoded(
    probe_ctx: ProbeContext, serve: Serve, make_spec: SpecFactory
) -> None:
    url = await serve(_raw(gzip.compress(b'{"ok": true}'), "gzip"))
    obs = await probe_http(make_spec(url), probe_ctx)
    assert obs.error_class is None
    assert obs.body == b'{"ok": true}'


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_body_is_decoded_wrapped_or_raw(
    probe_ctx: ProbeContext, serve: Serve, make_spec: SpecFactory, wbits: int
) -> None:
    packer = zlib.compressobj(wbits=wbits)
    url = await serve(_raw(packer.compress(b"deflated") + packer.flush(), "deflate"))
    obs = await probe_http(make_spec(url), probe_ctx)
    assert obs.body == b"deflated"


async def test_gzip_bomb_costs_at_most_the_body_cap(serve: Serve, make_spec: SpecFactory) -> None:
    bomb = gzip.compress(b"\0" * (512 * 1024 * 1024), compresslevel=9)  # 512 MiB -> ~500 KiB
    url = await serve(_raw(bomb, "gzip"))
    async with ProbeContext(body_cap=64 * 1024) as ctx:
        obs = await probe_http(make_spec(url), ctx)
    assert obs.error_class is None
    assert obs.body == b"\0" * (64 * 1024)


async def test_corrupt_gzip_is_a_protocol_error(
    probe_ctx: ProbeContext, serve: Serve, make_spec: SpecFactory
) -> None:
    url = await serve(_raw(b"\x1f\x8b\x08\x00garbage-not-gzip", "gzip"))
    obs = await probe_http(make_spec(url), probe_ctx)
    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message is not None
    assert "invalid gzip data" in obs.error_message
    assert obs.status_code == 200


async def test_unknown_encoding_is_kept_as_sent(
    probe_ctx: ProbeContext, serve: Serve, make_spec: SpecFactory
) -> None:
    url = await serve(_raw(b"\x00opaque", "br"))
    obs = await probe_http(make_spec(url), probe_ctx)
    assert obs.body == b"\x00opaque"


async def test_probe_asks_for_the_encodings_it_decodes(
    probe_ctx: ProbeContext, serve: Serve, make_spec: SpecFactory
) -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Accept-Encoding", ""))
        return web.Response(text="ok")

    url = await serve(handler)
    await probe_http(make_spec(url), probe_ctx)
    await probe_http(make_spec(url, headers={"accept-encoding": "identity"}), probe_ctx)
    assert seen == ["gzip, deflate", "identity"]


class _Chunks:
    def __init__(self, *chunks: bytes) -> None:
        self._chunks = list(chunks)
        self.reads = 0

    async def read(self, n: int = -1) -> bytes:
        self.reads += 1
        if not self._chunks:
            return b""
        chunk = self._chunks.pop(0)
        if 0 <= n < len(chunk):
            self._chunks.insert(0, chunk[n:])
            chunk = chunk[:n]
        return chunk


async def test_read_capped_stops_at_the_cap_without_reading_further() -> None:
    content = _Chunks(b"abc", b"def", b"ghi")
    assert await read_capped(content, 4) == b"abcd"
    assert content.reads == 2
    assert await content.read() == b"ef"  # the rest stays unread


async def test_read_capped_inflates_a_stream_split_anywhere() -> None:
    packed = gzip.compress(b"0123456789" * 1000)
    content = _Chunks(*(packed[i : i + 7] for i in range(0, len(packed), 7)))
    assert await read_capped(content, 1 << 20, "gzip") == b"0123456789" * 1000
