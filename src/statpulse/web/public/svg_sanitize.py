"""The SVG sanitiser for page logos and favicons: an allowlist of elements and attributes, the
result re-serialised from scratch.

Parsing is expat with every DTD feature refused (a DOCTYPE, entity declarations, external
entities: no billion laughs, no file reads), as ``defusedxml`` does. What is kept:

- elements of the SVG namespace (or of none) that draw: shapes, text, gradients, patterns,
  clip paths, masks, markers, filters, ``use``. Everything else is dropped with its content:
  ``script``, ``foreignObject``, ``image``, ``a``, the animation elements (``set``/``animate``
  can rewrite an ``href`` into ``javascript:``), other namespaces (XHTML, editor metadata);
- attributes of an allowlist of geometry and presentation attributes, ``id``/``class`` and a
  few ARIA ones; never ``on*``; ``href``/``xlink:href`` only when it starts with ``#``;
- attribute values (without a double quote) and ``style`` (attribute or element) only when
  ``css_sanitize.check_css`` passes them with local references alone (``url(#id)``, no
  ``expression``, no HTML);
- text only inside ``text``, ``tspan``, ``textPath``, ``title``, ``desc`` and ``style``.

Comments and processing instructions are not kept. The served logo is also under a CSP
(``default-src 'none'; style-src 'unsafe-inline'; sandbox``), so this is the inner wall.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, NoReturn
from xml.parsers import expat
from xml.sax.saxutils import escape

from statpulse.web.public.css_sanitize import CssError, check_css, local_reference

SVG_NS: Final = "http://www.w3.org/2000/svg"
XLINK_NS: Final = "http://www.w3.org/1999/xlink"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
MAX_DEPTH: Final = 128


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ELEMENTS: Final = _words(
    """svg g defs title desc symbol use path rect circle ellipse line polyline polygon text
    tspan textPath linearGradient radialGradient stop clipPath mask pattern marker style filter
    feBlend feColorMatrix feComponentTransfer feFuncA feFuncR feFuncG feFuncB feComposite
    feFlood feGaussianBlur feMerge feMergeNode feMorphology feOffset feDropShadow feTurbulence
    feDisplacementMap"""
)
ATTRIBUTES: Final = _words(
    """id class style transform viewBox width height x y x1 y1 x2 y2 cx cy r rx ry fx fy fr d
    points pathLength fill fill-opacity fill-rule stroke stroke-width stroke-linecap
    stroke-linejoin stroke-miterlimit stroke-dasharray stroke-dashoffset stroke-opacity opacity
    clip-path clip-rule mask filter preserveAspectRatio version baseProfile offset stop-color
    stop-opacity gradientUnits gradientTransform spreadMethod patternUnits patternContentUnits
    patternTransform clipPathUnits maskUnits maskContentUnits filterUnits primitiveUnits
    font-family font-size font-weight font-style font-variant text-anchor dominant-baseline
    alignment-baseline baseline-shift letter-spacing word-spacing text-decoration dx dy rotate
    textLength lengthAdjust startOffset display visibility color overflow vector-effect
    paint-order shape-rendering text-rendering image-rendering color-interpolation
    color-interpolation-filters in in2 result stdDeviation mode operator k1 k2 k3 k4 values
    type tableValues slope intercept amplitude exponent flood-color flood-opacity radius
    baseFrequency numOctaves seed stitchTiles scale xChannelSelector yChannelSelector
    markerWidth markerHeight refX refY orient markerUnits marker-start marker-mid marker-end
    role aria-label aria-hidden aria-labelledby focusable href"""
)
_HREF_ELEMENTS: Final = _words("use textPath linearGradient radialGradient pattern filter")
_TEXT_ELEMENTS: Final = frozenset({"text", "tspan", "textPath", "title", "desc", "style"})
_ATTRIBUTE_ENTITIES: Final = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
_LENGTH = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*(?:px)?\s*")


class SvgError(ValueError):
    """The bytes are not an SVG document this sanitiser accepts; the message says why."""


@dataclass
class _Element:
    name: str
    attributes: list[tuple[str, str]]
    children: list[_Element | str] = field(default_factory=list)


def _refuse(reason: str) -> NoReturn:
    raise SvgError(reason)


class _Builder:
    """Builds the kept tree while expat streams the document (so depth costs no recursion)."""

    def __init__(self) -> None:
        self.root: _Element | None = None
        self.stack: list[_Element | None] = []  # None: inside a dropped element
        self.uses_xlink = False

    def start(self, raw_name: str, raw_attributes: list[str]) -> None:
        if len(self.stack) >= MAX_DEPTH:
            _refuse(f"elements nested deeper than {MAX_DEPTH}")
        parent = self.stack[-1] if self.stack else None
        name = _svg_name(raw_name)
        if not self.stack:
            if name != "svg":
                _refuse("the root element must be <svg>")
        elif parent is None or name not in ELEMENTS:
            self.stack.append(None)
            return
        pairs = zip(raw_attributes[::2], raw_attributes[1::2], strict=True)
        element = _Element(name, [a for a in (self._attribute(name, *p) for p in pairs) if a])
        if parent is None:
            self.root = element
        else:
            parent.children.append(element)
        self.stack.append(element)

    def _attribute(self, element: str, raw_name: str, value: str) -> tuple[str, str] | None:
        ns, _, local = raw_name.rpartition(" ")
        if ns == XLINK_NS and local == "href":
            name = "xlink:href"
        elif ns == XML_NS and local == "space":
            return ("xml:space", value) if value in ("default", "preserve") else None
        elif ns or local not in ATTRIBUTES:
            return None
        else:
            name = local
        if '"' in value:  # never needed by a drawing; keeps every value inside "..."
            return None
        if name in ("href", "xlink:href"):
            if element not in _HREF_ELEMENTS or not value.startswith("#"):
                return None
            self.uses_xlink |= name == "xlink:href"
        try:
            check_css(value if name == "style" else f"a:{value}", allow_url=local_reference)
        except CssError:
            return None
        return name, value

    def end(self, _name: str) -> None:
        element = self.stack.pop()
        if element is not None and element.name == "style":
            try:
                check_css("".join(map(str, element.children)), allow_url=local_reference)
            except CssError:
                parent = self.stack[-1]
                if parent is not None:
                    parent.children.remove(element)

    def text(self, data: str) -> None:
        element = self.stack[-1] if self.stack else None
        if element is not None and element.name in _TEXT_ELEMENTS:
            element.children.append(data)


def _svg_name(raw: str) -> str | None:
    """The local name of an element of the SVG namespace or of none; None for any other."""
    ns, _, local = raw.rpartition(" ")
    return local if ns in ("", SVG_NS) else None


def sanitize_svg(data: bytes) -> bytes:
    """The safe re-serialisation of SVG document ``data`` (UTF-8). Raises ``SvgError`` for
    what is not well-formed XML, has a DOCTYPE or entities, or is not rooted at ``<svg>``."""
    builder = _Builder()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def no_dtd(*_args: object) -> NoReturn:
        _refuse("a DOCTYPE or entity declaration is not allowed")

    parser.StartDoctypeDeclHandler = no_dtd
    parser.EntityDeclHandler = no_dtd
    parser.UnparsedEntityDeclHandler = no_dtd
    parser.ExternalEntityRefHandler = no_dtd
    parser.ordered_attributes = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise SvgError(f"not well-formed XML ({expat.errors.messages[exc.code]})") from None
    except RecursionError:
        raise SvgError("too deeply nested") from None
    if builder.root is None:
        raise SvgError("no <svg> element")
    out: list[str] = []
    _write(builder.root, out, root_namespaces=_namespaces(builder.uses_xlink))
    return "".join(out).encode()


def _namespaces(xlink: bool) -> str:
    return f' xmlns="{SVG_NS}"' + (f' xmlns:xlink="{XLINK_NS}"' if xlink else "")


def _write(element: _Element, out: list[str], root_namespaces: str = "") -> None:
    out.append(f"<{element.name}{root_namespaces}")
    for name, value in element.attributes:
        out.append(f' {name}="{escape(value, _ATTRIBUTE_ENTITIES)}"')
    if not element.children:
        out.append("/>")
        return
    out.append(">")
    for child in element.children:
        if isinstance(child, str):
            out.append(escape(child))
        else:
            _write(child, out)
    out.append(f"</{element.name}>")


def svg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a sanitised SVG: its ``width``/``height`` in pixels, else its
    ``viewBox``'s; None when neither says (percentages, ems)."""
    head = data[: data.find(b">") + 1].decode("utf-8", "replace")
    attributes = dict(re.findall(r'\s([\w:-]+)="([^"]*)"', head))
    w, h = (_LENGTH.fullmatch(attributes.get(k, "")) for k in ("width", "height"))
    if w and h:
        size = round(float(w[1])), round(float(h[1]))
    else:
        parts = attributes.get("viewBox", "").replace(",", " ").split()
        try:
            size = round(float(parts[2])), round(float(parts[3]))
        except (IndexError, ValueError):
            return None
    return size if size[0] > 0 and size[1] > 0 else None
