"""The grpc probe against real grpcio health servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from statpulse.model import CheckSpec, ErrorClass, GrpcOptions
from statpulse.probes import ProbeContext
from statpulse.probes.grpc import probe_grpc
from statpulse.security.egress import EgressPolicy

from .conftest import LocalServer
from .grpc_server import NOT_SERVING, GrpcServer, GrpcServers, silent_listener


def grpc_spec(target: str, *, timeout_s: float = 5.0, **options: object) -> CheckSpec:
    return CheckSpec(
        monitor_id=uuid.uuid4(),
        kind="grpc",
        target=target,
        interval_s=60,
        timeout_s=timeout_s,
        grpc=GrpcOptions(**options),  # type: ignore[arg-type]
    )


@pytest.fixture
async def servers() -> AsyncIterator[GrpcServers]:
    started = GrpcServers()
    yield started
    await started.stop()


@pytest.fixture
async def server(servers: GrpcServers) -> GrpcServer:
    return await servers.start()


@pytest.fixture
def tls_pair(self_signed_cert: tuple[Path, Path]) -> tuple[bytes, bytes]:
    cert_path, key_path = self_signed_cert
    return key_path.read_bytes(), cert_path.read_bytes()


@pytest.fixture
def silent_port() -> Iterator[int]:
    with silent_listener() as port:
        yield port


async def test_serving_server_reports_serving_as_gatus_body(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    obs = await probe_grpc(grpc_spec(server.target), probe_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.connected
    assert obs.grpc_status == "SERVING"
    assert json.loads(obs.body) == {"status": "SERVING"}
    assert obs.ip == "127.0.0.1"
    assert obs.phases.dns_ms is None
    assert obs.phases.connect_ms is not None
    assert obs.phases.first_byte_ms is not None


async def test_not_serving_service_is_data_not_an_error(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    await server.health.set("billing", NOT_SERVING)

    obs = await probe_grpc(grpc_spec(server.target, service="billing"), probe_ctx)

    assert obs.error_class is None
    assert obs.connected
    assert obs.grpc_status == "NOT_SERVING"
    assert obs.body == b'{"status":"NOT_SERVING"}'


async def test_unknown_service_is_service_unknown(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    obs = await probe_grpc(grpc_spec(server.target, service="nope"), probe_ctx)

    assert obs.error_class is None
    assert obs.connected
    assert obs.grpc_status == "SERVICE_UNKNOWN"
    assert json.loads(obs.body) == {"status": "SERVICE_UNKNOWN"}


async def test_host_name_is_resolved_and_timed(probe_ctx: ProbeContext, server: GrpcServer) -> None:
    obs = await probe_grpc(grpc_spec(f"localhost:{server.port}"), probe_ctx)

    assert obs.grpc_status == "SERVING", obs.error_message
    assert obs.phases.dns_ms is not None
    assert obs.ip == "127.0.0.1"  # ::1 (if localhost has it) refuses: the next address answers


async def test_server_without_health_service_is_a_protocol_error(
    probe_ctx: ProbeContext, servers: GrpcServers
) -> None:
    bare = await servers.start(with_health=False)

    obs = await probe_grpc(grpc_spec(bare.target), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == "the server has no gRPC health service (grpc.health.v1.Health)"
    assert obs.connected
    assert obs.grpc_status is None


async def test_refused_port_is_a_connect_error(probe_ctx: ProbeContext, refused_port: int) -> None:
    obs = await probe_grpc(grpc_spec(f"127.0.0.1:{refused_port}"), probe_ctx)

    assert obs.error_class is ErrorClass.CONNECT
    assert obs.error_message == "connection refused"
    assert not obs.connected


async def test_unresolvable_name_is_a_dns_error(probe_ctx: ProbeContext) -> None:
    obs = await probe_grpc(grpc_spec("statpulse-test.invalid:50051"), probe_ctx)

    assert obs.error_class is ErrorClass.DNS
    assert obs.phases.dns_ms is not None


@pytest.mark.parametrize("target", ["localhost", "localhost:0", "::1:50051", ""])
async def test_invalid_target_is_a_protocol_error(probe_ctx: ProbeContext, target: str) -> None:
    obs = await probe_grpc(grpc_spec(target), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == f"invalid target {target!r}: expected host:port"


async def test_silent_server_times_out_while_connecting(
    probe_ctx: ProbeContext, silent_port: int
) -> None:
    started = time.monotonic()

    obs = await probe_grpc(grpc_spec(f"127.0.0.1:{silent_port}", timeout_s=0.5), probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.5 s while connecting"
    assert time.monotonic() - started < 2.5


async def test_check_that_never_answers_times_out_waiting_for_the_response(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    server.health.hang = True
    started = time.monotonic()

    obs = await probe_grpc(grpc_spec(server.target, timeout_s=0.5), probe_ctx)

    assert obs.error_class is ErrorClass.TIMEOUT
    assert obs.error_message == "timed out after 0.5 s while waiting for the response"
    assert obs.connected
    assert time.monotonic() - started < 2.5


async def test_metadata_reaches_the_server_with_lower_case_keys(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    spec = grpc_spec(server.target, metadata={"X-Api-Key": "s3cret", "tenant": "acme"})

    obs = await probe_grpc(spec, probe_ctx)

    assert obs.grpc_status == "SERVING"
    (received,) = server.health.metadata
    assert received["x-api-key"] == "s3cret"
    assert received["tenant"] == "acme"
    assert received["user-agent"].startswith("StatPulse/")


@pytest.mark.parametrize(
    "metadata", [{"bad key": "v"}, {"grpc-timeout": "1S"}, {"k-bin": "v"}, {"k": "line\nbreak"}]
)
async def test_invalid_metadata_is_rejected_before_connecting(
    probe_ctx: ProbeContext, server: GrpcServer, metadata: dict[str, str]
) -> None:
    obs = await probe_grpc(grpc_spec(server.target, metadata=metadata), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message is not None
    assert obs.error_message.startswith("invalid gRPC metadata")
    assert server.health.metadata == []


async def test_verified_tls_rejects_a_self_signed_certificate(
    probe_ctx: ProbeContext, servers: GrpcServers, tls_pair: tuple[bytes, bytes]
) -> None:
    tls_server = await servers.start(tls=tls_pair)

    obs = await probe_grpc(grpc_spec(f"localhost:{tls_server.port}", tls=True), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == "certificate verify failed: self signed certificate"
    assert not obs.connected
    assert tls_server.health.metadata == []


async def test_unverified_tls_accepts_a_self_signed_certificate(
    probe_ctx: ProbeContext, servers: GrpcServers, tls_pair: tuple[bytes, bytes]
) -> None:
    tls_server = await servers.start(tls=tls_pair)
    spec = grpc_spec(f"localhost:{tls_server.port}", tls=True, verify_tls=False)

    obs = await probe_grpc(spec, probe_ctx)

    assert obs.error_class is None, obs.error_message
    assert obs.grpc_status == "SERVING"
    assert obs.ip == "127.0.0.1"
    assert obs.phases.connect_ms is not None
    assert obs.phases.tls_ms is not None
    (received,) = tls_server.health.metadata
    assert received["user-agent"].startswith("StatPulse/")


async def test_unverified_tls_to_a_plaintext_server_is_a_tls_error(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    obs = await probe_grpc(grpc_spec(server.target, tls=True, verify_tls=False), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert not obs.connected


async def test_verified_tls_to_a_plaintext_server_is_a_tls_error(
    probe_ctx: ProbeContext, server: GrpcServer
) -> None:
    obs = await probe_grpc(grpc_spec(server.target, tls=True), probe_ctx)

    assert obs.error_class is ErrorClass.TLS
    assert obs.error_message == "TLS handshake failed: wrong version number"


async def test_plaintext_to_a_tls_server_is_a_protocol_error(
    probe_ctx: ProbeContext, servers: GrpcServers, tls_pair: tuple[bytes, bytes]
) -> None:
    tls_server = await servers.start(tls=tls_pair)

    obs = await probe_grpc(grpc_spec(tls_server.target), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert not obs.connected


async def test_http1_server_is_not_a_grpc_server(
    probe_ctx: ProbeContext, http_server: LocalServer
) -> None:
    obs = await probe_grpc(grpc_spec(f"127.0.0.1:{http_server.port}"), probe_ctx)

    assert obs.error_class is ErrorClass.PROTOCOL
    assert obs.error_message == "not a gRPC server: it answered with HTTP/1.x"


@pytest.mark.parametrize("tls", [False, True])
async def test_egress_guard_blocks_loopback_before_connecting(
    server: GrpcServer, tls: bool
) -> None:
    async with ProbeContext(egress=EgressPolicy.guarded()) as ctx:
        obs = await probe_grpc(grpc_spec(server.target, tls=tls, verify_tls=False), ctx)

    assert obs.error_class is ErrorClass.BLOCKED
    assert not obs.connected
    assert server.health.metadata == []


async def test_cancelling_the_check_cancels_it(probe_ctx: ProbeContext, server: GrpcServer) -> None:
    server.health.hang = True
    check = asyncio.create_task(probe_grpc(grpc_spec(server.target), probe_ctx))
    while not server.health.metadata:
        await asyncio.sleep(0.01)

    check.cancel()

    with pytest.raises(asyncio.CancelledError):
        await check
