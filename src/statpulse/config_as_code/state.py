"""What the organisation holds now, as read through the API (``client.read_state``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from statpulse.web.api.schemas import MonitorIn

MONITOR_FIELDS: tuple[str, ...] = tuple(MonitorIn.model_fields)
"""The fields of a monitor that the file holds (``MonitorIn``'s), in their order."""

NESTED: tuple[str, ...] = ("http", "latency", "tcp", "grpc", "dns", "tls")
"""Monitor fields that are objects: compared, exported and patched key by key."""


@dataclass(frozen=True, slots=True)
class CurrentMonitor:
    id: str
    name: str
    fields: dict[str, Any]
    """``MonitorOut`` restricted to ``MONITOR_FIELDS`` (secrets redacted, ``depends_on`` an
    id or None)."""


@dataclass(frozen=True, slots=True)
class CurrentComponent:
    id: str
    name: str
    description: str
    monitor_id: str | None


@dataclass(frozen=True, slots=True)
class CurrentPage:
    id: str
    slug: str
    title: str
    description: str
    components: tuple[CurrentComponent, ...]
    """In display order."""


@dataclass(frozen=True, slots=True)
class Current:
    monitors: tuple[CurrentMonitor, ...]
    pages: tuple[CurrentPage, ...]

    def monitor_names(self) -> dict[str, str]:
        """Monitor id -> name."""
        return {m.id: m.name for m in self.monitors}
