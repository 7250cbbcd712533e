"""Subscriber news: published incidents and maintenance queued for a page's subscribers.

``notify_subscribers`` is called after an incident is published, gets a public update or is
resolved (the incidents API and the auto-publishing job); ``notify_maintenance`` when a
maintenance window starts or ends (the incident jobs). Each queues one outbox row per
*confirmed* subscriber whose components match, through the subscriber's hidden channel, with
the subscriber's own unsubscribe link in the text. The group key names the incident, the event
and the timeline entry (or the maintenance occurrence), so a replay or a second process queues
nothing more. Drafts are never sent.

SMS subscribers get each message shortened to one plain SMS (``subscriber_sms.for_sms``).

Matching: a subscriber follows its components, or every component of its page when it chose
none; an incident or a window without components concerns everyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from statpulse.engine.subscriber_sms import for_sms
from statpulse.notify.dispatcher import message_doc
from statpulse.notify.message import Message
from statpulse.store.contract import Store
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import Maintenance
from statpulse.store.sql_subscribers import SUBSCRIBER_EVENT, Subscriber

INCIDENT_EVENTS = ("incident.opened", "incident.updated", "incident.resolved")
_LABELS = {
    "incident.opened": "New incident",
    "incident.updated": "Incident update",
    "incident.resolved": "Resolved",
}


def with_unsubscribe(text: str, subscriber: Subscriber) -> str:
    """``text`` with the subscriber's unsubscribe link (every subscriber message carries it)."""
    return f"{text}\n\nUnsubscribe: {subscriber.unsubscribe_url}"


async def _followers(
    store: Store, org_id: uuid.UUID, components: Sequence[uuid.UUID]
) -> list[Subscriber]:
    """The organisation's confirmed subscribers following any of ``components``."""
    wanted = set(components)
    page_components: dict[uuid.UUID, set[uuid.UUID]] = {}
    found = []
    for sub in await store.list_subscribers(org_id, confirmed=True):
        follows = set(sub.components)
        if not follows:
            if sub.page_id not in page_components:
                pairs = await store.page_components(sub.page_id)
                page_components[sub.page_id] = {c.id for c, _ in pairs}
            follows = page_components[sub.page_id]
        if not wanted or follows & wanted:
            found.append(sub)
    return found


async def notify_subscribers(store: Store, incident: Incident, event: str, at: datetime) -> int:
    """Queue ``event`` (``incident.opened|updated|resolved``) about a published incident for
    its subscribers; returns the rows added (0 for a draft, or when queued before)."""
    if event not in INCIDENT_EVENTS:
        raise ValueError(f"not an incident event: {event!r}")
    if incident.published_at is None:
        return 0
    last = incident.updates[-1] if incident.updates else None
    update_id = last["id"] if last else "none"
    body = str(last["body"]) if last else incident.title
    # Opening is announced once, whatever the timeline holds when it is (re)published.
    key = f"sub:{incident.id}:{event}" + ("" if event == "incident.opened" else f":{update_id}")
    queued = 0
    detail = f"{incident.status.capitalize()}: {body}"
    for sub in await _followers(store, incident.org_id, incident.components):
        message = Message(
            id="",
            event=event,
            title=f"{_LABELS[event]}: {incident.title}",
            text=with_unsubscribe(detail, sub),
            occurred_at=at,
            severity=incident.impact,
            status=incident.status,
            url=f"{sub.page_url}/incidents/{incident.id}",
            incident_id=str(incident.id),
        )
        if sub.kind == "sms":
            message = for_sms(message, sub, detail)
        queued += await store.enqueue(
            incident.org_id, SUBSCRIBER_EVENT, key, message_doc(message), at, [sub.channel_id]
        )
    return queued


async def notify_maintenance(
    store: Store, maintenance: Maintenance, message: Message, group_key: str, at: datetime
) -> int:
    """Queue the ``maintenance.started|ended`` ``message`` (as sent to the organisation's
    channels under ``group_key``) for the subscribers of the window's components."""
    queued = 0
    for sub in await _followers(store, maintenance.org_id, maintenance.components):
        own = Message(
            id="",
            event=message.event,
            title=message.title,
            text=with_unsubscribe(message.text, sub),
            occurred_at=message.occurred_at,
            severity=message.severity,
            status=message.status,
            url=sub.page_url,
        )
        if sub.kind == "sms":
            own = for_sms(own, sub, message.text)
        queued += await store.enqueue(
            maintenance.org_id,
            SUBSCRIBER_EVENT,
            f"sub:{group_key}",
            message_doc(own),
            at,
            [sub.channel_id],
        )
    return queued
