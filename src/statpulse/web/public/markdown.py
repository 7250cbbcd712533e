"""Markdown of incident updates and maintenance notices, rendered to safe HTML (pure).

Two layers, so that a mistake in one is caught by the other:

1. markdown-it-py (CommonMark) with raw HTML disabled: ``<script>`` or ``<img onerror=...>``
   in the source is shown as text, and its link validator drops ``javascript:``, ``vbscript:``
   and ``data:`` (except images) destinations.
2. nh3 (ammonia) with an allowlist: only the tags of :data:`TAGS`, only ``href``/``title`` on
   links and ``start`` on ordered lists (so no ``style``, no ``on*`` event attribute, no
   ``class``/``id``), absolute URLs only with the schemes of :data:`URL_SCHEMES`; every link
   gets ``rel="nofollow noopener"`` (user text should not pass on search ranking or a
   ``window.opener``).

Headings are not parsed (``# text`` stays a paragraph): the page's own ``h1``-``h3`` outline
must not be broken by an update's text. Images are not parsed either (``![alt](url)`` becomes
a link to the image): the page's Content-Security-Policy allows no foreign images, and a
customer-facing page should not load tracking pixels.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

__all__ = ["ATTRIBUTES", "LINK_REL", "TAGS", "URL_SCHEMES", "render_markdown"]

TAGS = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "hr", "li", "ol", "p", "pre", "s",
        "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ATTRIBUTES: dict[str, set[str]] = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener"


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["strikethrough", "table"])
    md.disable(["heading", "lheading", "image"])
    return md


def render_markdown(text: str) -> Markup:
    """``text`` (Markdown, any content) as sanitised HTML, safe to insert into a page as is.

    Never raises for any string; an empty or blank text gives an empty ``Markup``."""
    if not text.strip():
        return Markup("")
    html = _parser().render(text)
    clean = nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(attrs) for tag, attrs in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return Markup(clean.strip())  # noqa: S704 (sanitised by nh3 just above)
