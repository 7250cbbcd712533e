"""``/api/v1/pages/{page_id}/subscribers``: a page's subscribers, for its owner.

- ``GET``: oldest first, redacted: an e-mail address keeps its first character and its domain,
  a webhook shows its origin only, Slack shows ``slack``, a phone number its first 3 and last 2
  characters; secrets (signing secrets, URLs with tokens, sealed in the subscriber's channel)
  never appear.
- ``DELETE .../{subscriber_id}``: removes the subscriber and its queued messages (204).

Reads need any key, deletes a write key; another organisation's page or subscriber is a 404.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from statpulse.store.sql_subscribers import Subscriber
from statpulse.web.deps import ReadKey, ServicesDep, WriteKey
from statpulse.web.errors import not_found
from statpulse.web.services import Services

router = APIRouter(prefix="/api/v1/pages", tags=["subscribers"])


class SubscriberOut(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="email | webhook | slack | sms")
    address: str = Field(
        description="Redacted: e.g. j***@example.com, https://host, slack, +44********23."
    )
    components: list[uuid.UUID] = Field(description="Followed components; empty: all.")
    confirmed: bool
    confirmed_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, s: Subscriber) -> SubscriberOut:
        return cls(
            id=s.id,
            kind=s.kind,
            address=redact(s.kind, s.address),
            components=list(s.components),
            confirmed=s.confirmed_at is not None,
            confirmed_at=s.confirmed_at,
            created_at=s.created_at,
        )


def redact(kind: str, address: str) -> str:
    if kind == "sms":  # the first 3 and last 2 characters of the number
        return address[:3] + "*" * max(len(address) - 5, 0) + address[-2:]
    if kind != "email":
        return address  # already only an origin (webhook) or "slack"
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


async def _check_page(svc: Services, org_id: uuid.UUID, page_id: uuid.UUID) -> None:
    if not any(p.id == page_id for p in await svc.store.list_pages(org_id)):
        raise not_found("status page")


@router.get("/{page_id}/subscribers", response_model=list[SubscriberOut])
async def list_subscribers(
    page_id: uuid.UUID, key: ReadKey, svc: ServicesDep
) -> list[SubscriberOut]:
    await _check_page(svc, key.org_id, page_id)
    return [SubscriberOut.of(s) for s in await svc.store.list_subscribers(key.org_id, page_id)]


@router.delete("/{page_id}/subscribers/{subscriber_id}", status_code=204)
async def delete_subscriber(
    page_id: uuid.UUID, subscriber_id: uuid.UUID, key: WriteKey, svc: ServicesDep
) -> None:
    await _check_page(svc, key.org_id, page_id)
    sub = await svc.store.get_subscriber(subscriber_id)
    if sub is None or sub.org_id != key.org_id or sub.page_id != page_id:
        raise not_found("subscriber")
    await svc.store.delete_subscriber(key.org_id, subscriber_id)
