"""A bound on checks in flight per target host, so many monitors of one service (or one
tenant pointing thousands of monitors at a victim) never open more than ``per_host``
connections to it at once. Waiting for a slot is bounded by the check's own deadline."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from statpulse.model import CheckSpec


def host_key(spec: CheckSpec) -> str:
    """The host a check connects to: the URL's host, host of host:port, or the DNS resolver."""
    return _host_key(spec.kind, spec.target, spec.dns.resolver)


@functools.lru_cache(maxsize=65536)  # called for every check; targets rarely change
def _host_key(kind: str, target: str, resolver: str | None) -> str:
    if kind == "dns":
        return (resolver or "system-resolver").lower()
    if "://" in target:
        return (urlsplit(target).hostname or target).lower()
    host, _, _ = target.rpartition(":")
    return (host or target).strip("[]").lower()


class HostLimits:
    def __init__(self, per_host: int) -> None:
        if per_host < 1:
            raise ValueError("per_host must be at least 1")
        self.per_host = per_host
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @contextlib.asynccontextmanager
    async def slot(self, spec: CheckSpec) -> AsyncIterator[None]:
        """Hold one of the host's slots for the duration of the block. Semaphores of idle
        hosts are dropped, so memory follows the hosts in flight, not all hosts ever seen."""
        key = host_key(spec)
        semaphore = self._slots.get(key)
        if semaphore is None:
            semaphore = self._slots[key] = asyncio.Semaphore(self.per_host)
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with semaphore:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                del self._slots[key]
