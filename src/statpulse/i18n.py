"""Translation of what customers read: the language, its message catalogs, and ``translate``.

The public pages (their Jinja globals ``_`` and ``ngettext``: ``web/public/i18n.py``) and the
news sent to page subscribers (``engine/subscriber_news.py``) use it; it depends on nothing of
StatPulse, so every layer may import it.

English is the source language: a message id *is* the English text, so an English page needs
no catalog and a message missing from a catalog falls back to English. Every other language has
a checked-in JSON catalog, ``locales/<lang>.json``, mapping each English message id to its
translation (a string), or a plural message id (the English singular) to its two forms
``[singular, plural]`` (both English and German use "one" for n == 1, "other" otherwise).
No build step: the JSON is read as it is (``tests/web/test_i18n.py`` checks that every
message the templates and the Python labels use has a translation with the same placeholders).

Placeholders are ``%(name)s`` with keyword arguments: ``translate(lang, "Affects %(names)s",
names=...)``. Code that builds customer text (SVG titles, region counts, subscriber news) calls
:func:`translate` / :func:`translate_plural` with the page's language, or marks a message id
with :func:`N_` so that the extraction finds it while whatever shows it translates it later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from typing import Final

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "catalog",
    "decimal_mark",
    "language",
    "lookup",
    "plural_forms",
    "translate",
    "translate_plural",
]

LANGUAGES: Final = ("en", "de")
"""Languages a public page can be shown in; the first is the source language."""

DEFAULT_LANGUAGE: Final = "en"

_DECIMAL_MARKS: Final = {"de": ","}
"""Languages whose decimal mark is not a point."""

Catalog = Mapping[str, str | list[str]]
"""English message id -> translation, or -> [singular, plural] for a plural message."""


def N_(message: str) -> str:
    """Mark ``message`` as a message id for the extraction, returning it unchanged; whatever
    shows it translates it later, with the page's language."""
    return message


def language(value: object) -> str:
    """``value`` if it is one of :data:`LANGUAGES`, else :data:`DEFAULT_LANGUAGE`."""
    return value if isinstance(value, str) and value in LANGUAGES else DEFAULT_LANGUAGE


def decimal_mark(lang: str) -> str:
    """The decimal mark of ``lang``: ``","`` in German, ``"."`` in English."""
    return _DECIMAL_MARKS.get(lang, ".")


@cache
def catalog(lang: str) -> Catalog:
    """The catalog of ``lang`` (empty for English); read once per process.

    Raises ValueError for a language outside :data:`LANGUAGES`, or a catalog that is not an
    object of strings and two-string lists."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}")
    if lang == DEFAULT_LANGUAGE:
        return {}
    raw = json.loads(files("statpulse").joinpath("locales", f"{lang}.json").read_text())
    if not isinstance(raw, dict):
        raise ValueError(f"catalog {lang}: not a JSON object")
    for key, value in raw.items():
        plural = isinstance(value, list) and len(value) == 2
        if not (isinstance(value, str) or (plural and all(isinstance(v, str) for v in value))):
            raise ValueError(f"catalog {lang}: bad entry for {key!r}")
    return raw


def lookup(lang: str, message: str) -> str | list[str] | None:
    """The catalog entry of ``message`` in ``lang`` (any value: an unknown language is
    English), or None."""
    return catalog(language(lang)).get(message)


def translate(lang: str, message: str, **params: object) -> str:
    """``message`` in ``lang`` (English when the catalog lacks it), %-formatted with
    ``params`` when there are any. Plain text: the caller escapes it for its markup."""
    found = lookup(lang, message)
    text = found if isinstance(found, str) else message
    return text % params if params else text


def plural_forms(lang: str, singular: str, plural: str) -> tuple[str, str]:
    """(form for n == 1, form for other n) of a plural message in ``lang``, unformatted: for
    code that formats the same message many times (an uptime bar's 90 day titles)."""
    found = lookup(lang, singular)
    return (found[0], found[1]) if isinstance(found, list) else (singular, plural)


def translate_plural(lang: str, singular: str, plural: str, n: int, **params: object) -> str:
    """The form of a plural message for ``n`` in ``lang``, formatted with ``params`` and
    ``n`` (so the message may say ``%(n)s``). Plain text, like :func:`translate`."""
    forms = plural_forms(lang, singular, plural)
    return forms[0 if n == 1 else 1] % {"n": n, **params}
