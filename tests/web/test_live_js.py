"""live.js on the real status page markup in Chromium: a live message updates the banner, each
component and each group's summary line. The page's EventSource is replaced by one the test
drives, so the message is exactly the one given (the stream itself is tested in
test_live_fanout.py). Sync Playwright: no async test may live in this module."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web import browser as web
from tests.web.browser import LiveServer

browser = web.browser
live_server = web.live_server

FAKE_EVENT_SOURCE = """
window.EventSource = class {
  constructor(url) { this.url = url; this.readyState = 1; window.__events = this; }
  close() { this.readyState = 2; }
};
window.EventSource.CLOSED = 2;
"""


@pytest.mark.slow
def test_a_live_message_updates_the_banner_components_and_group_summaries(
    browser: Any, live_server: LiveServer
) -> None:
    live_server.api("POST", "/api/v1/pages", {"slug": "grouped", "title": "Grouped"})
    component = live_server.api("POST", "/api/v1/components", {"name": "API", "pages": ["grouped"]})
    group = live_server.api(
        "POST", "/api/v1/pages/grouped/groups", {"name": "Core", "components": [component["id"]]}
    )
    context = browser.new_context()
    try:
        context.add_init_script(FAKE_EVENT_SOURCE)
        page = context.new_page()
        page.goto(f"{live_server.base}/s/grouped")
        page.wait_for_function("() => window.__events !== undefined")
        message = {
            "overall": "down",
            "banner": "Major outage",
            "updated_at": "2026-11-23T12:00:00Z",
            "components": [{"id": component["id"], "status": "down", "label": "Major outage"}],
            "groups": [{"id": group["id"], "status": "down", "label": "Major outage"}],
        }
        page.evaluate("m => window.__events.onmessage({data: JSON.stringify(m)})", message)
        group_el = page.locator(f'[data-group-id="{group["id"]}"]')
        assert group_el.get_attribute("data-status") == "down"
        assert group_el.locator("summary .status").text_content() == "Major outage"
        component_el = page.locator(f'[data-component-id="{component["id"]}"]')
        assert component_el.get_attribute("data-status") == "down"
        assert component_el.locator(".status").first.text_content() == "Major outage"
        assert page.locator("#overall").text_content() == "Major outage"
    finally:
        context.close()
