"""Standard Webhooks 1.0 signatures (https://www.standardwebhooks.com/, spec:
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md).

The signed content is ``f"{msg_id}.{timestamp}."`` + body, HMAC-SHA256 keyed with the
base64-decoded part of a ``whsec_`` secret. Several secrets give several space-separated
signatures so a receiver holding either the old or the new secret accepts during rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Mapping, Sequence

PREFIX = "whsec_"


class SignatureError(ValueError):
    """An inbound webhook whose headers are missing, stale or carry no valid signature."""


def _key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; raises ValueError for another shape."""
    if not secret.startswith(PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        return base64.b64decode(secret[len(PREFIX) :], validate=True)
    except ValueError:
        raise ValueError("a webhook secret is whsec_ followed by base64") from None


def new_secret() -> str:
    """A fresh secret: ``whsec_`` + base64 of 24 random bytes."""
    return PREFIX + base64.b64encode(_secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message under one secret."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per secret."""
    signature = " ".join(sign(s, msg_id, timestamp, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    now: int,
    tolerance: int = 300,
) -> None:
    """Accept an inbound message signed by any of ``secrets`` within ``tolerance`` seconds of
    ``now``; raises SignatureError otherwise. Header names are matched case-insensitively."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    stamp = lower.get("webhook-timestamp")
    given = lower.get("webhook-signature")
    if not msg_id or not stamp or not given:
        raise SignatureError("missing webhook headers")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError("invalid webhook-timestamp") from None
    if abs(now - timestamp) > tolerance:
        raise SignatureError("webhook-timestamp outside the tolerance")
    candidates = [part for part in given.split(" ") if part.startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, timestamp, body)
        # Compare every candidate (no early exit per byte) in constant time.
        if any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates):
            return
    raise SignatureError("no matching signature")
