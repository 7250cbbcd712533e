"""The one place where library exceptions raised while probing become an ``ErrorClass`` and a
short human message, and the failed ``Observation`` built from them."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from collections.abc import Mapping

import aiohttp

from statpulse.model import ErrorClass, Observation
from statpulse.probes.body import BodyError
from statpulse.probes.timing import PhaseRecorder, elapsed_ms
from statpulse.security.egress import EgressDenied

log = logging.getLogger(__name__)


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _sentence(text: str) -> str:
    return text[:1].lower() + text[1:]


# uvloop raises some of these without errno or text.
_KNOWN_EMPTY: dict[type[BaseException], str] = {
    ConnectionResetError: "connection reset by peer",
    ConnectionRefusedError: "connection refused",
    ConnectionAbortedError: "connection aborted",
    BrokenPipeError: "broken pipe",
}


def _os_reason(err: BaseException) -> str:
    """'connection refused' rather than "[Errno 111] Connect call failed ('127.0.0.1', 9)"."""
    errno = getattr(err, "errno", None)
    if isinstance(errno, int) and errno > 0:
        return _sentence(os.strerror(errno))
    strerror = getattr(err, "strerror", None)
    text = str(strerror or err) or _KNOWN_EMPTY.get(type(err), type(err).__name__)
    return _sentence(text)


def translate_error(exc: Exception, timeout_s: float, stage: str) -> tuple[ErrorClass, str]:
    """Map an exception raised while probing to an error class and a short human message.

    ``stage`` says what the check was doing, for timeout messages. Unknown exceptions map to
    ``ErrorClass.INTERNAL`` with the exception type in the message. Never raises.
    """
    if isinstance(exc, EgressDenied):
        return ErrorClass.BLOCKED, _short(f"blocked by the egress policy: {exc}")
    if isinstance(exc, BodyError):
        return ErrorClass.PROTOCOL, _short(f"invalid response body: {exc}")
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return ErrorClass.TIMEOUT, f"timed out after {float(timeout_s)} s while {stage}"

    cause: BaseException = exc
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cause = exc.certificate_error
    elif isinstance(exc, aiohttp.ClientConnectorError):
        cause = exc.os_error

    if isinstance(cause, ssl.SSLCertVerificationError):
        reason = (
            getattr(cause, "verify_message", None) or getattr(cause, "reason", None) or str(cause)
        )
        return ErrorClass.TLS, _short(f"certificate verify failed: {reason}")
    if isinstance(cause, ssl.CertificateError):
        return ErrorClass.TLS, _short(f"certificate verify failed: {cause}")
    if isinstance(cause, ssl.SSLError):
        reason = (getattr(cause, "reason", None) or "").replace("_", " ").lower() or str(cause)
        return ErrorClass.TLS, _short(f"TLS handshake failed: {reason}")
    if isinstance(exc, aiohttp.ServerFingerprintMismatch):
        return ErrorClass.TLS, "certificate fingerprint mismatch"

    if isinstance(exc, aiohttp.ClientConnectorDNSError) or isinstance(cause, socket.gaierror):
        reason = _sentence(str(getattr(cause, "strerror", None) or cause))
        host = exc.host if isinstance(exc, aiohttp.ClientConnectorError) else None
        where = f" for {host}" if host else ""
        return ErrorClass.DNS, _short(f"DNS lookup failed{where}: {reason}")

    if isinstance(exc, aiohttp.TooManyRedirects):
        return ErrorClass.PROTOCOL, "too many redirects"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return ErrorClass.PROTOCOL, _short(f"redirect to a non-HTTP URL: {exc}")
    if isinstance(exc, aiohttp.InvalidUrlRedirectClientError):
        return ErrorClass.PROTOCOL, _short(f"redirect to an invalid URL: {exc}")
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return ErrorClass.PROTOCOL, _short(f"not an http(s) URL: {exc}")
    if isinstance(exc, aiohttp.InvalidURL):
        return ErrorClass.PROTOCOL, _short(f"invalid URL: {exc}")

    if isinstance(exc, aiohttp.ClientConnectorError):
        return ErrorClass.CONNECT, _short(_os_reason(cause))
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return ErrorClass.PROTOCOL, "server closed the connection without a response"
    if isinstance(exc, aiohttp.ClientResponseError):
        return ErrorClass.PROTOCOL, _short(f"invalid HTTP response: {exc.message}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return ErrorClass.PROTOCOL, _short(f"invalid response body: {exc}")
    if isinstance(exc, OSError):  # includes aiohttp.ClientOSError, e.g. reset mid-response
        return ErrorClass.CONNECT, _short(_os_reason(exc))
    if isinstance(exc, aiohttp.ClientError):
        return ErrorClass.PROTOCOL, _short(str(exc) or type(exc).__name__)

    log.warning("unexpected exception in probe", exc_info=exc)
    return ErrorClass.INTERNAL, _short(f"{type(exc).__name__}: {exc}")


def failure(
    exc: Exception,
    *,
    timeout_s: float,
    started: float,
    recorder: PhaseRecorder,
    status_code: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> Observation:
    """The Observation of a check that failed with ``exc``, keeping whatever it measured."""
    error_class, message = translate_error(exc, timeout_s, recorder.stage)
    return Observation(
        connected=recorder.connected,
        latency_ms=elapsed_ms(started),
        phases=recorder.phases(),
        status_code=status_code,
        headers=headers if headers is not None else {},
        ip=recorder.ip,
        error_class=error_class,
        error_message=message,
    )
