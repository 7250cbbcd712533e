"""Markdown of incident updates and maintenances: rendered, and sanitised whatever the input
(markdown-it-py with raw HTML off, then nh3 with an allowlist)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from statpulse.web.public.markdown import ATTRIBUTES, TAGS, render_markdown


class Elements(HTMLParser):
    """Every start tag of a fragment with its attributes (values unescaped)."""

    def __init__(self, fragment: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))


def assert_safe(out: str) -> None:
    lowered = out.lower()
    assert "<script" not in lowered and "<style" not in lowered and "<img" not in lowered
    # Every "<" left in the output opens one of our tags, so this finds any event handler.
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", lowered)
    for tag, attrs in Elements(out).tags:
        assert tag in TAGS, tag
        extra = {"rel"} if tag == "a" else set()
        assert set(attrs) <= ATTRIBUTES.get(tag, set()) | extra, (tag, attrs)
        href = re.sub(r"[\s\x00-\x1f]", "", html.unescape(attrs.get("href", ""))).lower()
        assert not href.startswith(("javascript:", "vbscript:", "data:")), href
        # A scheme is a letter then letters, digits, "+", "-" or "." (RFC 3986); ":x" or
        # "1:x" have none: relative references, harmless.
        scheme = re.match(r"([a-z][a-z0-9+.-]*):", href)
        if scheme is not None:
            assert scheme.group(1) in {"http", "https", "mailto"}, href


def test_bold_and_links_render() -> None:
    out = render_markdown("**bold** and _em_, see [docs](https://example.com/x)")
    assert "<strong>bold</strong>" in out and "<em>em</em>" in out
    assert '<a href="https://example.com/x" rel="nofollow noopener">docs</a>' in out


def test_lists_code_and_quotes_render() -> None:
    out = render_markdown("- one\n- two\n\n> quoted\n\n`code` and\n\n```\nblock\n```")
    assert "<ul>" in out and "<li>one</li>" in out and "<blockquote>" in out
    assert "<code>code</code>" in out and "<pre><code>block" in out


def test_a_script_tag_is_shown_as_text() -> None:
    out = render_markdown("<script>alert(1)</script>")
    assert "<script" not in out and "&lt;script&gt;" in out


def test_a_javascript_link_is_not_a_link() -> None:
    for source in (
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](&#106;avascript:alert(1))",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
    ):
        out = render_markdown(source)
        assert "href" not in out, source
        assert_safe(out)


def test_an_event_attribute_never_survives() -> None:
    out = render_markdown("<img src=x onerror=alert(1)>")
    assert "<img" not in out and "&lt;img" in out
    assert_safe(out)


def test_a_style_attribute_never_survives() -> None:
    out = render_markdown('<a href="#" style="position:fixed;inset:0">x</a>')
    assert "<a " not in out and "&lt;a href" in out
    assert_safe(out)


def test_headings_and_images_stay_out_of_the_page_outline() -> None:
    out = render_markdown("# Title\n\n![pixel](https://tracker.example/p.gif)")
    assert "<h1" not in out and "# Title" in out
    assert "<img" not in out
    assert '<a href="https://tracker.example/p.gif" rel="nofollow noopener">pixel</a>' in out


def test_other_schemes_lose_their_href_but_relative_and_mailto_stay() -> None:
    out = render_markdown("[f](ftp://x/y) [m](mailto:ops@example.com) [r](/s/acme)")
    assert 'href="ftp:' not in out
    assert 'href="mailto:ops@example.com"' in out and 'href="/s/acme"' in out


@pytest.mark.parametrize("blank", ["", "   ", "\n\n"])
def test_blank_text_renders_nothing(blank: str) -> None:
    assert render_markdown(blank) == ""


ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
    "[x](javascript:alert(1))",
    "[x]( javascript:alert(1) )",
    "[x](java\tscript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "<img src=x onerror=alert(1)>",
    '<a href="#" style="color:red" onclick="alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "<javascript:alert(1)>",
    '<div style="x" onmouseover="y">',
    "![x](javascript:alert(1))",
    "`",
    "*",
    "[",
    "](",
    ")",
    "\n\n",
    "| a |\n|---|\n| <b onclick=x> |",
    "<!-- -->",
    '"',
    "'",
    "&",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(), st.sampled_from(ATTACKS)), max_size=8).map("".join))
@example("[](:)")  # a relative link whose first segment holds a colon (found by Hypothesis)
def test_any_text_renders_to_safe_html(source: str) -> None:
    assert_safe(str(render_markdown(source)))
