"""RSS 2.0 and Atom 1.0 feeds of a status page: ``/s/{slug}/feed.rss`` and ``/s/{slug}/feed.atom``.

What a page's feed holds (the same rule as the Statuspage-compatible JSON, ``statuspage_data``):

* **Incidents**: published ones only (a draft, ``published_at`` None, never), of the page's
  organisation, that concern the page: one of the incident's ``components`` is on the page, or
  its ``monitor_id`` is the monitor of one of the page's components. An incident naming neither
  components nor a monitor is organisation-wide and is in every page's feed. The entry's text is
  the latest update (status and body, Markdown source as plain text).
* **Maintenances** listing a component of the page (or none: organisation-wide), one entry for
  the current occurrence of the window, else the next one, else (a one-off in the past) the
  window itself, marked completed. Each occurrence of a recurring window has its own id, so a
  reader shows next week's window as a new item.

Ids are ``urn:uuid:`` URNs (RFC 4287's own example): an incident's is its id; an occurrence's
is a UUIDv5 of the maintenance id and the occurrence start. Unlike a ``tag:`` URI or permalink
they do not embed the host name, so they stay stable whatever address the page is read through.

Text is plain text everywhere: Atom elements say ``type="text"``; RSS readers take
``<description>`` as HTML, so it carries the text HTML-escaped (then XML-escaped by the
serialiser), and ``<title>`` is plain text. The XML is built with ElementTree (no string
concatenation of user text); characters XML 1.0 forbids are dropped first.

Nothing in a body is the render time (``lastBuildDate``/``updated`` is the newest entry's
change), so an unchanged page gives the same bytes and ``If-None-Match`` revalidates to 304.
"""

from __future__ import annotations

import hashlib
import html
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from fastapi import APIRouter, Request, Response

from statpulse.engine import maintenance as mw
from statpulse.model import Component, Monitor, StatusPage, utcnow
from statpulse.store.contract import Store
from statpulse.store.sql_incidents import Incident
from statpulse.store.sql_maintenance import Maintenance
from statpulse.web.deps import ServicesDep
from statpulse.web.errors import not_found
from statpulse.web.public.statuspage_data import affects_page
from statpulse.web.public.view import display_utc

router = APIRouter(tags=["public"], include_in_schema=False)

CACHE_CONTROL = "public, max-age=60, stale-while-revalidate=60, stale-if-error=86400"
RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
ATOM_NS = "http://www.w3.org/2005/Atom"
LIMIT = 50
"""Entries in a feed (the newest changes)."""
BATCH = 100
MAX_SCAN = 1000
"""Published incidents read at most per request, looking for the page's ``LIMIT``."""

# Characters XML 1.0 does not allow (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

PageComponents = Sequence[tuple[Component, Monitor | None]]


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    link: str
    title: str
    text: str
    category: str
    published: datetime
    updated: datetime


@dataclass(frozen=True, slots=True)
class Feed:
    id: str
    title: str
    description: str
    page_url: str
    rss_url: str
    atom_url: str
    updated: datetime
    entries: Sequence[Entry]


def incident_entry(incident: Incident, page_url: str) -> Entry:
    """The entry of a published incident (ValueError for a draft): its latest update's text."""
    if incident.published_at is None:
        raise ValueError("a draft incident has no feed entry")
    latest = incident.updates[-1] if incident.updates else None
    status = str(latest["status"] if latest else incident.status).replace("_", " ").capitalize()
    body = str(latest["body"]) if latest else ""
    changed: list[datetime] = [incident.published_at]
    changed.extend(u["at"] for u in incident.updates)
    if incident.resolved_at is not None:
        changed.append(incident.resolved_at)
    return Entry(
        id=incident.id.urn,
        link=f"{page_url}/incidents/{incident.id}",
        title=incident.title,
        text=f"{status}: {body}" if body else status,
        category="incident",
        published=incident.published_at,
        updated=max(changed),
    )


def maintenance_entry(m: Maintenance, page_url: str, now: datetime) -> Entry | None:
    """The entry of the current, else next, occurrence of ``m``'s window as of ``now``; a
    one-off window in the past is a completed entry; None for a recurring window with no
    occurrence left."""
    current = mw.active(m.window, now)
    upcoming = mw.next_occurrences(m.window, now, 1)
    if current is not None:
        (start, end), state = current, "In progress"
    elif upcoming:
        (start, end), state = upcoming[0], "Scheduled"
    elif m.window.kind is mw.WindowKind.ONE_OFF and m.window.start and m.window.end:
        start, end, state = m.window.start, m.window.end, "Completed"
    else:
        return None
    when = f"{state}: {display_utc(start)} to {display_utc(end)}."
    changed = [m.updated_at, *(t for t in (start, end) if t <= now)]
    occurrence = uuid.uuid5(m.id, start.astimezone(UTC).isoformat())
    return Entry(
        id=occurrence.urn,
        link=f"{page_url}#maintenance-{m.id}",
        title=m.title,
        text=f"{when}\n\n{m.body}" if m.body else when,
        category="maintenance",
        published=m.created_at,
        updated=max(changed),
    )


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _rfc822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _serialise(root: ET.Element) -> bytes:
    # Namespaces are declared as plain xmlns attributes with prefixed tag names: ElementTree's
    # own namespace handling needs a process-wide prefix registry, or rejects the unqualified
    # attributes Atom uses (default_namespace).
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data


def rss(feed: Feed) -> bytes:
    """The feed as an RSS 2.0 document (UTF-8, with an XML declaration)."""
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = _sub(root, "channel")
    _sub(channel, "title", feed.title)
    _sub(channel, "link", feed.page_url)
    _sub(channel, "description", feed.description)
    _sub(channel, "atom:link", href=feed.rss_url, rel="self", type="application/rss+xml")
    _sub(channel, "lastBuildDate", _rfc822(feed.updated))
    _sub(channel, "ttl", "1")
    for entry in feed.entries:
        item = _sub(channel, "item")
        _sub(item, "title", entry.title)
        _sub(item, "link", entry.link)
        # Readers render <description> as HTML: escape the text so it stays text.
        _sub(item, "description", html.escape(entry.text).replace("\n", "<br>\n"))
        _sub(item, "category", entry.category)
        _sub(item, "guid", entry.id, isPermaLink="false")
        _sub(item, "pubDate", _rfc822(entry.published))
    return _serialise(root)


def atom(feed: Feed) -> bytes:
    """The feed as an Atom 1.0 document (RFC 4287; UTF-8, with an XML declaration)."""
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "id", feed.id)
    _sub(root, "title", feed.title, type="text")
    _sub(root, "subtitle", feed.description, type="text")
    _sub(root, "updated", _rfc3339(feed.updated))
    _sub(root, "link", rel="alternate", type="text/html", href=feed.page_url)
    _sub(root, "link", rel="self", type="application/atom+xml", href=feed.atom_url)
    _sub(_sub(root, "author"), "name", feed.title)
    for item in feed.entries:
        entry = _sub(root, "entry")
        _sub(entry, "id", item.id)
        _sub(entry, "title", item.title, type="text")
        _sub(entry, "link", rel="alternate", type="text/html", href=item.link)
        _sub(entry, "category", term=item.category)
        _sub(entry, "published", _rfc3339(item.published))
        _sub(entry, "updated", _rfc3339(item.updated))
        _sub(entry, "content", item.text, type="text")
    return _serialise(root)


async def _incidents(store: Store, page: StatusPage, components: PageComponents) -> list[Incident]:
    """The page's newest published incidents, at most ``LIMIT``, reading at most ``MAX_SCAN``."""
    found: list[Incident] = []
    before: tuple[datetime, uuid.UUID] | None = None
    for _ in range(MAX_SCAN // BATCH):
        batch = await store.incident_page(page.org_id, BATCH, before, drafts=False)
        found.extend(i for i in batch if affects_page(i, components))
        if len(batch) < BATCH or len(found) >= LIMIT:
            break
        before = (batch[-1].started_at, batch[-1].id)
    return found[:LIMIT]


async def page_feed(store: Store, page: StatusPage, base_url: str, now: datetime) -> Feed:
    """The feed of ``page`` as of ``now``; ``base_url``: the site's address, no trailing slash."""
    page_url = f"{base_url}/s/{page.slug}"
    components = await store.page_components(page.id)
    on_page = {c.id for c, _ in components}
    entries = [incident_entry(i, page_url) for i in await _incidents(store, page, components)]
    for m in await store.list_maintenances(page.org_id):
        if not m.components or on_page.intersection(m.components):
            entry = maintenance_entry(m, page_url, now)
            if entry is not None:
                entries.append(entry)
    entries.sort(key=lambda e: (e.updated, e.id), reverse=True)
    entries = entries[:LIMIT]
    return Feed(
        id=page.id.urn,
        title=page.title,
        description=page.description or f"Incidents and maintenance of {page.title}",
        page_url=page_url,
        rss_url=f"{page_url}/feed.rss",
        atom_url=f"{page_url}/feed.atom",
        updated=max((e.updated for e in entries), default=page.created_at),
        entries=entries,
    )


async def _serve(slug: str, request: Request, svc: ServicesDep, kind: str) -> Response:
    page = await svc.store.get_page(slug)
    if page is None:
        raise not_found("status page")
    feed = await page_feed(svc.store, page, str(request.base_url).rstrip("/"), utcnow())
    body, media_type = (rss(feed), RSS_TYPE) if kind == "rss" else (atom(feed), ATOM_TYPE)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, headers={**headers, "Content-Type": media_type})


def _etags(header: str) -> set[str]:
    return {t.strip().removeprefix("W/") for t in header.split(",") if t.strip()}


@router.get("/s/{slug}/feed.rss")
async def rss_feed(slug: str, request: Request, svc: ServicesDep) -> Response:
    """RSS 2.0 of the page's published incidents and its maintenances; 404 for an unknown slug."""
    return await _serve(slug, request, svc, "rss")


@router.get("/s/{slug}/feed.atom")
async def atom_feed(slug: str, request: Request, svc: ServicesDep) -> Response:
    """Atom 1.0 of the page's published incidents and its maintenances; 404 for an unknown
    slug."""
    return await _serve(slug, request, svc, "atom")
