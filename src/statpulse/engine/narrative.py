"""Customer-ready draft incident text from the evidence of an outage (pure, no I/O).

``draft(evidence)`` returns a ``Draft(title, body, impact)`` written from built-in templates, one
per failure kind (``classify``). It never raises, the title is never empty and never longer than
``TITLE_MAX`` characters.

What reaches the customer: the component names, the region names and counts, the start time
(``HH:MM UTC``), the HTTP status code (100-599 only) and the template's English. The technical
message and the failed condition text only choose the template (``certificate expired`` makes
a TLS failure an expired certificate, ``refused`` a refused connection, ``[STATUS] (503)`` a
server error); they are never copied, so IPs, internal host names, stack traces and exception
text cannot leak.

Impact rule (``impact_of``), on ``affected`` of ``total`` regions (total is at least the number
affected; zero known regions counts as all):

- degraded performance: ``minor`` whatever the spread (the service still answers);
- every region failing: ``critical`` when the evidence is flagged critical, else ``major``;
- half or more failing: ``major``; fewer than half: ``minor``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from statpulse.model import ErrorClass

TITLE_MAX = 120
MAX_LISTED_REGIONS = 6
UPDATE_WITHIN_MINUTES = 30


@dataclass(frozen=True)
class Evidence:
    """What is known about an outage. ``message`` and ``failed_condition`` are technical and
    internal: they refine the classification and are never shown to customers."""

    components: tuple[str, ...]
    affected_regions: tuple[str, ...]
    total_regions: int
    error_class: ErrorClass | None
    started_at: datetime  # UTC; a naive datetime is read as UTC
    status_code: int | None = None
    message: str = ""
    failed_condition: str | None = None
    degraded: bool = False  # healthy but slow (latency conditions failed)
    critical: bool = False  # the operator marks these components as critical


@dataclass(frozen=True)
class Draft:
    title: str
    body: str
    impact: str  # "minor" | "major" | "critical"


class Kind(StrEnum):
    """The failure as a customer would describe it; picks the template."""

    DNS = "dns"
    TLS_EXPIRED = "tls_expired"
    TLS = "tls"
    TIMEOUT = "timeout"
    HTTP_5XX = "http_5xx"
    HTTP_4XX = "http_4xx"
    REFUSED = "refused"
    CONNECT = "connect"
    PROTOCOL = "protocol"
    ASSERTION = "assertion"
    DEGRADED = "degraded"
    UNKNOWN = "unknown"


# title (with {names} and {code}), what is wrong (with {subject}, {has}, {its} and {code}), and
# what customers may notice.
_TEMPLATES: dict[Kind, tuple[str, str, str]] = {
    Kind.DNS: (
        "{names} unreachable: domain name not resolving",
        "{subject} cannot be reached because {its} domain name is not resolving.",
        "Customers may be unable to connect.",
    ),
    Kind.TLS_EXPIRED: (
        "{names} unreachable: expired security certificate",
        "{subject} cannot be reached securely because a security certificate has expired.",
        "Browsers and applications may refuse to connect.",
    ),
    Kind.TLS: (
        "{names} unreachable: secure connection failures",
        "{subject} cannot be reached because secure (TLS) connections are failing.",
        "Browsers and applications may be unable to connect.",
    ),
    Kind.TIMEOUT: (
        "{names} not responding",
        "{subject} {has} not been responding in time.",
        "Requests may be slow or time out.",
    ),
    Kind.HTTP_5XX: (
        "{names} returning errors{code}",
        "{subject} {has} been returning errors{code}.",
        "Requests may fail.",
    ),
    Kind.HTTP_4XX: (
        "{names} rejecting requests{code}",
        "{subject} {has} been rejecting requests{code}.",
        "Requests may fail.",
    ),
    Kind.REFUSED: (
        "{names} unreachable: connections refused",
        "{subject} cannot be reached because connections are being refused.",
        "Customers may be unable to connect.",
    ),
    Kind.CONNECT: (
        "{names} unreachable",
        "{subject} cannot be reached because connections are failing.",
        "Customers may be unable to connect.",
    ),
    Kind.PROTOCOL: (
        "{names} returning invalid responses",
        "{subject} {has} been returning invalid responses.",
        "Requests may fail.",
    ),
    Kind.ASSERTION: (
        "{names} returning unexpected results",
        "{subject} {has} been responding but not returning the expected results.",
        "Some features may not work as expected.",
    ),
    Kind.DEGRADED: (
        "Degraded performance of {names}",
        "{subject} {has} been experiencing degraded performance.",
        "Some requests may be slower than usual.",
    ),
    Kind.UNKNOWN: (
        "{names} experiencing problems",
        "{subject} {has} been experiencing problems.",
        "Some requests may fail.",
    ),
}

# The runner's description of a failed status condition: "[STATUS] (503) == 200". A bare
# condition ("[STATUS] < 500") names no actual code and is not read.
_STATUS_IN_TEXT = re.compile(r"\[STATUS\]\s*\((\d{3})\)", re.IGNORECASE)
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f<>]+")


def _code(evidence: Evidence) -> int | None:
    """The response's HTTP status: the evidence's, else one named in a ``[STATUS]`` text."""
    if evidence.status_code is not None:
        return evidence.status_code if 100 <= evidence.status_code <= 599 else None
    for text in (evidence.message, evidence.failed_condition or ""):
        if match := _STATUS_IN_TEXT.search(text):
            return int(match.group(1))
    return None


def classify(evidence: Evidence) -> Kind:
    """The template for ``evidence``. ``blocked`` and ``internal`` are the monitor's own
    problems, not the service's, so they read as ``unknown``. A failed condition (or no error
    class) with a 5xx/4xx response is described by the response, which customers see too."""
    ec, code = evidence.error_class, _code(evidence)
    text = f"{evidence.message} {evidence.failed_condition or ''}".lower()
    by_status = (
        Kind.HTTP_5XX if code and code >= 500 else Kind.HTTP_4XX if code and code >= 400 else None
    )
    if ec is ErrorClass.DNS:
        return Kind.DNS
    if ec is ErrorClass.TLS:
        return Kind.TLS_EXPIRED if "expired" in text else Kind.TLS
    if ec is ErrorClass.TIMEOUT:
        return Kind.TIMEOUT
    if ec is ErrorClass.CONNECT:
        return Kind.REFUSED if "refused" in text else Kind.CONNECT
    if ec is ErrorClass.PROTOCOL:
        return Kind.PROTOCOL
    if ec is ErrorClass.HTTP_STATUS:
        return by_status or Kind.ASSERTION
    if ec is ErrorClass.ASSERTION:
        return by_status if by_status is Kind.HTTP_5XX else Kind.ASSERTION
    if ec is None and evidence.degraded:
        return Kind.DEGRADED
    if ec is None and by_status:
        return by_status
    return Kind.UNKNOWN


def impact_of(evidence: Evidence, kind: Kind) -> str:
    """The impact by the rule in the module docstring."""
    if kind is Kind.DEGRADED:
        return "minor"
    affected = len(_regions(evidence))
    total = max(evidence.total_regions, affected)
    if total == 0 or affected == total:
        return "critical" if evidence.critical else "major"
    return "major" if affected * 2 >= total else "minor"


def _clean(text: str) -> str:
    """Operator-supplied names as one safe line: no control characters, no markup brackets."""
    return " ".join(_UNSAFE.sub(" ", text).split())


def _regions(evidence: Evidence) -> list[str]:
    return list(dict.fromkeys(r for r in map(_clean, evidence.affected_regions) if r))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _names(components: list[str], budget: int) -> str:
    """The components for a title, shortened to ``budget`` characters."""
    if not components:
        return "Service"
    full = _join(components)
    if len(full) <= budget:
        return full
    rest = len(components) - 1
    more = f" and {rest} other service{'s' if rest > 1 else ''}" if rest else ""
    first = components[0]
    room = max(budget - len(more), 1)
    if len(first) > room:
        first = first[: max(room - 1, 0)].rstrip() + "…"
    return first + more


def _scope(regions: list[str], total: int) -> str:
    """'This affects 3 of 5 regions: a, b, c.' or 'This affects all regions.'; nothing when
    there is at most one region (naming it tells customers nothing)."""
    total = max(total, len(regions))
    if total <= 1 or not regions:
        return ""
    if len(regions) == total:
        return "This affects all regions."
    listed = regions[:MAX_LISTED_REGIONS]
    if len(regions) > len(listed):
        listed.append(f"{len(regions) - len(listed)} more")
    return f"This affects {len(regions)} of {total} regions: {', '.join(listed)}."


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def draft(evidence: Evidence, *, update_within_minutes: int = UPDATE_WITHIN_MINUTES) -> Draft:
    """The template draft for ``evidence``; see the module docstring. Never raises."""
    kind = classify(evidence)
    title_t, what_t, effect = _TEMPLATES[kind]
    code = _code(evidence) if kind in (Kind.HTTP_5XX, Kind.HTTP_4XX) else None
    code_text = f" (HTTP {code})" if code else ""
    components = list(dict.fromkeys(c for c in map(_clean, evidence.components) if c))
    regions = _regions(evidence)
    total = max(evidence.total_regions, len(regions))
    partial = total > 1 and 0 < len(regions) < total

    suffix = " in some regions" if partial else ""
    shell = title_t.format(names="", code=code_text) + suffix
    title = title_t.format(names=_names(components, TITLE_MAX - len(shell)), code=code_text)
    title = (title[:1].upper() + title[1:] + suffix)[:TITLE_MAX]

    subject = _join(components) if components else "our service"
    has, its = ("have", "their") if len(components) > 1 else ("has", "its")
    since = _utc(evidence.started_at).strftime("%H:%M UTC")
    what = what_t.format(subject=subject, has=has, its=its, code=code_text)
    next_step = (
        f"We are investigating and will post an update within {update_within_minutes} minutes."
    )
    parts = [f"Since {since}, {what}", _scope(regions, total), effect, next_step]
    body = " ".join(p for p in parts if p)
    return Draft(title=title, body=body, impact=impact_of(evidence, kind))
