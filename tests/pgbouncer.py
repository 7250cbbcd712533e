"""A real PgBouncer (Debian's ``pgbouncer`` package) in transaction pooling mode, for the tests.

``start_pgbouncer`` writes an ini and a userlist into a directory, runs ``pgbouncer`` in the
foreground as a child process on a free loopback port (no Unix socket) and returns once it
accepts connections; ``PgBouncer.stop`` ends it. PgBouncer refuses to run as root, so as root it
is started with ``-u nobody`` (it reads its files before it drops privileges).

Clients authenticate with ``auth_type = trust``; the user must still be listed in the userlist,
whose password (empty for a trusting PostgreSQL) PgBouncer uses to log in to the server. The
same user is the admin of the console (the ``pgbouncer`` database: ``SHOW POOLS``, ``SHOW
SERVERS``), driven with ``admin_command``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

BINARY_CANDIDATES = ("pgbouncer", "/usr/sbin/pgbouncer")
"""Debian installs it in /usr/sbin, which is not on an ordinary user's PATH."""


def find_pgbouncer() -> str | None:
    """The pgbouncer executable, or None when it is not installed (``make test-deps``)."""
    for candidate in BINARY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@dataclass
class PgBouncer:
    host: str
    port: int
    user: str
    pool_size: int
    process: subprocess.Popen[bytes]
    log: Path

    def url(self, database: str) -> str:
        """A ``postgresql://`` URL of ``database`` (a [databases] alias) through PgBouncer."""
        return sa.URL.create(
            "postgresql", username=self.user, host=self.host, port=self.port, database=database
        ).render_as_string(hide_password=False)

    @property
    def admin_dsn(self) -> str:
        """The admin console (only commands without rows through asyncpg: see ``admin_show``)."""
        return self.url("pgbouncer")

    def log_tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def write_config(
    workdir: Path,
    *,
    port: int,
    databases: dict[str, str],
    server_host: str,
    server_port: int,
    user: str,
    password: str,
    pool_size: int,
    host: str = "127.0.0.1",
) -> Path:
    """Write ``pgbouncer.ini`` and ``userlist.txt`` into ``workdir``; returns the ini's path.

    ``databases`` maps each client-side alias to a PostgreSQL database name.
    """
    userlist = workdir / "userlist.txt"
    userlist.write_text(f'"{user}" "{password}"\n')
    lines = ["[databases]"]
    lines += [
        f"{alias} = host={server_host} port={server_port} dbname={name}"
        for alias, name in databases.items()
    ]
    lines += [
        "",
        "[pgbouncer]",
        f"listen_addr = {host}",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = trust",
        f"auth_file = {userlist}",
        f"admin_users = {user}",
        f"stats_users = {user}",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "min_pool_size = 0",
        "reserve_pool_size = 0",
        "max_client_conn = 500",
        "server_reset_query =",
        # A test that waits this long for a server connection is stuck: fail it instead.
        "query_wait_timeout = 20",
        # A transaction left open by a leaked connection would block the next test's TRUNCATE
        # for ever (no test holds one idle this long): PgBouncer disconnects that client.
        "idle_transaction_timeout = 30",
        "log_connections = 0",
        "log_disconnections = 0",
    ]
    ini = workdir / "pgbouncer.ini"
    ini.write_text("\n".join(lines) + "\n")
    return ini


def start_pgbouncer(
    workdir: Path,
    *,
    databases: dict[str, str],
    server_host: str,
    server_port: int,
    user: str,
    password: str = "",
    pool_size: int = 3,
    binary: str = "pgbouncer",
    timeout: float = 10.0,
) -> PgBouncer:
    """Run pgbouncer in front of ``server_host:server_port``; returns once it accepts.

    Raises RuntimeError (with the end of its log) when it exits or does not listen in time.
    """
    host = "127.0.0.1"
    as_root = ["-u", "nobody"] if os.geteuid() == 0 else []
    for _attempt in range(3):  # the free port may be taken before pgbouncer binds it
        port = _free_port(host)
        ini = write_config(
            workdir,
            port=port,
            databases=databases,
            server_host=server_host,
            server_port=server_port,
            user=user,
            password=password,
            pool_size=pool_size,
            host=host,
        )
        log = workdir / f"pgbouncer-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [binary, *as_root, str(ini)], stdout=out, stderr=subprocess.STDOUT
            )
        bouncer = PgBouncer(host, port, user, pool_size, process, log)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if _accepts(host, port):
                return bouncer
            time.sleep(0.05)
        bouncer.stop()
        if "Address already in use" not in bouncer.log_tail():
            raise RuntimeError(f"pgbouncer did not start:\n{bouncer.log_tail()}")
    raise RuntimeError(f"pgbouncer found no free port:\n{bouncer.log_tail()}")


async def admin_show(bouncer: PgBouncer, what: str) -> list[dict[str, str | None]]:
    """The rows of ``SHOW <what>`` on the admin console, as text by column name."""
    return await admin_command(bouncer, f"SHOW {what}")


async def admin_command(bouncer: PgBouncer, command: str) -> list[dict[str, str | None]]:
    """Run ``command`` (``SHOW POOLS``, ``RECONNECT db``, ...) on the admin console; its rows.

    The console speaks only the simple query protocol, and asyncpg uses that one only for
    commands whose rows it discards (``execute``): "extended query protocol not supported by
    admin console". So this is a minimal client of the simple protocol (trust auth only).
    Raises RuntimeError on an error response or an authentication request.
    """
    reader, writer = await asyncio.open_connection(bouncer.host, bouncer.port)
    try:
        params = f"user\0{bouncer.user}\0database\0pgbouncer\0\0".encode()
        startup = struct.pack("!i", 196608) + params  # protocol 3.0
        writer.write(struct.pack("!i", len(startup) + 4) + startup)
        while (message := await _message(reader))[0] != b"Z":
            if message[0] == b"R" and struct.unpack("!i", message[1][:4])[0] != 0:
                raise RuntimeError("the admin console asked for a password: use auth_type trust")
        query = f"{command}\0".encode()
        writer.write(b"Q" + struct.pack("!i", len(query) + 4) + query)
        names: list[str] = []
        rows: list[dict[str, str | None]] = []
        while (message := await _message(reader))[0] != b"Z":
            kind, body = message
            if kind == b"T":
                names = _row_description(body)
            elif kind == b"D":
                rows.append(dict(zip(names, _data_row(body), strict=True)))
        return rows
    finally:
        writer.close()
        await writer.wait_closed()


async def _message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    kind = await reader.readexactly(1)
    (length,) = struct.unpack("!i", await reader.readexactly(4))
    body = await reader.readexactly(length - 4)
    if kind == b"E":
        fields = {f[:1]: f[1:].decode() for f in body.split(b"\0") if f}
        raise RuntimeError(f"pgbouncer admin console: {fields.get(b'M', body.decode())}")
    return kind, body


def _row_description(body: bytes) -> list[str]:
    (count,) = struct.unpack("!h", body[:2])
    names, at = [], 2
    for _ in range(count):
        end = body.index(b"\0", at)
        names.append(body[at:end].decode())
        at = end + 1 + 18  # table oid, column, type oid, size, modifier, format
    return names


def _data_row(body: bytes) -> list[str | None]:
    (count,) = struct.unpack("!h", body[:2])
    values: list[str | None] = []
    at = 2
    for _ in range(count):
        (length,) = struct.unpack("!i", body[at : at + 4])
        at += 4
        if length < 0:
            values.append(None)
        else:
            values.append(body[at : at + length].decode())
            at += length
    return values
