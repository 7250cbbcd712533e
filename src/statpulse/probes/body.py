"""Reading a response body under a cap, decompressing gzip and deflate ourselves.

aiohttp's automatic decompression inflates each received chunk in full, so a small gzip bomb
can cost gigabytes; here the inflater is asked for at most the bytes still wanted, and reading
stops once the cap is reached on either side (compressed bytes read, or bytes produced). A body
that never ends costs at most the cap and the check's deadline.
"""

from __future__ import annotations

import zlib
from typing import Protocol

ACCEPT_ENCODING = "gzip, deflate"
"""What probes advertise: the encodings ``read_capped`` can decode."""

_READ_SIZE = 65536


class BodyError(Exception):
    """The body is not valid for its Content-Encoding."""


class _Content(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


def _inflater(encoding: str, first: bytes) -> zlib._Decompress | None:
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if encoding == "deflate":
        # RFC 9110 means zlib-wrapped deflate; some servers send it raw.
        zlib_wrapped = (
            len(first) >= 2 and (first[0] & 0x0F) == 8 and (first[0] << 8 | first[1]) % 31 == 0
        )
        return zlib.decompressobj(zlib.MAX_WBITS if zlib_wrapped else -zlib.MAX_WBITS)
    return None


async def read_capped(content: _Content, cap: int, encoding: str = "") -> bytes:
    """At most ``cap`` bytes of body, decoded when ``encoding`` is gzip or deflate (other
    encodings are returned as received). Reads at most ``cap`` bytes from the wire too; the rest
    is never read. Raises ``BodyError`` for corrupt compressed data."""
    encoding = encoding.strip().lower()
    out: list[bytes] = []
    produced = 0
    wire = 0
    inflater: zlib._Decompress | None = None
    while produced < cap and wire < cap:
        chunk = await content.read(min(_READ_SIZE, cap - wire))
        if not chunk:
            break
        wire += len(chunk)
        if encoding and encoding != "identity" and inflater is None:
            inflater = _inflater(encoding, chunk)
            if inflater is None:
                encoding = ""  # unknown encoding: keep the bytes as sent
        if inflater is None:
            piece = chunk[: cap - produced]
            out.append(piece)
            produced += len(piece)
            continue
        try:
            data = chunk
            while data and produced < cap:
                piece = inflater.decompress(data, cap - produced)
                out.append(piece)
                produced += len(piece)
                data = inflater.unconsumed_tail
                if not piece and not data:
                    break
        except zlib.error as exc:
            raise BodyError(f"invalid {encoding} data: {exc}") from None
        if inflater.eof:
            break
    return b"".join(out)
