"""The embeddable widget and the CORS rule of the public documents.

Through the app (httpx, SQLite): ``Access-Control-Allow-Origin: *`` on the Statuspage JSON
(200, 304, 404) and the badges, never with credentials; ``/s/{slug}/widget.js`` (the script,
cache headers, 404 for an unknown page) and its size.

In a real browser (Debian's Chromium through Playwright, ``tests/web/browser.py``) against a
real ``statpulse serve``: a host page served from another loopback origin (a tiny
``http.server``) embeds the one tag; the badge shows what ``summary.json`` says, a component
name and an incident title carrying ``<img onerror>`` stay text, the host's CSS and the
widget's do not reach each other, it works under a strict CSP on the host page, follows
``prefers-color-scheme`` and ``prefers-reduced-motion``, and refreshes after 60 s.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import conftest as api
from tests.api.conftest import Env
from tests.web import browser as web
from tests.web.browser import (
    SENTINEL,
    LiveServer,
    Watch,
    browser,  # noqa: F401  (the module's Chromium)
)

env = api.env  # the app on a temporary SQLite database (tests/api/conftest.py)
live_server = web.live_server
watched_page = web.watched_page

WIDGET = files("statpulse").joinpath("web/static/widget.js").read_bytes()
EVIL = "<img src=x onerror=\"window.__pwned='component';alert('PWNED')\">"
EVIL_TITLE = "Login <img src=x onerror=\"window.__pwned='incident'\"> errors"


# -- through the app -------------------------------------------------------------------------


async def _page(env: Env) -> dict[str, Any]:
    page = await env.client.post(
        "/api/v1/pages", json={"slug": "acme", "title": "Acme"}, headers=env.write
    )
    assert page.status_code == 201, page.text
    body = {"name": "API", "pages": ["acme"]}
    component = await env.client.post("/api/v1/components", json=body, headers=env.write)
    assert component.status_code == 201, component.text
    result: dict[str, Any] = component.json()
    return result


@pytest.mark.parametrize("path", ["summary.json", "status.json", "incidents/unresolved.json"])
async def test_statuspage_json_is_readable_from_any_origin_without_credentials(
    env: Env, path: str
) -> None:
    await _page(env)
    origin = {"Origin": "https://customer.example"}
    r = await env.client.get(f"/s/acme/api/v2/{path}", headers=origin)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    again = await env.client.get(
        f"/s/acme/api/v2/{path}", headers={**origin, "If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304 and again.headers["access-control-allow-origin"] == "*"
    missing = await env.client.get(f"/s/nope/api/v2/{path}", headers=origin)
    assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == "*"


async def test_badges_are_readable_from_any_origin(env: Env) -> None:
    component = await _page(env)
    for path in (
        "/s/acme/badge/status.svg",
        f"/s/acme/components/{component['id']}/badge/uptime.svg",
    ):
        r = await env.client.get(path, headers={"Origin": "https://customer.example"})
        assert r.status_code == 200, path
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers


async def test_widget_script_is_served_per_page_and_cached(env: Env) -> None:
    await _page(env)
    r = await env.client.get("/s/acme/widget.js")
    assert r.status_code == 200 and r.content == WIDGET
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["cross-origin-resource-policy"] == "cross-origin"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "max-age=" in r.headers["cache-control"]
    again = await env.client.get("/s/acme/widget.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert (await env.client.get("/s/nope/widget.js")).status_code == 404
    static = await env.client.get("/static/widget.js")
    assert static.status_code == 200 and static.content == WIDGET


def test_widget_script_is_small_and_never_parses_markup() -> None:
    assert len(WIDGET) < 4096
    source = WIDGET.decode()
    for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function"):
        assert banned not in source, banned
    assert "document.write" not in source


# -- in a real browser -----------------------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """A customer's site on another loopback origin, with the widget embedded."""

    base: str
    server: LiveServer
    page_url: str


HOST_CSS = """
span, a, p { color: rgb(255, 0, 0) !important; font-size: 40px !important; }
.n { font-weight: 400; }
"""


class _Handler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        if self.path.startswith("/strict"):
            self.send_header("Content-Security-Policy", self.server.strict_csp)  # type: ignore[attr-defined]
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _write_site(root: Path, server: str, page_url: str) -> None:
    tag = f'<script src="{page_url}/widget.js" async></script>'
    head = '<meta charset="utf-8"><link rel="stylesheet" href="/host.css">'
    (root / "host.css").write_text(HOST_CSS)
    (root / "index.html").write_text(
        f"<!doctype html><html><head>{head}<title>Customer</title></head><body>"
        f'<p>Our status: {tag}</p><p><span class="n" id="own">Host text</span></p>'
        "</body></html>"
    )
    (root / "strict.html").write_text(
        f"<!doctype html><html><head>{head}<title>Strict</title></head><body><p>{tag}</p>"
        "</body></html>"
    )
    (root / "static.html").write_text(
        f"<!doctype html><html><head>{head}"
        f'<script src="{server}/static/widget.js" data-page="{page_url}" data-target="#here"'
        ' async></script></head><body><div id="here"></div></body></html>'
    )


@pytest.fixture(scope="module")
def host(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    server = live_server
    server.api("POST", "/api/v1/pages", {"slug": "widget", "title": "Acme"})
    server.api("POST", "/api/v1/components", {"name": "API", "pages": ["widget"]})
    evil = server.api("POST", "/api/v1/components", {"name": EVIL, "pages": ["widget"]})
    override = {"status": "major_outage", "reason": "test"}
    server.api("PUT", f"/api/v1/components/{evil['id']}/override", override, expect=200)
    page_url = f"{server.base}/s/widget"
    root = tmp_path_factory.mktemp("customer-site")
    _write_site(root, server.base, page_url)
    handler = functools.partial(_Handler, directory=str(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.strict_csp = (  # type: ignore[attr-defined]
        f"default-src 'none'; script-src {server.base}; connect-src {server.base}; style-src 'self'"
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Host(f"http://127.0.0.1:{httpd.server_address[1]}", server, page_url)
    finally:
        httpd.shutdown()
        httpd.server_close()


def _summary(host: Host) -> dict[str, Any]:
    doc: dict[str, Any] = httpx.get(f"{host.page_url}/api/v2/summary.json", timeout=10).json()
    return doc


def _badge(watch: Watch) -> dict[str, Any]:
    """What the widget drew: its texts, whether its shadow root holds any element it should
    not, the link and computed styles."""
    found: dict[str, Any] = watch.page.evaluate(
        """() => {
          const host = [...document.querySelectorAll('span')].find(e => e.shadowRoot);
          const root = host.shadowRoot, a = root.querySelector('a');
          const css = e => getComputedStyle(e);
          return {
            name: root.querySelector('.n').textContent,
            text: root.querySelector('.t').textContent,
            extra: root.querySelector('.x').textContent,
            indicator: a.getAttribute('data-i'),
            href: a.href,
            role: root.querySelector('[role=status]') !== null,
            tags: [...root.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
            color: css(a).color, background: css(a).backgroundColor,
            fontSize: css(a).fontSize, animation: css(root.querySelector('.d')).animationName,
          };
        }"""
    )
    return found


def _open(watch: Watch, url: str) -> dict[str, Any]:
    watch.page.goto(url)
    watch.page.wait_for_function(
        """() => {
          const host = [...document.querySelectorAll('span')].find(e => e.shadowRoot);
          return host && host.shadowRoot.querySelector('a[data-i]') !== null;
        }""",
        timeout=15_000,
    )
    return _badge(watch)


@pytest.mark.slow
def test_widget_shows_the_summary_on_another_origin_and_names_stay_text(
    host: Host, watched_page: Watch
) -> None:
    summary = _summary(host)
    assert summary["status"]["indicator"] == "major"
    badge = _open(watched_page, f"{host.base}/index.html")
    assert badge["name"] == "Acme:"
    assert badge["text"] == summary["status"]["description"]
    assert badge["indicator"] == "major"
    assert badge["extra"] == f"· {EVIL}: Major outage"
    assert badge["href"] == host.page_url and badge["role"]
    assert "img" not in badge["tags"] and "script" not in badge["tags"]
    assert watched_page.ran() is None and watched_page.dialogs == []
    assert watched_page.errors == []
    requests = [u for u in watched_page.requests if "summary.json" in u]
    assert requests == [f"{host.page_url}/api/v2/summary.json"]


@pytest.mark.slow
def test_host_css_and_widget_css_do_not_reach_each_other(host: Host, watched_page: Watch) -> None:
    badge = _open(watched_page, f"{host.base}/index.html")
    assert badge["color"] == "rgb(31, 35, 40)" and badge["fontSize"] == "14px"
    own = watched_page.page.evaluate(
        "() => { const e = document.getElementById('own'), s = getComputedStyle(e);"
        " return [s.color, s.fontWeight, s.fontSize]; }"
    )
    assert own == ["rgb(255, 0, 0)", "400", "40px"]  # the widget's .n is bold: not here


@pytest.mark.slow
def test_widget_works_under_a_strict_csp_and_from_the_static_script(
    host: Host, watched_page: Watch
) -> None:
    strict = _open(watched_page, f"{host.base}/strict.html")
    assert strict["text"] == _summary(host)["status"]["description"]
    assert strict["color"] == "rgb(31, 35, 40)"  # its stylesheet applied despite style-src
    assert watched_page.csp_violations() == []
    placed = _open(watched_page, f"{host.base}/static.html")
    assert placed["href"] == host.page_url and placed["text"] == strict["text"]
    inside = watched_page.page.evaluate(
        "() => document.querySelector('#here > span').shadowRoot !== null"
    )
    assert inside


@pytest.mark.slow
@pytest.mark.parametrize(("scheme", "motion"), [("dark", "reduce"), ("light", "no-preference")])
def test_widget_follows_colour_scheme_and_reduced_motion(
    host: Host,
    browser: Any,  # noqa: F811
    scheme: str,
    motion: str,
) -> None:
    context = browser.new_context(color_scheme=scheme, reduced_motion=motion)
    try:
        badge = _open(Watch(context.new_page()).attach(), f"{host.base}/index.html")
    finally:
        context.close()
    dark = scheme == "dark"
    assert badge["background"] == ("rgb(22, 27, 34)" if dark else "rgb(255, 255, 255)")
    assert badge["animation"] == ("none" if motion == "reduce" else "p")


@pytest.mark.slow
def test_widget_refreshes_every_minute_and_shows_the_incident_as_text(
    host: Host, watched_page: Watch
) -> None:
    page = watched_page.page
    page.clock.install()
    before = _open(watched_page, f"{host.base}/index.html")
    assert EVIL_TITLE not in before["extra"]
    incident = {"title": EVIL_TITLE, "body": "Looking.", "impact": "minor", "publish": True}
    created = host.server.api("POST", "/api/v1/incidents", incident)
    try:
        page.clock.run_for(61_000)
        page.wait_for_function(
            """(title) => {
              const host = [...document.querySelectorAll('span')].find(e => e.shadowRoot);
              return host.shadowRoot.querySelector('.x').textContent === '· ' + title;
            }""",
            arg=EVIL_TITLE,
            timeout=15_000,
        )
        after = _badge(watched_page)
        assert "img" not in after["tags"]
        assert watched_page.ran() is None and watched_page.dialogs == []
    finally:
        host.server.api(
            "POST", f"/api/v1/incidents/{created['id']}/resolve", {"body": "Done."}, expect=200
        )


@pytest.mark.slow
def test_the_browser_test_payloads_would_be_seen(watched_page: Watch) -> None:
    """Control: the same payload put in as markup does run, so ``ran()`` can fail the tests
    above."""
    watched_page.page.set_content(f"<body>{EVIL}</body>")
    watched_page.page.wait_for_function(f"() => window.{SENTINEL} === 'component'")
    assert watched_page.ran() == "component"
