"""STARTTLS dialogues for the ``tcp`` probe's ``starttls`` option: smtp, imap, pop3, ftp.

Each dialogue takes the plaintext streams of a fresh connection, reads the server's greeting,
asks for TLS and returns once the server agreed; the caller then upgrades the stream
(``connect.start_tls``). An answer the dialogue does not expect (a refusal, a closed connection,
a line over 64 KiB) raises ``StartTlsRefused``, whose message names the step and what came.
Network errors and timeouts propagate as they are.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable


class StartTlsRefused(Exception):
    """The server's answer was not the one the STARTTLS exchange needs."""


async def _line(reader: asyncio.StreamReader, what: str) -> str:
    try:
        line = await reader.readline()
    except ValueError:  # the stream's 64 KiB limit
        raise StartTlsRefused(f"{what}: a line longer than 64 KiB") from None
    if not line.endswith(b"\n"):
        raise StartTlsRefused(f"{what}: the server closed the connection")
    return line.decode("utf-8", "replace").rstrip("\r\n")


async def _reply(reader: asyncio.StreamReader, what: str, want: str) -> None:
    """One SMTP/FTP reply (``250-...`` lines continue it) whose code must be ``want``."""
    line = first = await _line(reader, what)
    while first[3:4] == "-" and not (line.startswith(first[:3]) and line[3:4] in (" ", "")):
        line = await _line(reader, what)
    if not first.startswith(want):
        raise StartTlsRefused(f"{what}: expected {want}, got {first[:80]!r}")


async def _answer(reader: asyncio.StreamReader, what: str, want: str, skip: str = "") -> None:
    """One IMAP/POP3 line that must start with ``want``; lines starting with ``skip`` (IMAP
    untagged responses) come first."""
    line = await _line(reader, what)
    while skip and line.startswith(skip) and not line.startswith(want):
        line = await _line(reader, what)
    if not line.startswith(want):
        raise StartTlsRefused(f"{what}: expected {want!r}, got {line[:80]!r}")


async def _smtp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _reply(reader, "smtp greeting", "220")
    local = ipaddress.ip_address(str(writer.get_extra_info("sockname")[0]).split("%", 1)[0])
    literal = f"IPv6:{local}" if local.version == 6 else str(local)
    writer.write(f"EHLO [{literal}]\r\n".encode())
    await _reply(reader, "smtp EHLO", "250")
    writer.write(b"STARTTLS\r\n")
    await _reply(reader, "smtp STARTTLS", "220")


async def _imap(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _answer(reader, "imap greeting", "* OK")
    writer.write(b"a001 STARTTLS\r\n")
    await _answer(reader, "imap STARTTLS", "a001 OK", skip="* ")


async def _pop3(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _answer(reader, "pop3 greeting", "+OK")
    writer.write(b"STLS\r\n")
    await _answer(reader, "pop3 STLS", "+OK")


async def _ftp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _reply(reader, "ftp greeting", "220")
    writer.write(b"AUTH TLS\r\n")
    await _reply(reader, "ftp AUTH TLS", "234")


# The dialogue of each ``starttls`` protocol name.
STARTTLS: dict[str, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]] = {
    "smtp": _smtp,
    "imap": _imap,
    "pop3": _pop3,
    "ftp": _ftp,
}
