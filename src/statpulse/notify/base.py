"""What every channel shares: the Notifier protocol, delivery outcomes, and one HTTP sender
that owns timeouts, the response cap, the egress guard and HTTP error classification.

Classification (the dispatcher retries on ``permanent=False`` only): 2xx delivered; 429 and 5xx
transient with ``retry_after`` from ``Retry-After``; every other status permanent (redirects are
not followed: a webhook that moved must be edited); timeouts and connection errors transient;
an address the egress policy denies permanent. Error messages name the host, never the URL
(Slack, Discord, Teams and Telegram URLs carry tokens), and quote at most 200 characters of the
provider's answer with URL parts, header values and the channel's secrets redacted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Protocol

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from statpulse.notify.message import Message
from statpulse.security.egress import EgressDenied, EgressPolicy

DEFAULT_TIMEOUT = 10.0
MAX_READ = 64 * 1024
USER_AGENT = "StatPulse-Notify/1"
Headers = Mapping[str, str]
# Reads a hint from a provider's error body (e.g. Discord's JSON retry_after), or None.
RetryHint = Callable[[bytes], float | None]
# Extracts the provider's id (message sid, dedup key ...) from a 2xx body.
DetailOf = Callable[[bytes], str]


class DeliveryError(Exception):
    """A send that failed. Retry later when ``permanent`` is False (after ``retry_after``
    seconds when the provider said so); ``status`` is the HTTP/SMTP code when there was one."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after
        self.status = status


class ConfigError(ValueError):
    """A channel config the channel cannot use; ``field`` names it, e.g. ``config.url``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Delivered:
    """An accepted send: the provider's status and, when it gave one, its message id."""

    status: int | None
    detail: str = ""


class Notifier(Protocol):
    """One channel kind. ``validate`` returns the normalised config or raises ConfigError;
    ``secret_fields`` names the config keys to encrypt at rest and redact in responses;
    ``send`` returns Delivered or raises DeliveryError."""

    kind: str

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]: ...

    def secret_fields(self) -> tuple[str, ...]: ...

    async def send(
        self, message: Message, config: Mapping[str, Any], http: HttpSender
    ) -> Delivered: ...


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP-date,
    RFC 9110 §10.2.3); None when absent or unreadable. Never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class GuardedResolver(AbstractResolver):
    """Resolves through an EgressPolicy, so aiohttp only ever connects to allowed addresses
    (the addresses checked are the ones connected to: no second lookup to rebind)."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._policy.resolve(host, port, family=family)
        flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        return [
            ResolveResult(
                hostname=host,
                host=str(info[4][0]),
                port=int(info[4][1]),
                family=info[0],
                proto=info[2],
                flags=flags,
            )
            for info in infos
        ]

    async def close(self) -> None:
        return None


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(8192):
        chunks.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(chunks)[:limit]


class HttpSender:
    """One aiohttp session for every channel. Use as ``async with HttpSender(...) as http``.

    ``timeout`` bounds each request end to end; at most ``max_read`` bytes of a response are
    read; with an enabled ``egress`` policy every connection goes through it.
    """

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_read: int = MAX_READ,
        egress: EgressPolicy | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_read = max_read
        self.egress = egress if egress is not None and egress.enabled else None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpSender:
        resolver = GuardedResolver(self.egress) if self.egress else None
        connector = aiohttp.TCPConnector(resolver=resolver)
        self._session = aiohttp.ClientSession(
            connector=connector, headers={"User-Agent": USER_AGENT}
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def post_json(
        self,
        url: str,
        body: Any,
        *,
        headers: Headers | None = None,
        detail: DetailOf | None = None,
        retry_hint: RetryHint | None = None,
        redact: Sequence[str] = (),
    ) -> Delivered:
        """POST ``body`` as JSON; see the module docstring for the outcome."""
        return await self.request(
            "POST",
            url,
            json=body,
            headers=headers,
            detail=detail,
            retry_hint=retry_hint,
            redact=redact,
        )

    async def post_form(
        self,
        url: str,
        form: Mapping[str, str] | list[tuple[str, str]],
        *,
        headers: Headers | None = None,
        detail: DetailOf | None = None,
        redact: Sequence[str] = (),
    ) -> Delivered:
        """POST an url-encoded form; see the module docstring for the outcome."""
        return await self.request(
            "POST", url, data=form, headers=headers, detail=detail, redact=redact
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        data: Any = None,
        headers: Headers | None = None,
        detail: DetailOf | None = None,
        retry_hint: RetryHint | None = None,
        redact: Sequence[str] = (),
    ) -> Delivered:
        """Send one request and classify the answer: Delivered or DeliveryError. ``redact``
        lists the channel's secrets, removed from any provider text quoted in an error."""
        if self._session is None:
            raise RuntimeError("HttpSender used outside 'async with'")
        target = URL(url)
        host = target.host or "?"
        try:
            self._check_literal(host)
            async with self._session.request(
                method,
                target,
                json=json,
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                body = await _read_capped(response, self.max_read)
                status = response.status
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), datetime.now(UTC)
                )
        except EgressDenied as exc:
            raise DeliveryError(f"egress denied: {exc}", permanent=True) from None
        except TimeoutError:
            raise DeliveryError(
                f"timed out after {self.timeout:g}s to {host}", permanent=False
            ) from None
        except aiohttp.InvalidURL:
            raise DeliveryError(f"invalid URL for {host}", permanent=True) from None
        except aiohttp.ClientError as exc:
            # aiohttp's own messages can quote the URL (and so a token): name the type only.
            raise DeliveryError(
                f"{type(exc).__name__} connecting to {host}", permanent=False
            ) from None
        if 200 <= status < 300:
            return Delivered(status, detail(body) if detail else "")
        transient = status == 429 or status >= 500
        if transient and retry_after is None and retry_hint is not None:
            retry_after = retry_hint(body)
        raise DeliveryError(
            f"HTTP {status} from {host}: {_snippet(body, _sensitive(target, headers, redact))}",
            permanent=not transient,
            retry_after=retry_after if transient else None,
            status=status,
        )

    def _check_literal(self, host: str) -> None:
        # aiohttp skips the resolver for IP literals, so check those here.
        if self.egress is None:
            return
        try:
            address = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return
        self.egress.check(host, address)


def _sensitive(url: URL, headers: Headers | None, extra: Sequence[str]) -> list[str]:
    """Strings a provider might echo that could be credentials: URL path segments, query
    values, user info, header values and their words. Longest first, so parts of a token
    cannot survive the replacement of a shorter one."""
    found = [*extra, *(seg for seg in url.path.split("/") if len(seg) >= 6)]
    found += [v for v in url.query.values() if len(v) >= 4]
    found += [v for v in (url.user, url.password) if v]
    for value in (headers or {}).values():
        found += [value, *value.split()]
    return sorted({f for f in found if len(f) >= 4}, key=len, reverse=True)


def _snippet(body: bytes, sensitive: list[str], limit: int = 200) -> str:
    """The start of a provider's error body for the UI, one line, credentials removed."""
    text = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
    for secret in sensitive:
        text = text.replace(secret, "[redacted]")
    return text[:limit] or "(empty body)"
