"""The placeholders: their names, the kind of value each stands for, which are about latency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

Kind: TypeAlias = Literal["number", "text", "flag", "list", "body", "headers"]
"""``number`` may be ordered; ``text`` and ``flag`` (``true``/``false``) may not; a ``list``
compares element by element and takes an index (``[0]``); ``body`` takes a JSON path and
``headers`` a header name; what those two hold is known only from the response."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    kind: Kind
    latency: bool = False
    """A timing: a failing condition about timings only makes a check degraded."""


PLACEHOLDERS: dict[str, Placeholder] = {
    "STATUS": Placeholder("number"),
    "RESPONSE_TIME": Placeholder("number", latency=True),
    "DNS_TIME": Placeholder("number", latency=True),
    "CONNECT_TIME": Placeholder("number", latency=True),
    "TLS_TIME": Placeholder("number", latency=True),
    "FIRST_BYTE_TIME": Placeholder("number", latency=True),
    "IP": Placeholder("text"),
    "CONNECTED": Placeholder("flag"),
    "BODY": Placeholder("body"),
    "HEADERS": Placeholder("headers"),
    "HTTP_VERSION": Placeholder("number"),
    "REDIRECTS": Placeholder("number"),
    "CERTIFICATE_EXPIRATION": Placeholder("number"),
    "CERTIFICATE_ISSUER": Placeholder("text"),
    "CERTIFICATE_SUBJECT": Placeholder("text"),
    "CERTIFICATE_SANS": Placeholder("list"),
    "CERTIFICATE_VALID": Placeholder("flag"),
    "TLS_VERSION": Placeholder("text"),
    "DNS_RCODE": Placeholder("text"),
    "DNS_ANSWERS": Placeholder("list"),
    "GRPC_STATUS": Placeholder("text"),
}

ALIASES = {"HEADER": "HEADERS"}
"""Other spellings: Gatus writes ``[HEADER].Content-Type``."""


def canonical(name: str) -> str:
    """The placeholder a name (any case, alias or not) stands for; unknown names unchanged."""
    upper = name.upper()
    return ALIASES.get(upper, upper)
