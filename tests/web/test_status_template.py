"""The public status page template: structure, escaping, live-update hooks, CSP, size."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from importlib.resources import files

import pytest
from jinja2 import Environment, PackageLoader

from statpulse.model import DayUptime, Status
from statpulse.web.public.view import (
    ComponentView,
    PageView,
    format_pct,
    last_days,
    template_globals,
    uptime_pct,
)

UPDATED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
TODAY = date(2024, 5, 1)
VOID = {"meta", "link", "br", "img", "input", "hr", "source", "wbr"}


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parents: list[str]) -> None:
        self.tag = tag
        self.attrs = attrs
        self.parents = parents
        self.text = ""


class Tree(HTMLParser):
    """Every element with its attributes, ancestors and text; checks tags are balanced."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.open: list[Element] = []
        self.feed(html)
        self.close()
        assert not self.open, f"unclosed: {[e.tag for e in self.open]}"

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs), [e.tag for e in self.open])
        self.elements.append(element)
        if tag not in VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, dict(attrs), [e.tag for e in self.open]))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.open, f"stray </{tag}>"
        assert self.open[-1].tag == tag, f"</{tag}> closes <{self.open[-1].tag}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data

    def all(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]

    def one(self, tag: str) -> Element:
        found = self.all(tag)
        assert len(found) == 1, f"{len(found)} <{tag}> elements"
        return found[0]


@pytest.fixture(scope="module")
def env() -> Environment:
    environment = Environment(loader=PackageLoader("statpulse", "web/templates"), autoescape=True)
    environment.globals.update(template_globals())
    return environment


def render(env: Environment, page: PageView) -> str:
    return env.get_template("status_page.html").render(page=page)


def busy_days(seed: int) -> tuple[DayUptime, ...]:
    """90 days of one check every 10 s with blips, slow days and an outage now and then."""
    rows = []
    for i, d in enumerate(last_days([], today=TODAY)):
        k = i + seed
        ok = 8640 - (4 if k % 7 == 0 else 0) - (900 if k % 45 == 0 else 0)
        degraded = 200 if k % 30 == 0 else (3 if k % 5 == 0 else 0)
        rows.append(DayUptime(d.day, 8640, ok, degraded))
    return tuple(rows)


def make_component(i: int, status: Status, name: str | None = None) -> ComponentView:
    days = busy_days(i)
    return ComponentView(
        id=f"0190a6b2-7c3d-7e4f-8a9b-{i:012x}",
        name=name or f"Service {i}",
        description=f"Public API number {i} & its webhooks",
        status=status,
        days=days,
        uptime_pct=uptime_pct(days),
    )


@pytest.fixture(scope="module")
def page() -> PageView:
    hostile = '<script>alert("pwned")</script>'
    components = [
        make_component(0, Status.UP),
        make_component(1, Status.DEGRADED, name=hostile),
        make_component(2, Status.PAUSED),
    ]
    return PageView("acme", "Acme <Status>", "Acme's services", components, UPDATED)


@pytest.fixture(scope="module")
def html(env: Environment, page: PageView) -> str:
    return render(env, page)


def test_page_has_lang_landmarks_and_one_h1(html: str) -> None:
    tree = Tree(html)
    assert tree.one("html").attrs.get("lang") == "en"
    assert tree.one("main").parents == ["html", "body"]
    assert tree.one("header").parents == ["html", "body"]  # top level: the banner landmark
    assert tree.one("footer").parents == ["html", "body"]  # top level: contentinfo
    assert tree.one("h1").text == "Acme <Status>"
    assert "Powered by StatPulse" in tree.one("footer").text
    headings = [e.tag for e in tree.elements if e.tag in {"h1", "h2", "h3"}]
    assert headings == ["h1", "h2", "h3", "h3", "h3"]


def test_head_has_meta_description_viewport_and_external_assets(html: str) -> None:
    tree = Tree(html)
    metas = {e.attrs.get("name"): e.attrs.get("content") for e in tree.all("meta")}
    assert metas["description"] == "Acme's services"
    assert metas["viewport"] == "width=device-width, initial-scale=1"
    assert [t.text for t in tree.all("title") if t.parents == ["html", "head"]] == ["Acme <Status>"]
    links = [e.attrs for e in tree.all("link")]
    assert {"rel": "stylesheet", "href": "/static/status.css"} in links
    script = tree.one("script")
    assert script.attrs == {"src": "/static/live.js", "defer": None}


def test_meta_description_falls_back_to_the_title(env: Environment) -> None:
    html = render(env, PageView("acme", "Acme", "", [], UPDATED))
    metas = {e.attrs.get("name"): e.attrs.get("content") for e in Tree(html).all("meta")}
    assert metas["description"] == "Current status and uptime of Acme"
    assert "No components are listed on this page yet." in html


def test_nothing_inline_that_a_strict_csp_would_block(html: str) -> None:
    tree = Tree(html)
    assert all(s.attrs.get("src") and not s.text.strip() for s in tree.all("script"))
    assert tree.all("style") == []
    assert all("style" not in e.attrs for e in tree.elements)
    assert all(not name.startswith("on") for e in tree.elements for name in e.attrs)
    assert "javascript:" not in html


def test_user_text_is_escaped(html: str) -> None:
    assert '<script>alert("pwned")</script>' not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in html
    assert "Acme &lt;Status&gt;" in html
    assert "Public API number 1 &amp; its webhooks" in html
    assert len(Tree(html).all("script")) == 1


def test_live_update_hooks_are_in_data_attributes(html: str, page: PageView) -> None:
    tree = Tree(html)
    assert tree.one("main").attrs["data-events"] == "/s/acme/events"
    banner = next(e for e in tree.elements if e.attrs.get("id") == "overall")
    assert banner.attrs["data-status"] == "degraded"  # paused is ignored
    assert banner.attrs["role"] == "status"
    assert banner.text == "Some systems are degraded"
    items = [e for e in tree.elements if "data-component-id" in e.attrs]
    assert [(e.attrs["data-component-id"], e.attrs["data-status"]) for e in items] == [
        (c.id, c.status.value) for c in page.components
    ]
    labels = [e.text for e in tree.elements if e.attrs.get("class") == "status"]
    assert labels == ["Operational", "Degraded performance", "Paused"]


def test_each_component_shows_its_uptime_bar_and_text(html: str, page: PageView) -> None:
    tree = Tree(html)
    assert len(tree.all("svg")) == 3
    assert len(tree.all("rect")) == 3 * 90
    uptimes = [e.text for e in tree.elements if e.attrs.get("class") == "uptime"]
    assert uptimes == [f"{format_pct(c.uptime_pct)} uptime" for c in page.components]
    assert uptimes[0] == "99.76 % uptime"
    assert "90 days ago" in html


def test_component_without_data_says_no_data(env: Environment) -> None:
    days = last_days([], today=TODAY)
    empty = ComponentView("c", "New", "", Status.UNKNOWN, days, uptime_pct(days))
    tree = Tree(render(env, PageView("acme", "Acme", "", [empty], UPDATED)))
    assert [e.text for e in tree.elements if e.attrs.get("class") == "uptime"] == ["No data"]
    assert [e.text for e in tree.elements if e.attrs.get("class") == "status"] == ["No data"]


def test_last_updated_is_a_machine_readable_time(html: str) -> None:
    time = Tree(html).one("time")
    assert time.attrs["datetime"] == "2024-05-01T12:30:00Z"
    assert time.text == "2024-05-01 12:30 UTC"


def test_twenty_components_of_ninety_days_stay_small(env: Environment) -> None:
    components = [make_component(i, Status.UP) for i in range(20)]
    html = render(env, PageView("acme", "Acme", "", components, UPDATED)).encode()
    packed = len(gzip.compress(html))
    print(f"status page, 20 components x 90 days: {len(html)} bytes, {packed} gzipped")
    Tree(html.decode())
    # A rect with its <title> ("2024-05-01: 99.95 % uptime, 8640 checks") is ~95-110 bytes,
    # so 1800 days cannot fit 120 KB; what travels is the gzipped size (~10 KB).
    assert len(html) < 225_000
    assert packed < 20_000


def test_static_assets_stay_small() -> None:
    static = files("statpulse") / "web" / "static"
    css = (static / "status.css").read_bytes()
    js = (static / "live.js").read_bytes()
    print(f"status.css {len(css)} bytes, live.js {len(js)} bytes")
    assert len(css) < 6 * 1024
    assert len(js) < 3 * 1024
    assert b"@import" not in css
    assert b"url(" not in css  # no external fonts or images
    assert b"prefers-color-scheme: dark" in css
