"""Subscriber news: published incidents and maintenance queued for a page's subscribers.

``notify_subscribers`` is called after an incident is published, gets a public update or is
resolved (the incidents API and the auto-publishing job); ``notify_maintenance`` when a
maintenance window starts or ends (the incident jobs). Each queues one outbox row per
*confirmed* subscriber whose components match, through the subscriber's hidden channel, with
the subscriber's own unsubscribe link in the text. The group key names the incident, the event
and the timeline entry (or the maintenance occurrence), so a replay or a second process queues
nothing more. Drafts are never sent.

SMS subscribers get each message shortened to one plain SMS (``subscriber_sms.for_sms``).

Language: a subscriber reads its page's language (the page appearance's ``language``, read
once per page per call): the labels ("New incident", the update's status, "Unsubscribe", the
maintenance texts) are message ids (``statpulse.i18n``); operator text (titles, update bodies,
a maintenance's description) is sent as written.

Maintenance: subscribers get their own text rather than the organisation's channel message:
"Maintenance started: <title>" (or "ended"), the occurrence's window in UTC when the caller
gives it, then the maintenance's description.

Matching: a subscriber follows its components, or every component of its page when it chose
none; an incident or a window without components concerns everyone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from statpulse.engine.incidents import IncidentState
from statpulse.engine.subscriber_sms import UNSUBSCRIBE, for_sms
from statpulse.i18n import DEFAULT_LANGUAGE, N_, translate
from statpulse.notify.dispatcher import message_doc
from statpulse.notify.message import Message
from statpulse.store.contract import Store
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import Maintenance
from statpulse.store.sql_subscribers import SUBSCRIBER_EVENT, Subscriber

INCIDENT_EVENTS = ("incident.opened", "incident.updated", "incident.resolved")
MAINTENANCE_EVENTS = ("maintenance.started", "maintenance.ended")
_LABELS = {
    "incident.opened": N_("New incident"),
    "incident.updated": N_("Incident update"),
    "incident.resolved": N_("Resolved"),
    "maintenance.started": N_("Maintenance started"),
    "maintenance.ended": N_("Maintenance ended"),
}
_STATUSES: dict[str, str] = {
    IncidentState.INVESTIGATING: N_("Investigating"),
    IncidentState.IDENTIFIED: N_("Identified"),
    IncidentState.MONITORING: N_("Monitoring"),
    IncidentState.RESOLVED: N_("Resolved"),
    IncidentState.POSTMORTEM: N_("Postmortem"),
}
"""An incident update's status as its subscribers read it."""
_TIME = "%Y-%m-%d %H:%M UTC"


def with_unsubscribe(text: str, subscriber: Subscriber, lang: str = DEFAULT_LANGUAGE) -> str:
    """``text`` with the subscriber's unsubscribe link, labelled in ``lang`` (every subscriber
    message carries it)."""
    return f"{text}\n\n{translate(lang, UNSUBSCRIBE)}: {subscriber.unsubscribe_url}"


async def _languages(store: Store, subscribers: Iterable[Subscriber]) -> dict[uuid.UUID, str]:
    """The language of each subscriber's page: each page's appearance read once."""
    found: dict[uuid.UUID, str] = {}
    for sub in subscribers:
        if sub.page_id not in found:
            found[sub.page_id] = (await store.get_page_appearance(sub.page_id)).language
    return found


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
    followers = await _followers(store, incident.org_id, incident.components)
    languages = await _languages(store, followers)
    for sub in followers:
        lang = languages[sub.page_id]
        detail = f"{translate(lang, _STATUSES[incident.status])}: {body}"
        message = Message(
            id="",
            event=event,
            title=f"{translate(lang, _LABELS[event])}: {incident.title}",
            text=with_unsubscribe(detail, sub, lang),
            occurred_at=at,
            severity=incident.impact,
            status=incident.status,
            url=f"{sub.page_url}/incidents/{incident.id}",
            incident_id=str(incident.id),
            lang=lang,
        )
        if sub.kind == "sms":
            message = for_sms(message, sub, detail)
        queued += await store.enqueue(
            incident.org_id, SUBSCRIBER_EVENT, key, message_doc(message), at, [sub.channel_id]
        )
    return queued


def maintenance_text(
    maintenance: Maintenance, occurrence: tuple[datetime, datetime] | None, lang: str
) -> str:
    """What a subscriber reads about ``maintenance`` in ``lang`` (before the unsubscribe link):
    the ``occurrence``'s window when given, then the description (the title when neither)."""
    parts = []
    if occurrence is not None:
        start, end = (f"{moment.astimezone(UTC):{_TIME}}" for moment in occurrence)
        parts.append(translate(lang, "Scheduled from %(start)s to %(end)s.", start=start, end=end))
    if maintenance.body:
        parts.append(maintenance.body)
    return "\n\n".join(parts) or maintenance.title


async def notify_maintenance(
    store: Store,
    maintenance: Maintenance,
    message: Message,
    group_key: str,
    at: datetime,
    *,
    occurrence: tuple[datetime, datetime] | None = None,
) -> int:
    """Queue ``maintenance.started|ended`` for the subscribers of the window's components,
    under ``group_key``. ``message`` (the one sent to the organisation's channels) gives the
    event, time and status; subscribers get their own text in their page's language
    (``maintenance_text``, with the window of ``occurrence``: UTC ``(start, end)``)."""
    if message.event not in MAINTENANCE_EVENTS:
        raise ValueError(f"not a maintenance event: {message.event!r}")
    queued = 0
    followers = await _followers(store, maintenance.org_id, maintenance.components)
    languages = await _languages(store, followers)
    for sub in followers:
        lang = languages[sub.page_id]
        detail = maintenance_text(maintenance, occurrence, lang)
        own = Message(
            id="",
            event=message.event,
            title=f"{translate(lang, _LABELS[message.event])}: {maintenance.title}",
            text=with_unsubscribe(detail, sub, lang),
            occurred_at=message.occurred_at,
            severity=message.severity,
            status=message.status,
            url=sub.page_url,
            lang=lang,
        )
        if sub.kind == "sms":
            own = for_sms(own, sub, detail)
        queued += await store.enqueue(
            maintenance.org_id,
            SUBSCRIBER_EVENT,
            f"sub:{group_key}",
            message_doc(own),
            at,
            [sub.channel_id],
        )
    return queued
