"""Subscriber news as SMS: short, plain, and always ending with the unsubscribe link.

An SMS subscriber's hidden channel is a Twilio channel (``notify/twilio.py``), which sends
``title``, ``text`` and ``url`` on separate lines. ``for_sms`` rewrites a subscriber message so
that the whole body stays within ``MAX_SMS`` characters (two concatenated GSM-7 segments hold
306; a few more only add a third): the title, then as much of the detail as fits, then the
link, and last ``Unsubscribe: <link>`` (the label in the page's language: ``Abbestellen``).
Markdown marks are dropped and whitespace collapsed; a cut is marked with ASCII "..." (a
Unicode ellipsis would force the UCS-2 encoding, 70 characters a segment). When even the links
leave no room, the detail goes first, then the incident link; the unsubscribe link is never
dropped, whatever the length of its label.

Encoding of translated texts: German umlauts and ß are *not* transliterated. ä ö ü Ä Ö Ü ß are
characters of the GSM-7 default alphabet (GSM 03.38, one septet each, no escape), so a German
SMS stays GSM-7 like an English one and ``MAX_SMS`` still means two segments; transliterating
(ä -> ae) would only make it longer and worse to read. What would force UCS-2 are characters
outside that alphabet: the catalog texts an SMS uses keep to it (no typographic quotes or
dashes; ``tests/engine/test_subscriber_language.py`` checks), and the fixed marks here are
ASCII. Text the operator wrote (titles, update bodies) is sent as written, in any language.
"""

from __future__ import annotations

import dataclasses
import re

from statpulse.i18n import N_, translate
from statpulse.notify.message import Message
from statpulse.store.sql_subscribers import Subscriber

MAX_SMS = 320
MIN_DETAIL = 12  # shorter than this, the detail says nothing: left out
MIN_TITLE = 40  # room kept for the title before the incident link is dropped
UNSUBSCRIBE = N_("Unsubscribe")  # the label of the unsubscribe link (a message id)
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url) -> text
_MARKS = re.compile(r"[*_`#>|~]+")
_SPACE = re.compile(r"\s+")


def plain(text: str) -> str:
    """``text`` (Markdown) as one line of plain text."""
    return _SPACE.sub(" ", _MARKS.sub("", _LINK.sub(r"\1", text))).strip()


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, marked with "..." when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 3, 0)].rstrip() + "..." if limit > 3 else text[:limit]


def fit(
    title: str,
    detail: str,
    url: str | None,
    unsubscribe_url: str,
    unsubscribe: str = UNSUBSCRIBE,
) -> tuple[str, str]:
    """The SMS title and text (joined by a newline, at most ``MAX_SMS`` characters when the
    unsubscribe link itself fits) for these parts; ``unsubscribe`` is the label before the
    unsubscribe link, in the page's language."""
    tail = f"{unsubscribe}: {unsubscribe_url}"
    title, detail = plain(title), plain(detail)
    if url and MIN_TITLE + len(url) + len(tail) + 2 > MAX_SMS:
        url = None  # the link would leave the title no room
    if url:
        tail = f"{url}\n{tail}"
    room = MAX_SMS - len(tail) - 1  # title + "\n" + text, text ending with the tail
    title = clip(title, max(room - 1, 0))
    room -= len(title) + 1
    if len(detail) > room - 1 and room - 1 < MIN_DETAIL:
        return title, tail
    return title, f"{clip(detail, room - 1)}\n{tail}" if detail else tail


def for_sms(message: Message, subscriber: Subscriber, detail: str) -> Message:
    """``message`` for an SMS subscriber: ``detail`` (the text before its unsubscribe link)
    and ``message.url`` fitted with the title into one short plain SMS (``fit``), the link
    labelled in the message's language."""
    unsubscribe = translate(message.lang, UNSUBSCRIBE)
    title, text = fit(message.title, detail, message.url, subscriber.unsubscribe_url, unsubscribe)
    return dataclasses.replace(message, title=title, text=text, url=None)
