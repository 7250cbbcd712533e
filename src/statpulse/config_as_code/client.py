"""The REST calls of ``statpulse config``: reading the organisation, making the plan's requests.

httpx errors and API error answers are translated here, once, into ``ApiCallError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from statpulse.config_as_code.plan import Plan
from statpulse.config_as_code.state import (
    MONITOR_FIELDS,
    Current,
    CurrentComponent,
    CurrentMonitor,
    CurrentPage,
)

TIMEOUT_S = 30.0


class ApiCallError(Exception):
    """A request failed: no answer, or an error answer (``str()`` says which and why)."""


class ApplyError(Exception):
    """A request of the plan failed after ``applied`` requests succeeded."""

    def __init__(self, what: str, applied: int, cause: ApiCallError) -> None:
        super().__init__(f"{what}: {cause}")
        self.what = what
        self.applied = applied
        self.cause = cause


class Api:
    """The organisation of API key ``key`` on the server at ``url``. ``client`` is the httpx
    client to send with (default: a new one, closed by ``close``)."""

    def __init__(self, url: str, key: str, client: httpx.Client | None = None) -> None:
        self._base = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"}
        self._own = client is None
        self._client = client or httpx.Client(timeout=TIMEOUT_S)

    def close(self) -> None:
        if self._own:
            self._client.close()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """The JSON answer (None for 204); raises ApiCallError."""
        try:
            response = self._client.request(
                method, self._base + path, json=body, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise ApiCallError(f"cannot reach {self._base}: {exc}") from None
        if response.status_code >= 400:
            raise ApiCallError(f"the API answered {response.status_code}: {_message(response)}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiCallError(
                f"{method} {path}: the answer is not JSON (is {self._base} StatPulse?)"
            ) from None

    def read_state(self) -> Current:
        """Monitors, pages and each page's components; raises ApiCallError."""
        monitors = tuple(
            CurrentMonitor(m["id"], m["name"], {f: m.get(f) for f in MONITOR_FIELDS})
            for m in self.request("GET", "/api/v1/monitors")["data"]
        )
        pages = []
        for page in self.request("GET", "/api/v1/pages"):
            components = tuple(
                CurrentComponent(c["id"], c["name"], c["description"], c["monitor_id"])
                for c in self.request("GET", f"/api/v1/pages/{page['slug']}/components")
            )
            pages.append(
                CurrentPage(
                    page["id"], page["slug"], page["title"], page["description"], components
                )
            )
        return Current(monitors, tuple(pages))

    def apply(self, plan: Plan, current: Current, done: Callable[[str], None]) -> int:
        """Makes the plan's requests in order, calling ``done`` with each step's line once it
        succeeded; returns how many. Raises ApplyError at the first failure."""
        ids = {m.name: m.id for m in current.monitors}
        applied = 0
        for step in plan.requests:
            assert step.method is not None
            body = dict(step.body) if step.method != "DELETE" else None
            if step.ref is not None and body is not None:
                name = step.ref[1]
                body[step.ref[0]] = ids[name]
            try:
                answer = self.request(step.method, step.path, body)
            except ApiCallError as exc:
                raise ApplyError(step.what, applied, exc) from None
            if step.creates is not None:
                ids[step.creates] = answer["id"]
            applied += 1
            done(step.line())
        return applied


def _message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason_phrase
