"""Injected script never runs on a public status page, checked in a real browser: a real
``statpulse serve`` and Debian's Chromium through Playwright (tests/web/browser.py).

An incident is published whose title and Markdown body carry script payloads (``<script>``,
``<img onerror>``, ``<svg onload>``, event attributes breaking out of an attribute,
``javascript:`` and ``data:`` links in raw HTML and in Markdown, an iframe, a meta refresh);
the page, the incident's permalink and both feeds are loaded, the links are clicked and the
title hovered. Every payload would set the global ``window.__pwned``, call ``console.error``
with ``PWNED``, open a dialog or navigate; none of that may happen, the title must be shown as
text, and the page's Content-Security-Policy must report nothing blocked (the payloads never
reach the DOM as markup, and the page itself needs nothing the policy forbids).

The page's appearance (``PUT /api/v1/pages/{slug}/appearance``): custom CSS that could run
script or load from elsewhere (``</style><script>``, ``expression(``, ``@import``,
``behavior:``, ``-moz-binding``, ``url(javascript:)``, CSS escapes) is refused with a 422 naming
``custom_css`` and the stored CSS stays; the kept CSS applies to the page and its theme.css runs
nothing when opened. An SVG logo and favicon full of script (``<script>``, ``onload=``,
``<foreignObject>`` with HTML script, ``xlink:href="javascript:..."``, ``<set>``/``<animate>``)
is stored sanitised; the page (logo clicked and hovered), the logo URL opened on its own (under
its sandboxing CSP) and the sanitised SVG served again without any CSP run nothing.

A control test runs one payload on a blank page to show the watch does see a script that runs.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest

from tests.web import browser as web
from tests.web.browser import SENTINEL, LiveServer, Watch

browser = web.browser  # pytest fixtures (tests/web/browser.py)
live_server = web.live_server
watched_page = web.watched_page

pytestmark = pytest.mark.slow

SLUG = "xss"

TITLE = (
    "<script>window.__pwned='title-script';console.error('PWNED')</script>"
    "<img src=x onerror=\"window.__pwned='title-img';alert('PWNED')\">"
    "<svg onload=\"window.__pwned='title-svg'\"></svg>"
    '" onmouseover="window.__pwned=\'title-attr\'" x="'
)
BODY = "\n\n".join(
    [
        "We are investigating. <script>window.__pwned='body-script';alert('PWNED')</script>",
        "<img src=x onerror=\"window.__pwned='body-img';console.error('PWNED')\">",
        "<svg onload=\"window.__pwned='body-svg'\"><script>window.__pwned='svg'</script></svg>",
        "<a href=\"javascript:window.__pwned='raw-link'\">raw link</a>",
        "[markdown link](javascript:window.__pwned='md-link')",
        "[mixed case](JaVaScRiPt:window.__pwned='md-case')",
        "[entity](&#106;avascript:window.__pwned='md-entity')",
        "[data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "![image](javascript:window.__pwned='md-image')",
        "<iframe src=\"javascript:parent.__pwned='iframe'\"></iframe>",
        '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=\'meta\'">',
        "<details open ontoggle=\"window.__pwned='details'\"><summary>x</summary></details>",
        '<div onclick="window.__pwned=\'div\'" style="position:fixed;inset:0">overlay</div>',
        "<form action=\"javascript:window.__pwned='form'\"><button>submit</button></form>",
    ]
)
PAYLOAD_LINKS = ("raw link", "markdown link", "mixed case", "entity", "data link", "image")


def _publish_incident(server: LiveServer) -> str:
    if httpx.get(f"{server.base}/s/{SLUG}", timeout=10).status_code == 404:
        server.api("POST", "/api/v1/pages", {"slug": SLUG, "title": "XSS status"})
        component = server.api("POST", "/api/v1/components", {"name": "API", "pages": [SLUG]})
    else:
        component = None
    incident = server.api(
        "POST",
        "/api/v1/incidents",
        {
            "title": TITLE,
            "body": BODY,
            "impact": "major",
            "components": [component["id"]] if component else [],
            "publish": True,
        },
    )
    server.api(
        "POST",
        f"/api/v1/incidents/{incident['id']}/updates",
        {"status": "identified", "body": BODY.replace("investigating", "fixing")},
    )
    return str(incident["id"])


@pytest.fixture(scope="module")
def incident_id(live_server: LiveServer) -> str:
    return _publish_incident(live_server)


def _settle(watch: Watch) -> None:
    """Let anything the load scheduled (timers, failed image loads, frames) run. A wait on
    Playwright's side: in a sandboxed document (the logo's CSP) page timers never fire."""
    watch.page.wait_for_timeout(200)


def _assert_nothing_ran(watch: Watch, start_url: str) -> None:
    _settle(watch)
    assert watch.ran() is None, f"a payload ran: window.{SENTINEL} = {watch.ran()!r}"
    assert watch.dialogs == []
    assert watch.errors == []
    pwned = [text for _, text in watch.console if "PWNED" in text]
    assert pwned == [], watch.console
    assert all(url.startswith(start_url.split("#")[0]) for url in watch.navigations), (
        watch.navigations
    )
    assert watch.csp_violations() == [], "the CSP blocked something on the page"
    requested = [u for u in watch.requests if not u.startswith(("http://127.0.0.1", "data:"))]
    assert requested == [], f"requests left the server: {requested}"


def _load(watch: Watch, url: str) -> Any:
    """Load ``url``; what the watch saw before (asserted already) is forgotten."""
    watch.clear()
    response = watch.page.goto(url, wait_until="load")
    assert response is not None
    assert response.status == 200, url
    return response


def _assert_security_headers(headers: dict[str, str]) -> None:
    csp = headers["content-security-policy"]
    directives = {d.strip().split()[0]: d.strip().split()[1:] for d in csp.split(";") if d.strip()}
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src is not None, csp
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, csp
    assert "*" not in script_src and "data:" not in script_src, csp
    assert directives.get("object-src", directives.get("default-src")) in (["'none'"], ["'self'"])
    assert directives["base-uri"] == ["'none'"], csp
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in (
        "no-referrer",
        "same-origin",
        "strict-origin",
        "strict-origin-when-cross-origin",
    )


def _assert_links_are_safe(watch: Watch) -> None:
    hrefs: list[str] = watch.page.eval_on_selector_all(
        "a[href], area[href], form[action], iframe, [src]",
        "els => els.map(e => e.getAttribute('href') ?? e.getAttribute('action') ?? "
        "e.getAttribute('src') ?? '')",
    )
    for href in hrefs:
        assert not re.match(r"\s*(javascript|data|vbscript):", href, re.I), href
    handlers = watch.page.evaluate(
        "() => [...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
        ".filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))"
    )
    assert handlers == []
    scripts = watch.page.eval_on_selector_all("script", "s => s.map(e => e.src)")
    assert scripts and all(re.match(r"http://127\.0\.0\.1:\d+/static/", s) for s in scripts)
    assert watch.page.locator("iframe, object, embed, meta[http-equiv]").count() == 0


def _click_payload_links(watch: Watch, url: str) -> None:
    """Click whatever the payload links became, coming back when one navigates away."""
    for text in PAYLOAD_LINKS:
        target = watch.page.get_by_text(text, exact=True)
        for i in range(target.count()):
            target.nth(i).click(timeout=5000)
            _settle(watch)
            if watch.page.url != url:
                watch.page.goto(url, wait_until="load")


def test_watch_sees_a_script_that_runs(watched_page: Watch) -> None:
    """Control: the same watch on a page that does run a payload catches it."""
    watched_page.page.set_content(
        "<img src=x onerror=\"window.__pwned='control';console.error('PWNED')\">"
    )
    _settle(watched_page)
    assert watched_page.ran() == "control"
    assert ("error", "PWNED") in watched_page.console


def test_incident_payloads_never_run_on_the_page(
    live_server: LiveServer, incident_id: str, watched_page: Watch
) -> None:
    url = f"{live_server.base}/s/{SLUG}"
    response = _load(watched_page, url)
    _assert_security_headers(response.all_headers())
    heading = watched_page.page.locator(f"#incident-{incident_id}-title")
    assert heading.inner_text() == TITLE  # shown as text, not parsed
    assert (
        "We are investigating."
        in watched_page.page.locator(f"#incident-{incident_id}").inner_text()
    )
    _assert_links_are_safe(watched_page)
    heading.hover()
    _click_payload_links(watched_page, url)
    _assert_nothing_ran(watched_page, url)


def test_incident_payloads_never_run_on_the_permalink(
    live_server: LiveServer, incident_id: str, watched_page: Watch
) -> None:
    url = f"{live_server.base}/s/{SLUG}/incidents/{incident_id}"
    response = _load(watched_page, url)
    _assert_security_headers(response.all_headers())
    assert watched_page.page.locator("h1").inner_text() == TITLE
    assert watched_page.page.title().startswith(TITLE)
    _assert_links_are_safe(watched_page)
    watched_page.page.locator("h1").hover()
    _click_payload_links(watched_page, url)
    _assert_nothing_ran(watched_page, url)


@pytest.mark.parametrize("feed", ["feed.rss", "feed.atom"])
def test_incident_payloads_never_run_in_the_feeds(
    live_server: LiveServer, incident_id: str, watched_page: Watch, feed: str
) -> None:
    url = f"{live_server.base}/s/{SLUG}/{feed}"
    response = _load(watched_page, url)
    assert response.headers["x-content-type-options"] == "nosniff"
    # The payloads are text of the feed's titles, not markup...
    feed_titles = [
        e.text
        for e in ElementTree.fromstring(response.body()).iter()
        if e.tag in ("title", "{http://www.w3.org/2005/Atom}title")
    ]
    assert TITLE in feed_titles
    # ...and whatever way Chromium shows the feed (as source text or as an XML tree), no element
    # of any namespace a browser would run is in it.
    elements = watched_page.page.evaluate(
        "() => [...document.getElementsByTagName('*')]"
        ".map(e => (e.namespaceURI ?? '') + ' ' + e.localName)"
    )
    assert not [e for e in elements if e.split()[-1] in ("script", "img", "svg", "iframe")]
    _assert_nothing_ran(watched_page, url)


# --------------------------------------------------------------------------------------------
# Custom CSS and SVG logos (PUT /api/v1/pages/{slug}/appearance)

BRAND = "brand"
CSS_KEPT = "/* the brand's outline */\n.banner { outline: 3px solid #0a7; }"
CSS_REFUSED = [
    "/* </style><script>window.__pwned='css-comment'</script> */ p { color: red; }",
    "</style><script>window.__pwned='css-style'</script>",
    "body { width: expression(window.__pwned='css-expression'); }",
    "@import url(javascript:window.__pwned='css-import');",
    "@import 'https://evil.example/x.css';",
    "body { behavior: url(#default#time2); }",
    "body { -moz-binding: url(https://evil.example/x.xml#x); }",
    "body { background: url(javascript:window.__pwned='css-url'); }",
    "body { background: \\75 rl(https://evil.example/pixel.png); }",
    ".a::after { content: '<img src=x onerror=alert(1)>'; }",
]
SVG_LOGO = """<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
 width="120" height="40" viewBox="0 0 120 40" onload="window.__pwned='svg-onload'">
<script>window.__pwned='svg-script';alert('PWNED')</script>
<script type="text/javascript"><![CDATA[console.error('PWNED')]]></script>
<foreignObject width="120" height="40"><div xmlns="http://www.w3.org/1999/xhtml">
<script>window.__pwned='svg-foreign'</script><img src="x" onerror="window.__pwned='svg-fo-img'"/>
</div></foreignObject>
<rect width="120" height="40" fill="#0066cc" onclick="window.__pwned='svg-click'"
 onmouseover="window.__pwned='svg-over'" xlink:href="javascript:window.__pwned='svg-rect'"/>
<text x="8" y="26" fill="#fff" onfocus="window.__pwned='svg-focus'" tabindex="0">Logo</text>
<a xlink:href="javascript:window.__pwned='svg-xlink'"><circle cx="60" cy="20" r="9"/></a>
<a href="javascript:window.__pwned='svg-href'"><text x="60" y="26">Click</text></a>
<set attributeName="onmouseover" to="window.__pwned='svg-set'"/>
<animate attributeName="href" values="javascript:window.__pwned='svg-animate'"/>
<image href="x" onerror="window.__pwned='svg-image'"/>
<use xlink:href="data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+#x"/>
<circle cx="100" cy="20" r="10" fill="#fc0" style="fill: url(javascript:alert(1))"/>
</svg>"""
SVG_PAYLOAD_MARKERS = (
    *("script", "onload", "onclick", "onmouseover", "onerror", "onfocus", "javascript:"),
    *("foreignObject", "<set", "<animate", "<image", "data:"),
)


def _brand_page(server: LiveServer) -> None:
    if httpx.get(f"{server.base}/s/{BRAND}", timeout=10).status_code == 404:
        server.api("POST", "/api/v1/pages", {"slug": BRAND, "title": "Brand status"})
        server.api("POST", "/api/v1/components", {"name": "Website", "pages": [BRAND]})


def _appearance(server: LiveServer, expect: int = 200, **fields: Any) -> Any:
    return server.api("PUT", f"/api/v1/pages/{BRAND}/appearance", fields, expect=expect)


def test_custom_css_never_runs_script(live_server: LiveServer, watched_page: Watch) -> None:
    _brand_page(live_server)
    _appearance(live_server, custom_css=CSS_KEPT)
    for css in CSS_REFUSED:
        error = _appearance(live_server, expect=422, custom_css=css)
        assert error["error"]["field"] == "custom_css", (css, error)
    stored = live_server.api("GET", f"/api/v1/pages/{BRAND}/appearance", expect=200)
    assert stored["custom_css"] == CSS_KEPT  # every refused PUT left it as it was

    url = f"{live_server.base}/s/{BRAND}"
    response = _load(watched_page, url)
    _assert_security_headers(response.all_headers())
    # The kept CSS applies (so the page did load it), and ran nothing.
    outline = watched_page.page.eval_on_selector(
        ".banner", "e => [getComputedStyle(e).outlineWidth, getComputedStyle(e).outlineStyle]"
    )
    assert outline == ["3px", "solid"]
    _assert_links_are_safe(watched_page)
    _assert_nothing_ran(watched_page, url)

    theme = f"{live_server.base}/s/{BRAND}/theme.css"
    response = _load(watched_page, theme)
    assert response.headers["content-type"].startswith("text/css")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert watched_page.page.locator("script, img").count() == 0  # shown as text
    _assert_nothing_ran(watched_page, theme)


def test_header_links_refuse_script_urls(live_server: LiveServer) -> None:
    _brand_page(live_server)
    for n, url in enumerate(["javascript:alert(1)", "data:text/html,<script>1</script>"]):
        links = [{"label": "Docs", "url": "https://example.com/docs"}, {"label": "x", "url": url}]
        error = _appearance(live_server, expect=422, custom_css=CSS_KEPT, header_links=links)
        assert error["error"]["field"] == "header_links[1].url", (n, error)


def _svg(data: str) -> dict[str, str]:
    return {"media_type": "image/svg+xml", "data": base64.b64encode(data.encode()).decode()}


@pytest.mark.parametrize("image", ["logo", "favicon"])
def test_svg_logo_never_runs_script(
    live_server: LiveServer, watched_page: Watch, image: str
) -> None:
    _brand_page(live_server)
    document: dict[str, Any] = {image: _svg(SVG_LOGO)}
    stored = _appearance(live_server, **document)
    kept = base64.b64decode(stored[image]["data"]).decode()
    for marker in SVG_PAYLOAD_MARKERS:
        assert marker.lower() not in kept.lower(), (marker, kept)
    assert "<rect" in kept and "Logo" in kept  # the drawing itself is kept

    url = f"{live_server.base}/s/{BRAND}"
    _load(watched_page, url)
    if image == "logo":
        logo = watched_page.page.locator("img.logo")
        assert logo.evaluate("e => e.complete && e.naturalWidth") == 120  # it did load
        logo.hover()
        logo.click()
    _assert_nothing_ran(watched_page, url)

    # Opened on its own (a document, where an SVG could run script): under a sandboxing CSP...
    direct = f"{live_server.base}/s/{BRAND}/{image}"
    response = _load(watched_page, direct)
    headers = response.all_headers()
    assert headers["content-type"].startswith("image/svg+xml")
    assert headers["x-content-type-options"] == "nosniff"
    csp = [d.strip() for d in headers["content-security-policy"].split(";")]
    assert "sandbox" in csp and "default-src 'none'" in csp
    watched_page.page.mouse.click(60, 20)
    _assert_nothing_ran(watched_page, direct)

    # ...and, as the inner wall, the sanitised SVG alone: served again without any CSP, it
    # still runs nothing.
    bare = f"{live_server.base}/bare-{image}.svg"
    served = response.body()  # read here: a route handler must not call back into Playwright
    watched_page.page.route(
        bare, lambda route: route.fulfill(status=200, content_type="image/svg+xml", body=served)
    )
    watched_page.clear()
    watched_page.page.goto(bare, wait_until="load")
    assert watched_page.page.locator("svg rect").count() >= 1
    watched_page.page.mouse.move(60, 20)
    watched_page.page.mouse.click(60, 20)
    _assert_nothing_ran(watched_page, bare)
