"""The custom CSS check: what a page owner's CSS may not do.

Custom CSS is refused (never silently rewritten) when it could load anything from another
origin or run script: ``@import``; ``url()`` other than a ``data:image/`` URL (an external URL
would tell a third party the address of every visitor); ``image-set()``, ``image()`` and
``src()`` (they take URLs as plain strings); ``expression()``, ``javascript:``/``vbscript:``,
``behavior`` and ``-moz-binding`` (old script hooks); HTML (``<`` opening a tag, comment or
``</style``); control characters. The checks run on the text with comments removed and CSS
escapes decoded (``\\75 rl(`` is ``url(``), lower-cased, and again with whitespace removed,
so spelling a keyword differently does not get past them.

The CSS is served as its own file (``/s/{slug}/theme.css``), never inline, so the pages' CSP
keeps ``style-src 'self'`` without ``'unsafe-inline'``; ``<`` followed by a space or ``=``
stays allowed for media range queries (``@media (width < 40rem)``).

The SVG sanitiser reuses :func:`check_css` for ``style`` attributes and elements, allowing only
local references (``url(#gradient)``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

MAX_CSS_BYTES: Final = 32 * 1024

_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
_ESCAPE = re.compile(
    r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\r\n\f])?|(\r\n|[\n\r\f])|(.))", re.DOTALL
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_HTML = re.compile(r"<[a-z/!?]")
_URL_ARG = re.compile(r"url\(([^)]*)\)?")
_URL_TAKING = re.compile(r"(?<![a-z0-9_-])(?:-[a-z]+-)?(image-set|image|src)\(")
_DATA_IMAGE = re.compile(r"data:image/(?:png|jpeg|gif|webp|avif|svg\+xml)[;,]")
_FORBIDDEN: Final = (
    ("@import", "@import is not allowed (it loads another style sheet)"),
    ("expression(", "expression() is not allowed"),
    ("javascript:", "javascript: URLs are not allowed"),
    ("vbscript:", "vbscript: URLs are not allowed"),
    ("behavior:", "behavior is not allowed"),
    ("-moz-binding:", "-moz-binding is not allowed"),
)


class CssError(ValueError):
    """The CSS does something it may not; the message says what (for the API's 422)."""


def data_image_url(url: str) -> bool:
    """The default ``url()`` policy of custom CSS: an inline ``data:image/...`` URL only."""
    return _DATA_IMAGE.match(url) is not None


def local_reference(url: str) -> bool:
    """The ``url()`` policy inside an SVG: a reference to an element of the same document."""
    return url.startswith("#")


def normalize(css: str) -> str:
    """``css`` without comments, with escapes decoded, lower-cased (what the checks read)."""
    return _ESCAPE.sub(_unescape, _COMMENT.sub("", css)).lower()


def _unescape(match: re.Match[str]) -> str:
    if match[1] is not None:
        code = int(match[1], 16)
        valid = 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
        return chr(code) if valid else "\ufffd"
    if match[2] is not None:
        return ""  # an escaped newline continues a string
    return match[3]


def check_css(css: str, *, allow_url: Callable[[str], bool] = data_image_url) -> None:
    """Raise ``CssError`` (the message says why) unless ``css`` is safe to serve; ``url()``
    arguments must satisfy ``allow_url`` (unquoted, trimmed). The size limit is the caller's."""
    if _CONTROL.search(css):
        raise CssError("control characters are not allowed")
    text = normalize(css)
    compact = re.sub(r"\s+", "", text)
    if _HTML.search(css.lower()) or _HTML.search(text) or "<!--" in compact:
        raise CssError("HTML markup is not allowed in CSS")
    for needle, reason in _FORBIDDEN:
        if needle in compact:
            raise CssError(reason)
    found = _URL_TAKING.search(compact)
    if found:
        raise CssError(f"{found[1]}() is not allowed (it loads URLs); use url(data:image/...)")
    for match in _URL_ARG.finditer(compact):
        url = match[1].strip().strip("\"'").strip()
        if not allow_url(url):
            raise CssError(
                "url() may only hold a data:image/ URL: an external URL would reveal "
                "each visitor's address to another server"
                if allow_url is data_image_url
                else "url() may only reference an element of the same document (#id)"
            )
