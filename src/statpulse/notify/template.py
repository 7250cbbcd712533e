"""User message templates that cannot run code.

The only syntax is ``{{ name }}`` with ``name`` from ``FIELDS``. Rendering is one regex pass of
plain string substitution (never a template engine), so a substituted value that itself looks
like ``{{ x }}`` is not expanded again, and nothing in a template can reach Python objects.
"""

from __future__ import annotations

import re
from dataclasses import fields

from statpulse.notify.base import ConfigError
from statpulse.notify.message import Message

FIELDS: frozenset[str] = frozenset({f.name for f in fields(Message)} | {"occurred_at_iso"})
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Anything that opens template syntax after the allowed placeholders are removed.
_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
FIELD = "config.template"


def validate_template(text: str) -> str:
    """``text`` unchanged when it only holds ``{{ field }}`` placeholders of allowed names;
    raises ConfigError(field="config.template") for anything else (attribute access,
    indexing, filters, calls, blocks, comments, unknown names)."""
    for match in PLACEHOLDER.finditer(text):
        if match.group(1) not in FIELDS:
            raise ConfigError(FIELD, f"unknown field {match.group(1)!r}")
    if _SYNTAX.search(PLACEHOLDER.sub("", text)):
        raise ConfigError(FIELD, "only {{ field }} placeholders are allowed")
    return text


def _value(message: Message, name: str) -> str:
    value = getattr(message, name)
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


def render(template: str, message: Message) -> str:
    """``template`` with each allowed placeholder replaced by the message's value (None as
    "", tuples joined by ", "). Never raises for a template that passed validate_template."""
    return PLACEHOLDER.sub(
        lambda m: _value(message, m.group(1)) if m.group(1) in FIELDS else m.group(0), template
    )
