"""Page appearance: validation (tables), the SVG and CSS sanitisers against known XSS vectors,
theme.css, and the contrast of the themes in status.css."""

from __future__ import annotations

import base64
import contextlib
import re
import struct
from importlib.resources import files
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from statpulse.web.public.appearance import (
    DEFAULT_APPEARANCE,
    MAX_IMAGE_BYTES,
    AppearanceError,
    HeaderLink,
    Image,
    PageAppearance,
    contrast,
    from_document,
    raster_size,
    sniff,
    to_document,
)
from statpulse.web.public.css_sanitize import CssError, check_css
from statpulse.web.public.svg_sanitize import SvgError, sanitize_svg, svg_size
from statpulse.web.public.theme_css import DARK_BG, LIGHT_BG, THEMES, mix, theme_css

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 300, 100) + b"\x08\x06\0\0\0"
GIF = b"GIF89a" + struct.pack("<HH", 16, 16) + b"\0" * 8
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x04ab"
    + b"\xff\xc0\x00\x11\x08"
    + struct.pack(">HH", 50, 80)
    + b"\0" * 12
)
WEBP = (
    b"RIFF\0\0\0\0WEBPVP8X" + b"\0" * 8 + (119).to_bytes(3, "little") + (59).to_bytes(3, "little")
)
SVG_OPEN = b'<svg xmlns="http://www.w3.org/2000/svg">'
SVG_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40"><rect width="9"/></svg>'
)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def image(media_type: str, data: bytes) -> dict[str, str]:
    return {"media_type": media_type, "data": b64(data)}


def field_of(doc: dict[str, Any]) -> str:
    with pytest.raises(AppearanceError) as caught:
        from_document(doc)
    return caught.value.field


LINK = {"label": "Docs", "url": "https://example.com/docs"}


def link(url: str = "https://a.example", label: Any = "x", **extra: str) -> dict[str, Any]:
    return {"label": label, "url": url, **extra}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"theme": "neon"}, "theme"),
        ({"font": "comic-sans"}, "font"),
        ({"color_scheme": "sepia"}, "color_scheme"),
        ({"language": "fr"}, "language"),
        ({"bogus": 1}, "bogus"),
        ({"colors": {"accent": "red"}}, "colors.accent"),
        ({"colors": {"accent": "#12345"}}, "colors.accent"),
        ({"colors": {"accent": "#1234567"}}, "colors.accent"),
        ({"colors": {"accent": "#12345g"}}, "colors.accent"),
        ({"colors": {"primary": "#123456"}}, "colors.primary"),
        ({"colors": []}, "colors"),
        ({"colors": {"background": "#ffffff"}}, "colors.text"),
        ({"colors": {"text": "#000000"}}, "colors.background"),
        ({"colors": {"background": "#ffffff", "text": "#999999"}}, "colors.text"),
        ({"header_links": [LINK] * 9}, "header_links"),
        ({"header_links": "https://example.com"}, "header_links"),
        ({"header_links": ["https://example.com"]}, "header_links[0]"),
        (
            {"header_links": [{"label": "x" * 41, "url": "https://a.example"}]},
            "header_links[0].label",
        ),
        ({"header_links": [link(label=" ")]}, "header_links[0].label"),
        (
            {"header_links": [{"label": "a\x00b", "url": "https://a.example"}]},
            "header_links[0].label",
        ),
        ({"header_links": [link(label=5)]}, "header_links[0].label"),
        (
            {"header_links": [LINK, {"label": "x", "url": "javascript:alert(1)"}]},
            "header_links[1].url",
        ),
        ({"header_links": [link("JaVaScRiPt:alert(1)")]}, "header_links[0].url"),
        (
            {"header_links": [{"label": "x", "url": "data:text/html,<script>"}]},
            "header_links[0].url",
        ),
        ({"header_links": [link("ftp://example.com")]}, "header_links[0].url"),
        ({"header_links": [link("//evil.example")]}, "header_links[0].url"),
        ({"header_links": [link("https://")]}, "header_links[0].url"),
        (
            {"header_links": [{"label": "x", "url": "https://a.example/\x01"}]},
            "header_links[0].url",
        ),
        ({"header_links": [link("/relative")]}, "header_links[0].url"),
        ({"header_links": [link("https://a", rel="x")]}, "header_links[0].rel"),
        ({"logo": "https://example.com/logo.png"}, "logo"),
        ({"logo": {"media_type": "image/bmp", "data": b64(b"BM")}}, "logo.media_type"),
        ({"logo": {"media_type": "image/png", "data": "not base64!"}}, "logo.data"),
        ({"logo": {"media_type": "image/png", "data": ""}}, "logo.data"),
        ({"logo": {"media_type": "image/png"}}, "logo.data"),
        ({"logo": image("image/png", JPEG)}, "logo.data"),
        ({"logo": image("image/jpeg", PNG)}, "logo.data"),
        ({"logo": image("image/webp", b"RIFF\0\0\0\0WAVEfmt ")}, "logo.data"),
        ({"logo": image("image/gif", b"<svg/>")}, "logo.data"),
        ({"logo": image("image/png", PNG + b"\0" * MAX_IMAGE_BYTES)}, "logo.data"),
        ({"favicon": image("image/svg+xml", b"<html><script>x</script></html>")}, "favicon.data"),
        ({"favicon": image("image/svg+xml", b"\x89PNG not xml")}, "favicon.data"),
        ({"favicon": {**image("image/png", PNG), "width": 3}}, "favicon.width"),
        ({"custom_css": "@import 'https://evil.example/x.css';"}, "custom_css"),
        ({"custom_css": "a { color: red; }" * 2000}, "custom_css"),
        ({"custom_css": 42}, "custom_css"),
        ({"custom_css": "a{}\ud800"}, "custom_css"),
    ],
)
def test_invalid_input_is_refused_naming_the_field(doc: dict[str, Any], field: str) -> None:
    assert field_of(doc) == field


def test_an_empty_document_is_the_default_look() -> None:
    assert from_document({}) == DEFAULT_APPEARANCE
    assert from_document(to_document(DEFAULT_APPEARANCE)) == DEFAULT_APPEARANCE


def test_a_full_document_is_kept_with_colours_normalised() -> None:
    doc = {
        "theme": "high-contrast",
        "colors": {"accent": "#ABC", "background": "#000", "text": "#FFFFFF"},
        "font": "mono",
        "color_scheme": "light",
        "custom_css": "h1 { letter-spacing: .01em; }",
        "logo": image("image/png", PNG),
        "favicon": image("image/gif", GIF),
        "header_links": [
            {"label": " Docs ", "url": "https://example.com/docs"},
            {"label": "Mail", "url": "mailto:ops@example.com"},
            {"label": "Blog", "url": "http://blog.example.com"},
        ],
        "language": "de",
    }
    found = from_document(doc)
    assert found.colors == {"accent": "#aabbcc", "background": "#000000", "text": "#ffffff"}
    assert found.header_links[0] == HeaderLink("Docs", "https://example.com/docs")
    assert found.logo == Image("image/png", PNG)
    assert found.language == "de"
    assert from_document(to_document(found)) == found


@pytest.mark.parametrize(
    ("media_type", "data", "size"),
    [
        ("image/png", PNG, (300, 100)),
        ("image/gif", GIF, (16, 16)),
        ("image/jpeg", JPEG, (80, 50)),
        ("image/webp", WEBP, (120, 60)),
    ],
)
def test_raster_images_are_accepted_by_signature_and_measured(
    media_type: str, data: bytes, size: tuple[int, int]
) -> None:
    found = from_document({"logo": image(media_type, data)}).logo
    assert found == Image(media_type, data)
    assert sniff(data) == media_type
    assert raster_size(data) == size


def test_the_logo_box_keeps_the_aspect_ratio_at_the_shown_height() -> None:
    assert Image("image/png", PNG).display_size(48) == (144, 48)
    assert Image("image/svg+xml", SVG_LOGO).display_size(48) == (144, 48)
    assert Image("image/png", b"\x89PNG\r\n\x1a\nbroken").display_size(48) == (48, 48)


@pytest.mark.parametrize(
    ("svg", "size"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="120px" height="40"/>', (120, 40)),
        (b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 300 150"/>', (300, 150)),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0,0,30,10"/>', (30, 10)),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="2em" height="1em"/>', None),
    ],
)
def test_svg_size_comes_from_width_and_height_or_the_viewbox(
    svg: bytes, size: tuple[int, int] | None
) -> None:
    assert svg_size(sanitize_svg(svg)) == size


# Known SVG XSS and data-leak vectors (OWASP XSS filter evasion cheat sheet, the DOMPurify and
# svg-sanitizer test suites, HackTricks' SVG payloads). Each must come out inert.
SVG_VECTORS = [
    b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
    SVG_OPEN + b"<script>alert(1)</script></svg>",
    SVG_OPEN + b"<script><![CDATA[alert(1)]]></script></svg>",
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
    b'<script xlink:href="data:,alert(1)"/></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
    b'<a xlink:href="javascript:alert(1)"><rect width="9" height="9"/></a></svg>',
    SVG_OPEN + b'<a href="javascript:alert(1)"><text>x</text></a></svg>',
    SVG_OPEN + b'<foreignObject><body xmlns="http://www.w3.org/1999/'
    b'xhtml" onload="alert(1)"><iframe src="javascript:alert(1)"/></body></foreignObject></svg>',
    SVG_OPEN + b'<a><animate attributeName="href" '
    b'values="javascript:alert(1)"/><text>x</text></a></svg>',
    SVG_OPEN + b'<set attributeName="onmouseover" to="alert(1)"/></svg>',
    SVG_OPEN + b'<rect><animate attributeName="fill" to="red" onbegin="alert(1)"/></rect></svg>',
    SVG_OPEN + b'<image href="https://evil.example/x.png"/></svg>',
    SVG_OPEN + b'<use href="https://evil.example/x.svg#a"/></svg>',
    SVG_OPEN + b'<use href="data:image/svg+xml;base64,PHN2Zy8+#a"/></svg>',
    SVG_OPEN + b"<style>@import url(https://evil.example/x.css);</style><rect/></svg>",
    SVG_OPEN + b"<style>rect{fill:url(https://evil.example/t)}</style></svg>",
    SVG_OPEN + b'<rect style="fill:url(https://evil.example/t)"/></svg>',
    SVG_OPEN + b'<rect style="x:expression(alert(1))"/></svg>',
    SVG_OPEN + b'<rect fill="url(javascript:alert(1))"/></svg>',
    SVG_OPEN + b'<rect fill="url(&quot;https://evil.example&quot;)"/></svg>',
    SVG_OPEN + b'<iframe src="javascript:alert(1)"/></svg>',
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:html="http://www.w3.org/1999/xhtml">'
    b"<html:script>alert(1)</html:script></svg>",
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:ev="http://www.w3.org/2001/xml-events">'
    b'<handler ev:event="load">alert(1)</handler></svg>',
    SVG_OPEN + b'<filter><feImage href="https://evil.example/x"/></filter></svg>',
    SVG_OPEN + b"<text><![CDATA[<script>alert(1)</script>]]></text></svg>",
    SVG_OPEN + b'<rect ONLOAD="alert(1)" OnClick="alert(1)"/></svg>',
    SVG_OPEN + b'<use href=" javascript:alert(1)#x"/></svg>',
    SVG_OPEN + b'<rect xml:base="javascript:alert(1)//"/></svg>',
    SVG_OPEN + b'<animateMotion><mpath href="https://evil.example"/></animateMotion></svg>',
    SVG_OPEN + b'<?xml-stylesheet href="https://evil.example/x.css"?>'
    b"<!-- <script>alert(1)</script> --><rect/></svg>",
    SVG_OPEN + b"<title>&lt;script&gt;alert(1)&lt;/script&gt;</title></svg>",
    SVG_OPEN + b"<desc><![CDATA[</desc><script>alert(1)</script>]]></desc></svg>",
    SVG_OPEN + b'<g aria-label="x" style="behavior:url(x.htc)"/></svg>',
    SVG_OPEN + b'<rect class="a" width="1&#x22; onload=&#x22;x"/></svg>',
]
_INERT = re.compile(
    rb"<script|javascript:|<foreignobject|\son\w+\s*=|https?:|data:|<set|<animate|<image|<feimage"
    rb"|<iframe|<handler|<a[\s>]|@import|expression\(|behavior|<!--|<\?|xml:base|<mpath",
    re.IGNORECASE,
)


def _without_namespaces(svg: bytes) -> bytes:
    return svg.replace(b' xmlns="http://www.w3.org/2000/svg"', b"").replace(
        b' xmlns:xlink="http://www.w3.org/1999/xlink"', b""
    )


@pytest.mark.parametrize("vector", SVG_VECTORS, ids=range(len(SVG_VECTORS)))
def test_svg_xss_vectors_come_out_inert(vector: bytes) -> None:
    out = sanitize_svg(vector)
    assert _INERT.search(_without_namespaces(out)) is None, out
    assert out.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"')
    assert sanitize_svg(out) == out  # the output is itself clean, well-formed SVG


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">'
        b']><svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>',
        b'<!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>',
        b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        b'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd"><svg xmlns="http://www.w3.org/2000/svg"/>',
        SVG_OPEN + b"<text>&nbsp;</text></svg>",
        SVG_OPEN + b"<rect></svg>",
        b'<html xmlns="http://www.w3.org/1999/xhtml"><svg xmlns="http://www.w3.org/2000/svg"/></html>',
        b'<x:svg xmlns:x="urn:other"/>',
        b"<svg>" * 200 + b"</svg>" * 200,
        b"",
    ],
)
def test_svg_with_a_doctype_entities_or_no_svg_root_is_refused(document: bytes) -> None:
    with pytest.raises(SvgError):
        sanitize_svg(document)


def test_drawing_elements_local_references_and_styles_survive() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        b'xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" viewBox="0 0 10 10" '
        b'inkscape:version="1.0"><defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/>'
        b'</linearGradient><path id="p" d="M0 0h10"/></defs><style>.a{fill:url(#g)}</style>'
        b'<rect class="a" width="10" height="10" fill="url(#g)"/><use xlink:href="#p"/>'
        b'<text x="1" y="9">A &amp; B</text></svg>'
    )
    out = sanitize_svg(svg).decode()
    for kept in (
        'viewBox="0 0 10 10"',
        '<stop offset="0" stop-color="#f00"/>',
        "<style>.a{fill:url(#g)}</style>",
        'fill="url(#g)"',
        '<use xlink:href="#p"/>',
        "A &amp; B",
    ):
        assert kept in out
    assert "inkscape" not in out


# Known CSS injection vectors: loading another origin (leaks visitors' addresses), old script
# hooks, and breaking out of a <style> element.
CSS_REFUSED = [
    "@import 'https://evil.example/x.css';",
    "@IMPORT url(x.css);",
    "@\\69mport 'x.css';",
    "@im/**/port 'x.css';",
    "a { background: url(https://evil.example/track.png) }",
    "a { background: URL( '//evil.example/x' ) }",
    "a { background: u\\rl(https://evil.example/x) }",
    "a { background: \\75 rl(https://evil.example/x) }",
    "a { background: url(/relative/to/this/origin.png) }",
    "a { background: url(data:text/css,a{}) }",
    "a { background: url(javascript:alert(1)) }",
    "a { width: expression(alert(1)) }",
    "a { width: expr/**/ession(alert(1)) }",
    "a { width: ex\\pression(alert(1)) }",
    "a { behavior: url(x.htc) }",
    "a { behavior : x }",
    "a { -moz-binding: url(x.xml#xss) }",
    "a { b: c } </style><script>alert(1)</script>",
    "a { b: c } </STYLE >",
    "<!-- a { b: c } -->",
    'a::after { content: "<img src=x onerror=alert(1)>" }',
    "@font-face { font-family: x; src: url(https://fonts.example/x.woff2) }",
    "a { background: image-set('https://evil.example/a.png' 1x) }",
    "a { background: -webkit-image-set('https://evil.example/a.png' 1x) }",
    "a { background: image('https://evil.example/a.png') }",
    "a { background: src('https://evil.example/a.png') }",
    "a { b: c }\x00",
    "a { list-style: url(vbscript:x) }",
    "a { color: red } a { x: java\\73 cript:alert(1) }",
]
CSS_ACCEPTED = [
    ".banner { border-radius: 0; }",
    "@media (width < 40rem) { h1 { font-size: 1.25rem; } }",
    "@media (width <= 40rem) { h1 { font-size: 1.25rem; } }",
    "header { background: url(data:image/png;base64,iVBORw0KGgo=) no-repeat; }",
    "header { background: url('data:image/svg+xml,%3Csvg xmlns=%22...%22/%3E'); }",
    'a::after { content: "\\2192"; }',
    "@media (prefers-color-scheme: dark) { :root { --accent: #79c0ff; } }",
    ".components > .component + .component { border-top-width: 2px; }",
    "/* a comment with url(https://example.com) inside is ignored */ h1 { color: #000; }",
]


@pytest.mark.parametrize("css", CSS_REFUSED)
def test_css_that_loads_other_origins_or_runs_script_is_refused(css: str) -> None:
    with pytest.raises(CssError):
        check_css(css)


@pytest.mark.parametrize("css", CSS_ACCEPTED)
def test_ordinary_css_is_accepted(css: str) -> None:
    check_css(css)


def test_the_refusal_of_external_urls_says_why() -> None:
    with pytest.raises(AppearanceError) as caught:
        from_document({"custom_css": "body { background: url(https://x.example/a.png) }"})
    assert caught.value.field == "custom_css"
    assert "data:image/" in caught.value.message
    assert "address" in caught.value.message


def test_the_default_theme_css_sets_the_font_and_follows_the_visitor() -> None:
    css = theme_css(DEFAULT_APPEARANCE)
    assert "--font: system-ui" in css
    assert "color-scheme: light dark;" in css
    assert "!important" not in css


def _declared(css: str, variable: str) -> list[str]:
    return re.findall(rf"{variable}: (#[0-9a-f]{{6}}) !important;", css)


def test_owner_colours_stay_readable_on_the_light_and_the_dark_background() -> None:
    appearance = PageAppearance(colors={"accent": "#ffd700", "down": "#000080", "up": "#1a7f37"})
    css = theme_css(appearance)
    light, dark = css.split("@media (prefers-color-scheme: dark)")
    assert _declared(light, "--up") == ["#1a7f37"]  # already readable: unchanged
    for part, bg in ((light, LIGHT_BG), (dark, DARK_BG)):
        for variable in ("--accent", "--down", "--up"):
            (color,) = _declared(part, variable)
            assert contrast(color, bg) >= 4.5, (variable, color, bg)


def test_a_fixed_dark_scheme_uses_the_dark_background_without_a_media_query() -> None:
    css = theme_css(PageAppearance(color_scheme="dark", colors={"accent": "#000080"}))
    assert "prefers-color-scheme" not in css
    assert "color-scheme: dark;" in css
    (accent,) = _declared(css, "--accent")
    assert contrast(accent, DARK_BG) >= 4.5


def test_an_owner_background_sets_readable_muted_text_and_banner_text() -> None:
    colors = {"background": "#102030", "text": "#f0f0f0", "degraded": "#705000"}
    css = theme_css(PageAppearance(colors=colors, font="serif"))
    assert "--bg: #102030 !important;" in css
    assert "--fg: #f0f0f0 !important;" in css
    assert "--on-s: #102030 !important;" in css
    assert "color-scheme: dark;" in css
    assert "--font: ui-serif" in css
    (muted,) = _declared(css, "--muted")
    (degraded,) = _declared(css, "--degraded")
    assert contrast(muted, "#102030") >= 4.5
    assert contrast(degraded, "#102030") >= 4.5


def test_custom_css_comes_last() -> None:
    css = theme_css(PageAppearance(colors={"accent": "#123456"}, custom_css="h1 { color: red; }"))
    assert css.rstrip().endswith("h1 { color: red; }")
    assert css.index("--accent") < css.index("h1 { color: red; }")


def test_mix_weights_the_first_colour() -> None:
    assert mix("#ffffff", "#000000", 0.5) == "#808080"
    assert mix("#ff0000", "#0000ff", 1.0) == "#ff0000"


# The themes' text stays readable (WCAG AA) wherever it can sit; their palettes sit on top of
# status.css's default ones.
STATUS_CSS = files("statpulse").joinpath("web/static/status.css").read_text()


def _declarations(text: str) -> dict[str, str]:
    return dict(re.findall(r"(--[\w-]+):\s*([^;]+);", text))


def _block(selector: str) -> dict[str, str]:
    found = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", STATUS_CSS)
    assert found, selector
    return _declarations(found[1])


def _hex(color: str) -> str:
    return color if len(color) == 7 else "#" + "".join(c * 2 for c in color[1:])


def _over(rgba: str, bg: str) -> str:
    """An ``rgb(r g b / a)`` colour composited over ``bg``."""
    r, g, b, a = (float(x) for x in re.findall(r"[\d.]+", rgba))
    return mix("#{:02x}{:02x}{:02x}".format(*map(int, (r, g, b))), bg, a)


def _palette(theme: str, dark: bool) -> dict[str, str]:
    base = _block(":root[data-scheme=dark]" if dark else ":root")
    own = THEMES[theme].dark if dark else THEMES[theme].light
    return {
        k: _hex(v) if v.startswith("#") else v
        for k, v in {**base, **_declarations(" ".join(own))}.items()
    }


@pytest.mark.parametrize("theme", sorted(THEMES))
def test_a_themes_dark_palette_sets_every_variable_its_light_one_does(theme: str) -> None:
    light = _declarations(" ".join(THEMES[theme].light))
    dark = _declarations(" ".join(THEMES[theme].dark))
    assert set(light) <= set(dark)


@pytest.mark.parametrize("dark", [False, True])
def test_liquid_glass_text_is_readable_on_its_gradient_and_its_panels(dark: bool) -> None:
    palette = _palette("liquid-glass", dark)
    for stop in (palette[k] for k in ("--bg", "--g1", "--g2", "--g3")):
        for variable in ("--fg", "--muted", "--accent"):  # text and links on the gradient
            assert contrast(palette[variable], stop) >= 4.5, (variable, stop)
        panel = _over(palette["--glass"], stop)
        for variable in ("--fg", "--muted", "--up", "--degraded", "--down", "--maintenance"):
            assert contrast(palette[variable], panel) >= 4.5, (variable, panel)
    css = theme_css(PageAppearance(theme="liquid-glass"))
    assert "backdrop-filter: blur(16px) saturate(180%)" in css
    assert "@media (prefers-color-scheme: dark)" in css


@pytest.mark.parametrize("dark", [False, True])
def test_high_contrast_text_reaches_seven_to_one(dark: bool) -> None:
    palette = _palette("high-contrast", dark)
    for variable in ("--fg", "--muted", "--accent", "--up", "--degraded", "--down", "--unknown"):
        assert contrast(palette[variable], palette["--bg"]) >= 7, variable
        assert contrast(palette["--on-s"], palette[variable]) >= 4.5, variable  # banners


@pytest.mark.parametrize("dark", [False, True])
def test_the_default_palettes_keep_text_and_banners_readable(dark: bool) -> None:
    palette = {
        k: _hex(v)
        for k, v in _block(":root[data-scheme=dark]" if dark else ":root").items()
        if v.startswith("#")
    }
    for variable in (
        "--fg",
        "--muted",
        "--accent",
        "--up",
        "--degraded",
        "--down",
        "--maintenance",
    ):
        assert contrast(palette[variable], palette["--bg"]) >= 4.5, variable
    for variable in ("--up", "--degraded", "--down", "--maintenance"):
        assert contrast(palette["--on-s"], palette[variable]) >= 4.5, variable


def test_a_fixed_scheme_gets_only_that_palette_of_its_theme() -> None:
    light = theme_css(PageAppearance(theme="high-contrast", color_scheme="light"))
    dark = theme_css(PageAppearance(theme="high-contrast", color_scheme="dark"))
    assert "--fg: #000" in light and "--fg: #fff" not in light
    assert "--fg: #fff" in dark and "--fg: #000" not in dark
    assert "prefers-color-scheme" not in light + dark


def test_status_css_follows_the_scheme_attribute_and_the_visitors_preference() -> None:
    assert "@media (prefers-color-scheme: dark) {\n  :root:not([data-scheme=light])" in STATUS_CSS
    assert _block(":root[data-scheme=dark]") == _block(":root:not([data-scheme=light])")
    assert "font: 100%/1.5 var(--font);" in STATUS_CSS


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)
DOCUMENT_FIELDS = "theme colors font color_scheme custom_css logo favicon header_links language"
document_like = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(DOCUMENT_FIELDS.split(), json_values)
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(document_like, st.dictionaries(st.text(max_size=12), json_values)))
def test_any_json_is_either_an_appearance_or_an_error_naming_a_printable_field(
    doc: dict[str, Any],
) -> None:
    field = "ok"
    try:
        from_document(doc)
    except AppearanceError as exc:
        field = exc.field
    field.encode("utf-8")
    assert field.isprintable()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200).map(lambda t: SVG_OPEN + t.encode()))
def test_the_svg_sanitiser_never_fails_otherwise_than_with_svg_error(data: bytes) -> None:
    try:
        out = sanitize_svg(data)
    except SvgError:
        return
    assert sanitize_svg(out) == out


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_the_css_check_never_fails_otherwise_than_with_css_error(css: str) -> None:
    with contextlib.suppress(CssError):
        check_css(css)
