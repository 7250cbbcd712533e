"""The ``grpc`` probe: the standard ``grpc.health.v1.Health/Check``, with grpc.aio (which
runs on asyncio and uvloop alike: no loop-specific set-up)."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import socket
import ssl
from collections.abc import Sequence
from contextlib import AsyncExitStack
from time import perf_counter

import grpc
from aiohappyeyeballs import AddrInfoType
from grpc_health.v1 import health_pb2, health_pb2_grpc

from statpulse.model import CheckSpec, ErrorClass, Observation
from statpulse.probes.base import USER_AGENT, ProbeContext
from statpulse.probes.connect import close_stream, open_stream, rejected, resolve_target
from statpulse.probes.errors import failure
from statpulse.probes.tcp import parse_host_port
from statpulse.probes.timing import PhaseRecorder, elapsed_ms, recording

SERVICE_UNKNOWN = "SERVICE_UNKNOWN"
# grpc's own deadline trails the asyncio one, so a late check always ends as asyncio's
# TimeoutError: a DEADLINE_EXCEEDED racing it could leave a stray cancel (Python 3.11).
_GRPC_DEADLINE_SLACK_S = 0.05
_SETTLED = (
    grpc.ChannelConnectivity.READY,
    grpc.ChannelConnectivity.TRANSIENT_FAILURE,
    grpc.ChannelConnectivity.SHUTDOWN,
)
# What gRPC accepts as text metadata: no reserved ``grpc-`` names, no binary ``-bin`` ones.
_METADATA_KEY = re.compile(r"(?!grpc-)[0-9a-z_.-]+(?<!-bin)")
_METADATA_VALUE = re.compile(r"[\x20-\x7e]*")
_OPENSSL = re.compile(r"OPENSSL_internal:([A-Z0-9_]+)(?::\s*([^:]+))?")
_CONNECT = re.compile(r"Failed to connect to remote host: ([^:(]+)")


async def probe_grpc(spec: CheckSpec, ctx: ProbeContext) -> Observation:
    """Call ``grpc.health.v1.Health/Check`` for ``spec.grpc.service`` at ``spec.target``
    ("host:port" or "[v6]:port") and report the serving status.

    Returns an Observation, never raises (except ``asyncio.CancelledError``). When the server
    answers, ``connected=True``, ``grpc_status`` is the ServingStatus name (``SERVING``,
    ``NOT_SERVING``, ``UNKNOWN``; ``SERVICE_UNKNOWN`` when Check says NOT_FOUND) and ``body`` is
    ``{"status":"<name>"}`` as Gatus exposes it; the status is data for conditions, not an
    error. Failures: ``DNS``, ``BLOCKED`` (egress policy), ``CONNECT`` (refused, unreachable),
    ``TLS``, ``TIMEOUT`` (``spec.timeout_s`` bounds the whole check), ``PROTOCOL`` (invalid
    target or metadata, no health service, not a gRPC server, any other gRPC error status).

    The host is resolved once through the egress guard and each allowed address is tried in
    turn with a fresh channel to that literal IP; ``:authority``, SNI and certificate checks
    use the name. Verified TLS uses grpc's own TLS and CA bundle; ``verify_tls=False`` is
    served by ``_unverified_tls`` because grpcio cannot skip verification.
    Phases: ``dns_ms``; ``connect_ms`` until the channel is ready (TCP + TLS + HTTP/2 set-up,
    which grpc does not split; with ``verify_tls=False`` TCP and ``tls_ms`` are measured
    apart); ``first_byte_ms`` from the start of the check to the response.
    """
    opts = spec.grpc
    try:
        host, port = parse_host_port(spec.target)
    except ValueError:
        return rejected(f"invalid target {spec.target!r}: expected host:port")
    metadata = tuple((key.lower(), value) for key, value in opts.metadata.items())
    for key, value in metadata:
        if not (_METADATA_KEY.fullmatch(key) and _METADATA_VALUE.fullmatch(value)):
            return rejected(f"invalid gRPC metadata {key!r}: lower-case ASCII name and value")
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    options: list[tuple[str, str | int]] = [
        ("grpc.default_authority", authority),
        ("grpc.primary_user_agent", USER_AGENT),
        ("grpc.enable_http_proxy", 0),  # connect to the checked address, never a proxy
        ("grpc.use_local_subchannel_pool", 1),  # a fresh connection, not another channel's
        ("grpc.enable_retries", 0),
        ("grpc.max_receive_message_length", 64 * 1024),
    ]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + spec.timeout_s
    started = perf_counter()
    with recording() as recorder:
        try:
            async with AsyncExitStack() as stack, asyncio.timeout_at(deadline):
                infos = await resolve_target(host, port, recorder, ctx.egress)
                recorder.stage = "connecting"
                if opts.tls and not opts.verify_tls:
                    target = await _unverified_tls(infos, host, spec.timeout_s, recorder, stack)
                    channel = grpc.aio.insecure_channel(target, options=options)
                    stack.push_async_callback(channel.close)
                    await _ready(channel)
                else:
                    if opts.tls:
                        options.append(("grpc.ssl_target_name_override", host))
                    channel = await _connect(infos, port, options, opts.tls, recorder, stack)
                recorder.stage = "waiting for the response"
                stub = health_pb2_grpc.HealthStub(channel)
                response = await stub.Check(
                    health_pb2.HealthCheckRequest(service=opts.service),
                    metadata=metadata,
                    timeout=deadline - loop.time() + _GRPC_DEADLINE_SLACK_S,
                )
                status = _status_name(response.status)
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                return _failed(recorder, started, *_rpc_error(exc, spec, recorder))
            status = SERVICE_UNKNOWN
        except _HandshakeReset:
            message = "TLS handshake failed: the server closed the connection"
            return _failed(recorder, started, ErrorClass.TLS, message)
        except Exception as exc:
            return failure(exc, timeout_s=spec.timeout_s, started=started, recorder=recorder)
        recorder.first_byte_ms = elapsed_ms(started)
        return Observation(
            connected=True,
            latency_ms=recorder.first_byte_ms,
            phases=recorder.phases(),
            body=json.dumps({"status": status}, separators=(",", ":")).encode(),
            ip=recorder.ip,
            grpc_status=status,
        )


def _status_name(status: int) -> str:
    try:
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(status))
    except ValueError:  # a status number newer than our copy of health.proto
        return str(status)


async def _ready(channel: grpc.aio.Channel) -> bool:
    """Connect the channel; True once it is READY, False once connecting has failed."""
    state = channel.get_state(try_to_connect=True)
    while state not in _SETTLED:
        await channel.wait_for_state_change(state)
        state = channel.get_state()
    return bool(state == grpc.ChannelConnectivity.READY)


async def _connect(
    infos: Sequence[AddrInfoType],
    port: int,
    options: list[tuple[str, str | int]],
    tls: bool,
    recorder: PhaseRecorder,
    stack: AsyncExitStack,
) -> grpc.aio.Channel:
    """A channel to the first address that becomes ready, else to the last one tried (its RPC
    then fails at once with the connection error). One channel per address: grpc.aio cannot
    tell which address of a multi-address channel answered, and ``ip`` must be true."""
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    channel: grpc.aio.Channel | None = None
    for ip in addresses:
        target = f"ipv6:[{ip}]:{port}" if ":" in ip else f"ipv4:{ip}:{port}"
        began = perf_counter()
        if tls:
            channel = grpc.aio.secure_channel(target, grpc.ssl_channel_credentials(), options)
        else:
            channel = grpc.aio.insecure_channel(target, options=options)
        stack.push_async_callback(channel.close)
        if await _ready(channel):
            recorder.connect_ms = elapsed_ms(began)
            recorder.connected = True
            recorder.ip = ip
            break
    assert channel is not None  # the egress guard returns at least one address or raises
    return channel


@functools.cache
def _unverified_h2_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    return context


async def _unverified_tls(
    infos: Sequence[AddrInfoType],
    host: str,
    timeout_s: float,
    recorder: PhaseRecorder,
    stack: AsyncExitStack,
) -> str:
    """Open TCP (happy eyeballs over ``infos``) and TLS without verifying the certificate, then
    relay one loopback plaintext connection into that session; return its grpc target.

    grpcio has no switch to skip certificate verification, so the check does its own TLS and
    grpc speaks plaintext HTTP/2 over 127.0.0.1 into it. The listener takes one connection.
    """
    # TLS in the connect call itself: a later upgrade could miss bytes the server sent first.
    try:
        up_reader, up_writer = await open_stream(
            infos, recorder, tls=_unverified_h2_context(), host=host, timeout_s=timeout_s
        )
    except BaseException as exc:
        in_handshake = recorder.connected  # TCP was up: the TLS handshake failed
        recorder.connected = False  # as for verified TLS: connected once TLS is up
        if in_handshake and isinstance(exc, ConnectionError):  # uvloop's reset mid-handshake
            raise _HandshakeReset from exc
        raise
    stack.callback(close_stream, up_writer)
    recorder.stage = "connecting"
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stack.callback(listener.close)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    relay = asyncio.create_task(_relay(listener, up_reader, up_writer))
    stack.push_async_callback(_stop, relay)
    return f"ipv4:127.0.0.1:{listener.getsockname()[1]}"


async def _relay(
    listener: socket.socket, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
) -> None:
    conn, _ = await asyncio.get_running_loop().sock_accept(listener)
    listener.close()
    try:
        reader, writer = await asyncio.open_connection(sock=conn)
    except BaseException:
        conn.close()
        raise
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(_pipe(reader, up_writer))
            group.create_task(_pipe(up_reader, writer))
    finally:
        writer.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved: a relay reset by either side is not worth a log line


class _HandshakeReset(Exception):
    """The server closed the connection during the TLS handshake."""


def _failed(
    recorder: PhaseRecorder, started: float, error_class: ErrorClass, message: str
) -> Observation:
    return Observation(
        connected=recorder.connected,
        latency_ms=elapsed_ms(started),
        phases=recorder.phases(),
        ip=recorder.ip,
        error_class=error_class,
        error_message=message if len(message) <= 200 else message[:199] + "…",
    )


def _rpc_error(
    exc: grpc.aio.AioRpcError, spec: CheckSpec, recorder: PhaseRecorder
) -> tuple[ErrorClass, str]:
    """Classify an RPC that ended with a gRPC error status (other than NOT_FOUND). When the
    channel never became ready, grpc core's text says why, e.g. "failed to connect to all
    addresses; last error: UNKNOWN: ipv4:10.0.0.1:443: Failed to connect to remote host:
    Connection refused"."""
    code, details = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return (
            ErrorClass.TIMEOUT,
            f"timed out after {float(spec.timeout_s)} s while {recorder.stage}",
        )
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return ErrorClass.PROTOCOL, "the server has no gRPC health service (grpc.health.v1.Health)"
    if recorder.connected:
        return ErrorClass.PROTOCOL, f"gRPC error {code.name}: {details}"
    reason = details.rpartition("last error: ")[2]
    if "Trying to connect an http1.x server" in reason:
        return ErrorClass.PROTOCOL, "not a gRPC server: it answered with HTTP/1.x"
    if "Hostname Verification Check failed" in reason:
        return ErrorClass.TLS, f"certificate verify failed: it does not name {spec.target}"
    openssl = _OPENSSL.search(reason)
    if openssl is not None:
        code, text = openssl.group(1), (openssl.group(2) or "").strip()
        if code == "CERTIFICATE_VERIFY_FAILED":
            return ErrorClass.TLS, f"certificate verify failed: {text or 'untrusted'}"
        return ErrorClass.TLS, "TLS handshake failed: " + code.replace("_", " ").lower()
    if "handshake" in reason.lower():
        return ErrorClass.TLS, f"TLS handshake failed: {reason}"
    if "Socket closed" in reason:
        return ErrorClass.PROTOCOL, "the server closed the connection before gRPC could start"
    connect = _CONNECT.search(reason)
    if connect is not None:
        text = connect.group(1).strip()
        return ErrorClass.CONNECT, text[:1].lower() + text[1:]
    return ErrorClass.CONNECT, reason or "connection failed"
