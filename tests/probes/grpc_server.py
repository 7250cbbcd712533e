"""Real gRPC servers on 127.0.0.1, port 0, for the grpc probe tests: grpcio's reference
asyncio health servicer (recording what each Check received), a server without it, and a
listener that accepts TCP connections but never speaks."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class RecordingHealthServicer(health.aio.HealthServicer):  # type: ignore[misc]
    """The reference servicer; records every Check's metadata. ``hang``: Check never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.metadata: list[dict[str, str]] = []
        self.hang = False

    async def Check(self, request: Any, context: Any) -> Any:
        self.metadata.append(dict(context.invocation_metadata()))
        if self.hang:
            await asyncio.Event().wait()  # cancelled when the call ends or the server stops
        return await super().Check(request, context)


@dataclass
class GrpcServer:
    port: int
    server: Any
    health: RecordingHealthServicer = field(default_factory=RecordingHealthServicer)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


class GrpcServers:
    """Starts servers in the test's loop and stops them all at teardown."""

    def __init__(self) -> None:
        self._servers: list[Any] = []

    async def start(
        self, *, with_health: bool = True, tls: tuple[bytes, bytes] | None = None
    ) -> GrpcServer:
        """A server on 127.0.0.1:0, plaintext or TLS with ``tls`` = (key PEM, cert PEM)."""
        server = grpc.aio.server()
        servicer = RecordingHealthServicer()
        if with_health:
            health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        if tls is None:
            port = server.add_insecure_port("127.0.0.1:0")
        else:
            port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([tls]))
        await server.start()
        self._servers.append(server)
        return GrpcServer(port=port, server=server, health=servicer)

    async def stop(self) -> None:
        for server in self._servers:
            await server.stop(None)


@contextlib.contextmanager
def silent_listener() -> Iterator[int]:
    """A port that completes TCP handshakes (the kernel's backlog) but never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        port: int = sock.getsockname()[1]
        yield port
