"""Fixtures for tests that load StatPulse pages in a real browser: Debian's Chromium
(``make test-deps``) driven headless by Playwright's sync API, and a real ``statpulse serve``
process on a free loopback port with a write API key to seed data.

Use them by naming them in a test module::

    from tests.web import browser as web

    browser = web.browser  # pytest fixtures
    live_server = web.live_server
    watched_page = web.watched_page

Chromium is never downloaded (no ``playwright install``): Playwright launches
``/usr/bin/chromium`` through ``executable_path`` with the flags of FIELD-NOTES "Status pages".
Playwright gives every launch a fresh temporary profile itself (it refuses ``--user-data-dir``
in ``args``). When Chromium is missing the tests are skipped with a loud reason, except in CI
(``CI=true``), where they fail: the same policy as PgBouncer (tests/conftest.py) and Caddy
(tests/test_caddy_e2e.py).

``Watch`` records what a page did that a test about injected script cares about: dialogs
(dismissed), console messages, uncaught errors, every navigation of the main frame and every
request; ``Watch.ran`` reads the sentinel global the payloads set.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.processes import free_port, running, statpulse

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""FIELD-NOTES "Status pages", less ``--user-data-dir`` (Playwright makes a fresh one)."""

SENTINEL = "__pwned"
"""The global every script payload sets (``window.__pwned = 1``)."""


def chromium_path() -> str:
    """Debian's Chromium, or a skip (a failure under CI) naming the missing package."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"{CHROMIUM} is not installed (make test-deps installs Debian's chromium)"
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(f"SKIPPING BROWSER TEST: {reason}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium shared by the module's tests (``playwright.sync_api.Browser``); open
    a fresh context per test with ``browser.new_context()`` (or use ``watched_page``).

    Module scope, not session: while Playwright's sync API is open its event loop counts as
    running in the main thread, which breaks any ``async def`` test (pytest-asyncio cannot start
    its own loop). So keep browser tests in modules of their own, without async tests."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watch:
    """Everything one page did that could betray a script that ran."""

    page: Any  # playwright.sync_api.Page
    dialogs: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    errors: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def attach(self) -> Watch:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        def on_navigation(frame: Any) -> None:
            if frame == self.page.main_frame:
                self.navigations.append(frame.url)

        self.page.on("dialog", on_dialog)
        self.page.on("console", lambda m: self.console.append((m.type, m.text)))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("framenavigated", on_navigation)
        self.page.on("request", lambda r: self.requests.append(r.url))
        return self

    def clear(self) -> None:
        """Forget what was seen so far (before loading the next URL into the same page)."""
        for seen in (self.dialogs, self.console, self.errors, self.navigations, self.requests):
            seen.clear()

    def ran(self) -> object:
        """The sentinel global of the main frame (None when no payload set it)."""
        return self.page.evaluate(f"() => window.{SENTINEL} ?? null")

    def csp_violations(self) -> list[str]:
        """Console reports of what the Content-Security-Policy blocked."""
        return [text for _, text in self.console if "Content Security Policy" in text]


@pytest.fixture
def watched_page(browser: Any) -> Iterator[Watch]:
    """A page in a fresh browser context (no cookies, no cache), watched from its first load."""
    context = browser.new_context()
    try:
        yield Watch(context.new_page()).attach()
    finally:
        context.close()


@dataclass(frozen=True)
class LiveServer:
    """A running ``statpulse serve``: its base URL and a write key of organisation ``web``."""

    base: str
    token: str
    workdir: Path

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def api(self, method: str, path: str, json: object = None, expect: int = 201) -> Any:
        """Call the API with the write key; assert the status and return the JSON (or None)."""
        response = httpx.request(
            method, f"{self.base}{path}", json=json, headers=self.auth, timeout=10
        )
        assert response.status_code == expect, f"{method} {path}: {response.text}"
        return response.json() if response.content else None

    def log(self) -> str:
        return (self.workdir / "server.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """``statpulse serve`` on a fresh SQLite file and a free loopback port, for the module."""
    workdir = tmp_path_factory.mktemp("live-server")
    db = f"sqlite:///{workdir / 'statpulse.db'}"
    created = statpulse("apikey", "create", "--org", "web", "--db", db, cwd=workdir)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    port = free_port()
    with running("serve", "--db", db, "--host", "127.0.0.1", cwd=workdir, port=port):
        yield LiveServer(f"http://127.0.0.1:{port}", token, workdir)
