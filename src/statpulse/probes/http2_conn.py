"""One HTTP/2 request over its own connection: the ``h2`` state machine (sans-IO) driven by an
asyncio Protocol. Used by ``probes.http2``; knows nothing about checks, timing or redirects.

Flow control: the connection grants the server ``credit`` bytes of response body up front, plus
256 bytes of room for one maximally padded frame (the stream's initial window, and the
connection window raised to match), and never more: the server can send at most
``credit + 256`` bytes of body, and a body of up to ``credit`` bytes never waits for a
WINDOW_UPDATE. Padding does not count: it is handed back as it arrives (the room keeps a padded
last frame from stalling). Request bodies are sent as the server's windows allow.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from typing import Any, cast

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

MAX_WINDOW = 2**31 - 1
"""The largest flow-control window HTTP/2 allows; a larger ``credit`` is cut to fit."""

_DEFAULT_WINDOW = 65535  # every connection window starts here (RFC 9113 6.9.2)
PADDING_ROOM = 256  # a DATA frame's padding is at most 255 bytes plus its length byte


class Http2Error(Exception):
    """The server broke off or broke HTTP/2 for the request: stream reset, GOAWAY, a protocol
    violation, or the connection ending before the response was complete. The message is
    short and meant for ``Observation.error_message``."""


def _code_name(code: object) -> str:
    name = getattr(code, "name", None)
    return name if isinstance(name, str) else f"error code {code}"


class Http2Connection(asyncio.Protocol):
    """A client connection that carries exactly one request.

    Create it through ``loop.create_connection`` over TLS, check ``alpn``, then call
    ``start()`` at once (no await in between); then ``send_request``, ``response`` and ``read``,
    in that order, one caller at a time. ``close()`` always: idempotent, never waits, resets the
    stream when it is still open. The coroutines raise ``Http2Error``, or the ``OSError`` /
    ``ssl.SSLError`` the transport reported when the connection was lost.
    """

    def __init__(self, credit: int) -> None:
        self._window = max(0, min(credit, MAX_WINDOW - PADDING_ROOM)) + PADDING_ROOM
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self._h2: Any = h2.connection.H2Connection(config=config)
        self._transport: asyncio.Transport | None = None
        self._early = bytearray()  # bytes that arrived between the handshake and start()
        self._started = False
        self._closed = False
        self._stream_id: int | None = None
        self._response: list[tuple[bytes, bytes]] | None = None
        self._body = bytearray()
        self._ended = False  # the server ended the stream
        self._error: Exception | None = None
        self._waiter: asyncio.Future[None] | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TLS transport is not an asyncio.Transport subclass, but has its methods
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        if not self._started:
            self._early += data
            return
        self._feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed or self._ended:
            return
        if exc is None:
            where = "without a response" if self._response is None else "before the body ended"
            exc = Http2Error(f"the server closed the connection {where}")
        self._fail(exc)

    # the request

    @property
    def alpn(self) -> str | None:
        """The protocol the server selected through ALPN (``"h2"`` for HTTP/2)."""
        ssl_object = self.ssl_object
        return None if ssl_object is None else ssl_object.selected_alpn_protocol()

    @property
    def ssl_object(self) -> ssl.SSLObject | None:
        if self._transport is None:
            return None
        ssl_object = self._transport.get_extra_info("ssl_object")
        return ssl_object if isinstance(ssl_object, ssl.SSLObject) else None

    def start(self) -> None:
        """Send the connection preface and our settings: no server push, the stream window
        of ``credit + PADDING_ROOM`` bytes (and the connection window raised to it)."""
        codes = h2.settings.SettingCodes
        self._h2.local_settings = h2.settings.Settings(
            client=True,
            initial_values={
                codes.ENABLE_PUSH: 0,
                codes.INITIAL_WINDOW_SIZE: self._window,
                codes.MAX_CONCURRENT_STREAMS: 100,
                codes.MAX_HEADER_LIST_SIZE: self._h2.DEFAULT_MAX_HEADER_LIST_SIZE,
            },
        )
        self._h2.initiate_connection()
        if self._window > _DEFAULT_WINDOW:
            self._h2.increment_flow_control_window(self._window - _DEFAULT_WINDOW)
        self._started = True
        self._flush()
        if self._early:
            early = bytes(self._early)
            self._early.clear()
            self._feed(early)

    async def send_request(self, headers: list[tuple[str, str]], body: bytes | None) -> None:
        """Send the request: ``headers`` are the pseudo-headers first, then lower-case fields;
        ``body`` (when not empty) goes as the server's flow-control windows allow. Stops
        sending early, without an error, when the server has already ended its response."""
        try:
            stream_id: int = self._h2.get_next_available_stream_id()
            self._stream_id = stream_id
            self._h2.send_headers(stream_id, headers, end_stream=not body)
            self._flush()
            if body:
                await self._send_body(stream_id, body)
        except h2.exceptions.ProtocolError as exc:
            raise Http2Error(f"could not send the request: {exc}") from None

    async def response(self) -> tuple[int, list[tuple[str, str]]]:
        """The final response's status and header fields (names lower-case, pseudo-headers
        left out, values decoded as UTF-8). Informational (1xx) responses are skipped."""
        while self._response is None:
            await self._wait()
        status: int | None = None
        fields: list[tuple[str, str]] = []
        for raw_name, raw_value in self._response:
            name = raw_name.decode("ascii", "replace")
            value = raw_value.decode("utf-8", "replace")
            if name == ":status":
                status = int(value) if value.isascii() and value.isdigit() else None
            elif not name.startswith(":"):
                fields.append((name, value))
        if status is None:
            raise Http2Error("invalid HTTP/2 response: no valid :status")
        return status, fields

    async def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes of response body (all that is buffered when ``n`` < 0); ``b""``
        once the server ended the stream."""
        while not self._body and not self._ended:
            await self._wait()
        if n < 0 or n >= len(self._body):
            data = bytes(self._body)
            self._body.clear()
        else:
            data = bytes(self._body[:n])
            del self._body[:n]
        return data

    def close(self) -> None:
        """Reset the stream if it is open, say GOAWAY, close the transport now. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._started:
            if self._stream_id is not None:
                with contextlib.suppress(h2.exceptions.ProtocolError):  # closed already
                    self._h2.reset_stream(self._stream_id, h2.errors.ErrorCodes.CANCEL)
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.close_connection()
            self._flush()
        transport = self._transport
        if transport is not None:
            transport.close()  # starts the TLS close_notify ...
            transport.abort()  # ... and waits for nothing

    # internals

    def _feed(self, data: bytes) -> None:
        try:
            events: list[Any] = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._fail(Http2Error(f"HTTP/2 protocol error: {exc}"))
            self._flush()  # h2 has prepared a GOAWAY
            return
        for event in events:
            self._handle(event)
        self._flush()
        self._wake()

    def _handle(self, event: Any) -> None:
        stream_id = self._stream_id
        if isinstance(event, h2.events.ConnectionTerminated):
            last: int = event.last_stream_id or 0
            graceful = event.error_code == h2.errors.ErrorCodes.NO_ERROR
            if not self._ended and (stream_id is None or last < stream_id or not graceful):
                code = _code_name(event.error_code)
                self._fail(Http2Error(f"the server closed the connection (GOAWAY {code})"))
            return
        if stream_id is None or getattr(event, "stream_id", None) != stream_id:
            return
        if isinstance(event, h2.events.ResponseReceived):
            self._response = list(event.headers)
        elif isinstance(event, h2.events.DataReceived):
            self._body += event.data
            padding: int = event.flow_controlled_length - len(event.data)
            if padding > 0:
                self._hand_back(padding, stream_open=event.stream_ended is None)
        elif isinstance(event, h2.events.StreamEnded):
            self._ended = True
        elif isinstance(event, h2.events.StreamReset) and not self._ended:
            code = _code_name(event.error_code)
            self._fail(Http2Error(f"the server reset the stream ({code})"))

    def _hand_back(self, size: int, *, stream_open: bool) -> None:
        """Give back window the server spent on padding, so it never eats into the body."""
        self._h2.increment_flow_control_window(size)
        if stream_open:
            self._h2.increment_flow_control_window(size, stream_id=self._stream_id)

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        sent = 0
        while sent < len(body):
            if self._error is not None:
                raise self._error
            if self._ended:
                return  # the server answered in full already; close() resets the stream
            window = min(
                self._h2.local_flow_control_window(stream_id), self._h2.max_outbound_frame_size
            )
            if window <= 0:
                await self._wait()  # for a WINDOW_UPDATE or new settings
                continue
            chunk = body[sent : sent + window]
            sent += len(chunk)
            self._h2.send_data(stream_id, chunk, end_stream=sent == len(body))
            self._flush()

    def _flush(self) -> None:
        data: bytes = self._h2.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _fail(self, exc: Exception) -> None:
        if self._error is None:
            self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self) -> None:
        """Wait until something arrives; raises the connection's error, if any, at once."""
        if self._error is not None:
            raise self._error
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        try:
            await waiter
        finally:
            self._waiter = None
