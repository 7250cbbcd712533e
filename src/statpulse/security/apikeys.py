"""API keys: ``sp_<prefix>_<secret>``. The prefix finds the row; only a SHA-256 of the whole key
is stored (keys carry 256 bits of randomness, so a slow password hash adds nothing)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

_SCHEME = "sp"


@dataclass(frozen=True, slots=True)
class NewKey:
    token: str  # shown to the user once
    prefix: str
    secret_hash: str


def generate() -> NewKey:
    prefix = secrets.token_hex(6)
    token = f"{_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(token=token, prefix=prefix, secret_hash=hash_token(token))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def prefix_of(token: str) -> str | None:
    """The lookup prefix of a well-formed token, else None."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != _SCHEME or len(parts[1]) != 12 or not parts[2]:
        return None
    return parts[1]


def matches(token: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), secret_hash)
