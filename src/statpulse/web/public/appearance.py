"""How one status page looks: ``PageAppearance`` (theme, colours, font, colour scheme, custom
CSS, logo, favicon, header links, language), its validation, and its JSON document.

The document is what the API takes and returns and what the store keeps
(``page_appearance.document``): images as ``{"media_type", "data": <base64>}``, header links as
``{"label", "url"}``. :func:`from_document` is the one validator: it raises
:class:`AppearanceError` naming the field (``logo.data``, ``header_links[1].url``,
``custom_css``), so a bad PUT never reaches the store. What it returns is safe to serve: the
custom CSS passed ``css_sanitize.check_css``, an SVG was re-serialised by
``svg_sanitize.sanitize_svg``, a raster image's bytes start with its media type's signature.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, NamedTuple

from statpulse.i18n import DEFAULT_LANGUAGE, LANGUAGES
from statpulse.web.public.css_sanitize import MAX_CSS_BYTES, CssError, check_css
from statpulse.web.public.svg_sanitize import SvgError, sanitize_svg, svg_size

THEMES: Final = ("default", "liquid-glass", "high-contrast")
FONTS: Final = ("system", "serif", "mono", "rounded")
SCHEMES: Final = ("auto", "light", "dark")
COLOR_NAMES: Final = ("accent", "up", "degraded", "down", "maintenance", "background", "text")
"""Keys of ``colors``; each becomes a CSS variable (``theme_css.COLOR_VARIABLES``)."""
MAX_IMAGE_BYTES: Final = 256 * 1024
MAX_LINKS: Final = 8
MAX_LABEL: Final = 40
MAX_URL: Final = 2048
MIN_TEXT_CONTRAST: Final = 4.5  # WCAG AA for body text
SVG: Final = "image/svg+xml"
RASTER_SIGNATURES: Final[Mapping[str, tuple[bytes, ...]]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # and b"WEBP" at offset 8, checked in _is_raster
}
MEDIA_TYPES: Final = (*RASTER_SIGNATURES, SVG)
_KEY = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_URL = re.compile(
    r"(?:https?://[^\s\x00-\x1f\x7f/?#]+|mailto:[^\s\x00-\x1f\x7f])[^\s\x00-\x1f\x7f]*",
    re.IGNORECASE,
)


class AppearanceError(ValueError):
    """Invalid appearance input; ``field`` names it as the API reports it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Image:
    """A logo or favicon: ``media_type`` one of ``MEDIA_TYPES``; ``data`` checked (raster) or
    sanitised (SVG) bytes."""

    media_type: str
    data: bytes

    def size(self) -> tuple[int, int] | None:
        """The intrinsic (width, height) in pixels when the header says; else None."""
        if self.media_type == SVG:
            return svg_size(self.data)
        return raster_size(self.data)

    def display_size(self, height: int) -> tuple[int, int]:
        """(width, height) to put on an ``<img>`` shown ``height`` pixels high: the aspect
        ratio reserves its box before it loads (no layout shift); square when unknown."""
        found = self.size()
        if not found:
            return height, height
        w, h = found
        return max(1, min(round(height * w / h), height * 8)), height


class HeaderLink(NamedTuple):
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class PageAppearance:
    """One page's look; the defaults are StatPulse's own look (what a page without a stored
    appearance shows)."""

    theme: str = "default"
    colors: Mapping[str, str] = field(default_factory=dict)
    """Only the colours the owner set (``COLOR_NAMES``, ``#rgb`` or ``#rrggbb``)."""
    font: str = "system"
    color_scheme: str = "auto"
    custom_css: str = ""
    logo: Image | None = None
    favicon: Image | None = None
    header_links: tuple[HeaderLink, ...] = ()
    language: str = DEFAULT_LANGUAGE


DEFAULT_APPEARANCE: Final = PageAppearance()


def to_document(appearance: PageAppearance) -> dict[str, Any]:
    """The JSON document (API body and stored form)."""
    return {
        "theme": appearance.theme,
        "colors": dict(appearance.colors),
        "font": appearance.font,
        "color_scheme": appearance.color_scheme,
        "custom_css": appearance.custom_css,
        "logo": _image_document(appearance.logo),
        "favicon": _image_document(appearance.favicon),
        "header_links": [{"label": x.label, "url": x.url} for x in appearance.header_links],
        "language": appearance.language,
    }


def audit_document(appearance: PageAppearance) -> dict[str, Any]:
    """``to_document`` with each image summarised (media type and size): what the audit log
    keeps, without up to 2 x 256 KB of base64 per entry."""
    doc = to_document(appearance)
    for name in ("logo", "favicon"):
        image: Image | None = getattr(appearance, name)
        if image is not None:
            doc[name] = {"media_type": image.media_type, "bytes": len(image.data)}
    return doc


def _image_document(image: Image | None) -> dict[str, str] | None:
    if image is None:
        return None
    return {"media_type": image.media_type, "data": base64.b64encode(image.data).decode()}


def from_document(doc: Mapping[str, Any]) -> PageAppearance:
    """Validate a document (every key optional, unknown keys refused) into a
    ``PageAppearance``. Raises ``AppearanceError`` naming the first bad field."""
    if not isinstance(doc, Mapping):
        raise AppearanceError("body", "must be a JSON object")
    known = set(PageAppearance.__dataclass_fields__)
    for key in doc:
        if key not in known:
            raise AppearanceError(_named("", key), "unknown field")
    d = DEFAULT_APPEARANCE
    return PageAppearance(
        theme=_choice(doc, "theme", THEMES, d.theme),
        colors=_colors(_given(doc, "colors", {})),
        font=_choice(doc, "font", FONTS, d.font),
        color_scheme=_choice(doc, "color_scheme", SCHEMES, d.color_scheme),
        custom_css=_custom_css(_given(doc, "custom_css", "")),
        logo=_image(doc.get("logo"), "logo"),
        favicon=_image(doc.get("favicon"), "favicon"),
        header_links=_links(_given(doc, "header_links", [])),
        language=_choice(doc, "language", LANGUAGES, d.language),
    )


def _named(prefix: str, key: object) -> str:
    """``prefix + key`` for the error's field; just the parent when ``key`` is not a plain
    name (it is echoed in the response: no control characters, no lone surrogates)."""
    if isinstance(key, str) and _KEY.fullmatch(key):
        return prefix + key
    return prefix.rstrip(".") or "body"


def _given(doc: Mapping[str, Any], name: str, default: object) -> object:
    """``doc[name]``; ``default`` when absent or null."""
    value = doc.get(name)
    return default if value is None else value


def _text(value: object, name: str, max_chars: int | None = None) -> str:
    """A string that PostgreSQL's JSON and UTF-8 can hold (no NUL, no lone surrogate)."""
    if not isinstance(value, str):
        raise AppearanceError(name, "must be a string")
    if "\x00" in value:
        raise AppearanceError(name, "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AppearanceError(name, "must be valid Unicode text") from None
    if max_chars is not None and len(value) > max_chars:
        raise AppearanceError(name, f"at most {max_chars} characters")
    return value


def _choice(doc: Mapping[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = doc.get(name)
    if value is None:
        return default
    if value not in allowed:
        raise AppearanceError(name, "must be one of " + ", ".join(allowed))
    return str(value)


def _colors(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise AppearanceError("colors", "must be an object")
    colors: dict[str, str] = {}
    for key, color in value.items():
        if key not in COLOR_NAMES:
            raise AppearanceError(
                _named("colors.", key), "unknown colour; one of " + ", ".join(COLOR_NAMES)
            )
        if not isinstance(color, str) or not _HEX.fullmatch(color):
            raise AppearanceError(f"colors.{key}", "must be a hex colour like #1a7f37")
        colors[key] = _expand(color)
    bg, fg = colors.get("background"), colors.get("text")
    if (bg is None) != (fg is None):
        missing = "text" if fg is None else "background"
        raise AppearanceError(
            f"colors.{missing}", "background and text are set together (their contrast is checked)"
        )
    if bg and fg and contrast(bg, fg) < MIN_TEXT_CONTRAST:
        raise AppearanceError(
            "colors.text",
            f"contrast with colors.background is {contrast(bg, fg):.2f}:1; "
            f"at least {MIN_TEXT_CONTRAST}:1 is needed",
        )
    return {k: colors[k] for k in COLOR_NAMES if k in colors}


def _expand(color: str) -> str:
    """``#abc`` -> ``#aabbcc``; lower case."""
    color = color.lower()
    return "#" + "".join(c * 2 for c in color[1:]) if len(color) == 4 else color


def luminance(color: str) -> float:
    """Relative luminance (WCAG 2.x) of ``#rrggbb``."""
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _custom_css(value: object) -> str:
    text = _text(value, "custom_css")
    if len(text.encode()) > MAX_CSS_BYTES:
        raise AppearanceError("custom_css", f"at most {MAX_CSS_BYTES // 1024} KB")
    try:
        check_css(text)
    except CssError as exc:
        raise AppearanceError("custom_css", str(exc)) from None
    return text


def _links(value: object) -> tuple[HeaderLink, ...]:
    if not isinstance(value, list):
        raise AppearanceError("header_links", "must be a list")
    if len(value) > MAX_LINKS:
        raise AppearanceError("header_links", f"at most {MAX_LINKS} links")
    links = []
    for i, item in enumerate(value):
        at = f"header_links[{i}]"
        if not isinstance(item, Mapping):
            raise AppearanceError(at, "must be an object with label and url")
        extra = set(item) - {"label", "url"}
        if extra:
            raise AppearanceError(_named(f"{at}.", sorted(map(str, extra))[0]), "unknown field")
        label = _text(item.get("label"), f"{at}.label", MAX_LABEL).strip()
        if not label:
            raise AppearanceError(f"{at}.label", "must not be empty")
        url = _text(item.get("url"), f"{at}.url", MAX_URL).strip()
        if not _URL.fullmatch(url):
            raise AppearanceError(f"{at}.url", "must be an https://, http:// or mailto: URL")
        links.append(HeaderLink(label, url))
    return tuple(links)


def _image(value: object, name: str) -> Image | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise AppearanceError(name, "must be an object with media_type and data, or null")
    extra = set(value) - {"media_type", "data"}
    if extra:
        raise AppearanceError(_named(f"{name}.", sorted(map(str, extra))[0]), "unknown field")
    media_type = value.get("media_type")
    if media_type not in MEDIA_TYPES:
        raise AppearanceError(f"{name}.media_type", "must be one of " + ", ".join(MEDIA_TYPES))
    encoded = _text(value.get("data"), f"{name}.data", MAX_IMAGE_BYTES * 4 // 3 + 4)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise AppearanceError(f"{name}.data", "must be base64") from None
    if not data:
        raise AppearanceError(f"{name}.data", "must not be empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise AppearanceError(f"{name}.data", f"at most {MAX_IMAGE_BYTES // 1024} KB")
    if media_type == SVG:
        try:
            data = sanitize_svg(data)
        except SvgError as exc:
            raise AppearanceError(f"{name}.data", str(exc)) from None
    elif not _is_raster(media_type, data):
        raise AppearanceError(f"{name}.data", f"is not a {media_type} image")
    return Image(media_type, data)


def _is_raster(media_type: str, data: bytes) -> bool:
    if not data.startswith(RASTER_SIGNATURES[media_type]):
        return False
    return media_type != "image/webp" or data[8:12] == b"WEBP"


def sniff(data: bytes) -> str:
    """The media type of stored image bytes (validated by ``from_document``): the raster type
    whose signature they start with, else SVG."""
    for media_type in RASTER_SIGNATURES:
        if _is_raster(media_type, data):
            return media_type
    return SVG


def raster_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, WebP or JPEG header; None when it cannot tell."""
    try:
        if data.startswith(b"\x89PNG") and data[12:16] == b"IHDR":
            w, h = struct.unpack(">II", data[16:24])
        elif data.startswith(b"GIF"):
            w, h = struct.unpack("<HH", data[6:10])
        elif data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            w, h = _webp_size(data)
        elif data.startswith(b"\xff\xd8"):
            w, h = _jpeg_size(data)
        else:
            return None
    except (struct.error, ValueError):
        return None
    return (w, h) if w > 0 and h > 0 else None


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        return w, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    raise ValueError("unknown WebP chunk")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """Walks the segments to the first start-of-frame marker (SOF0..SOF15 except DHT, JPG,
    DAC), whose payload holds the height and width."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            raise ValueError("not a JPEG segment")
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    raise ValueError("no JPEG frame header")
