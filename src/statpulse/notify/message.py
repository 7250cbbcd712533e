"""The one shape every channel delivers: a rendered notification about one event."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from statpulse.i18n import DEFAULT_LANGUAGE, translate

EVENTS: frozenset[str] = frozenset(
    {
        "incident.opened",
        "incident.updated",
        "incident.resolved",
        "monitor.down",
        "monitor.degraded",
        "monitor.up",
        "monitor.flapping",
        "maintenance.started",
        "maintenance.ended",
        "region.unhealthy",
        "test",
    }
)
SEVERITIES: tuple[str, ...] = ("none", "minor", "major", "critical")


@dataclass(frozen=True, slots=True)
class Message:
    """A notification. ``id`` is the idempotency key: the same across retries of one message,
    so receivers (webhook-id, Twilio, e-mail Message-ID) can drop duplicates."""

    id: str
    event: str
    title: str
    text: str
    occurred_at: datetime
    severity: str = "major"
    status: str = ""
    url: str | None = None
    incident_id: str | None = None
    monitor_id: str | None = None
    monitor_name: str | None = None
    components: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    org: str = ""
    lang: str = DEFAULT_LANGUAGE  # of the words a channel adds ("Open"): the reader's

    @property
    def link_label(self) -> str:
        """The text of the link to ``url`` that a channel adds, in the reader's language."""
        return translate(self.lang, "Open")

    @property
    def occurred_at_iso(self) -> str:
        """``occurred_at`` as ISO 8601 with an explicit UTC offset."""
        return self.occurred_at.isoformat()

    def payload(self) -> dict[str, Any]:
        """The JSON body of a generic webhook: ``{"type", "id", "timestamp", "data"}``,
        with ``data`` holding every field (datetimes as ISO 8601, tuples as lists)."""
        data = asdict(self)
        data["occurred_at"] = self.occurred_at_iso
        data["components"] = list(self.components)
        data["regions"] = list(self.regions)
        return {"type": self.event, "id": self.id, "timestamp": self.occurred_at_iso, "data": data}
