"""No input gets a 500: arbitrary JSON bodies and query strings against the monitors API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statpulse.model import Scope
from statpulse.security import apikeys
from statpulse.settings import Settings
from statpulse.web.app import create_app

T = TypeVar("T")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = ["name", "kind", "target", "interval_s", "timeout_s", "regions", "http", "conditions",
          "latency", "failure_threshold", "recovery_threshold"]  # fmt: skip
monitor_like = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(FIELDS, json_values) | {"kind": st.sampled_from(["http", "tcp", "x"])},
)
# What a client can put in a URL path segment (httpx refuses control characters and '/').
PATH_SEGMENT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/?#"), max_size=40
)
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


class AppThread:
    """The app (with its lifespan) on an event loop in a thread, so that synchronous
    Hypothesis tests can call it."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._client: httpx.AsyncClient | None = None
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),))

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with self._app.router.lifespan_context(self._app):
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://fuzz") as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()

    def __enter__(self) -> AppThread:
        self._thread.start()
        assert self._ready.wait(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._loop.close()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(30)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        assert self._client is not None
        return self.call(self._client.request(method, url, **kwargs))


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppThread, dict[str, str]]]:
    path: Path = tmp_path_factory.mktemp("fuzz")
    application = create_app(Settings(db=f"sqlite:///{path / 'fuzz.db'}", embedded_runner=False))
    key = apikeys.generate()

    async def seed() -> None:
        store = application.state.services.store
        org = await store.create_org("fuzz", "Fuzz")
        await store.create_api_key(org.id, "fuzz", Scope.WRITE, key.prefix, key.secret_hash)

    with AppThread(application) as thread:
        thread.call(seed())
        yield thread, {"Authorization": f"Bearer {key.token}"}


@FUZZ
@given(body=st.one_of(monitor_like, json_values))
def test_monitor_create_never_fails_with_500(
    app: tuple[AppThread, dict[str, str]], body: Any
) -> None:
    thread, auth = app
    response = thread.request("POST", "/api/v1/monitors", json=body, headers=auth)
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert response.json()["error"]["field"]


@FUZZ
@given(start=st.text(max_size=40), end=st.text(max_size=40), monitor=PATH_SEGMENT)
def test_stats_never_fail_with_500(
    app: tuple[AppThread, dict[str, str]], start: str, end: str, monitor: str
) -> None:
    thread, auth = app
    response = thread.request(
        "GET", f"/api/v1/monitors/{monitor}/stats", params={"from": start, "to": end}, headers=auth
    )
    assert response.status_code < 500, response.text


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "a", "kind": "http", "target": "http://x/", "timeout_s": NaN}',
        b'{"name": "a", "kind": "http", "target": "http://x/", "interval_s": Infinity}',
        b'{"name": "a", "kind": "http", "target": "http://x/", "latency": {"p95_ms": -Infinity}}',
        b"\xff\xfe",
        b"[" * 5000,
        b"",
    ],
)
def test_non_json_and_nan_bodies_get_422(app: tuple[AppThread, dict[str, str]], raw: bytes) -> None:
    thread, auth = app
    headers = {**auth, "Content-Type": "application/json"}
    response = thread.request("POST", "/api/v1/monitors", content=raw, headers=headers)
    assert response.status_code == 422, response.text
