"""Config checks shared by the channels. Each raises ConfigError naming ``config.<key>``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from statpulse.notify.base import ConfigError, DetailOf
from statpulse.notify.message import Message
from statpulse.notify.template import render, validate_template


def text(config: Mapping[str, Any], key: str, default: str | None = None) -> str:
    """A non-empty string; ``default`` when given and the key is absent."""
    value = config.get(key, default)
    if value is None:
        raise ConfigError(f"config.{key}", "is required")
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"config.{key}", "must be a non-empty string")
    return value.strip()


def url(config: Mapping[str, Any], key: str, default: str | None = None) -> str:
    """An absolute http(s) URL. The message never echoes the value (it may hold a token)."""
    value = text(config, key, default)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"config.{key}", "must be an http:// or https:// URL")
    return value.rstrip("/") if key.endswith("base_url") else value


def text_list(config: Mapping[str, Any], key: str) -> list[str]:
    """A non-empty list of non-empty strings (one string is taken as a list of one)."""
    value = config.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ConfigError(f"config.{key}", "must be a non-empty list")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"config.{key}", "must hold non-empty strings")
    return [v.strip() for v in value]


def flag(config: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"config.{key}", "must be true or false")
    return value


def template(config: Mapping[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """Copies an optional, validated ``template`` into ``out``; returns ``out``."""
    if config.get("template") is not None:
        value = config["template"]
        if not isinstance(value, str):
            raise ConfigError("config.template", "must be a string")
        out["template"] = validate_template(value)
    return out


def body_text(message: Message, config: Mapping[str, Any]) -> str:
    """The message text, through the channel's template when it has one."""
    custom = config.get("template")
    return render(custom, message) if isinstance(custom, str) else message.text


def json_field(name: str) -> DetailOf:
    """A DetailOf reading ``name`` from a JSON object body ("" when it is not there)."""

    def read(body: bytes) -> str:
        try:
            value = json.loads(body)
        except ValueError:
            return ""
        found = value.get(name) if isinstance(value, dict) else None
        return str(found) if found is not None else ""

    return read
