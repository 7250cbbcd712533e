"""What apply does: the file (``Desired``) against the organisation (``Current``), as an ordered
list of steps (pure).

Order: monitors created (parents first), monitors changed (parents first, so a moved
``depends_on`` never forms a cycle on the way), pages created, components created, monitors
deleted (``--prune``). Monitors are compared as the API returns them (``redacted_document``
of the file's config against the GET output), so secrets are compared by presence only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from statpulse.config_as_code.document import Desired, DocumentError, MonitorSpec, PageSpec
from statpulse.config_as_code.state import MONITOR_FIELDS, NESTED, Current, CurrentPage
from statpulse.web.api.schemas import config_document, redacted_document

MONITORS = "/api/v1/monitors"
_SECRET_MAPS = {("http", "headers"), ("grpc", "metadata")}
_MAX_SHOWN = 60


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the plan; a request when ``method`` is set."""

    sign: str
    """``+`` create, ``~`` change, ``-`` delete, ``!`` cannot be applied through the API,
    `` `` not in the file (left as is)."""
    what: str
    detail: str = ""
    method: str | None = None
    path: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    ref: tuple[str, str] | None = None
    """(body field, monitor name): set to that monitor's id when the request is made."""
    creates: str | None = None
    """The monitor whose id the response carries."""

    def line(self) -> str:
        return f"{self.sign} {self.what}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]

    @property
    def requests(self) -> list[Step]:
        return [s for s in self.steps if s.method]

    @property
    def blocked(self) -> list[Step]:
        return [s for s in self.steps if s.sign == "!"]

    def left_note(self) -> str:
        """``; N not in the file (left as is)``, or nothing."""
        left = sum(1 for s in self.steps if s.sign == " ")
        return f"; {left} not in the file (left as is)" if left else ""

    def counts(self) -> str:
        count = Counter(s.sign for s in self.steps)
        text = f"{count['+']} to create, {count['~']} to change, {count['-']} to delete"
        text += self.left_note()
        if count["!"]:
            text += f"; {count['!']} the API cannot apply"
        return text


def make_plan(desired: Desired, current: Current, *, prune: bool) -> Plan:
    """Raises DocumentError when the file names a monitor the organisation has twice."""
    names = current.monitor_names()
    count = Counter(m.name for m in current.monitors)
    by_name = {m.name: m for m in current.monitors}
    creates: list[Step] = []
    updates: list[Step] = []
    for spec in desired.monitors:
        if count[spec.name] > 1:
            raise DocumentError(
                "",
                f'the organisation has {count[spec.name]} monitors named "{spec.name}": '
                "rename all but one (PATCH /api/v1/monitors/{id}) first",
            )
        found = by_name.get(spec.name)
        if found is None:
            creates.append(_create_monitor(spec))
            continue
        now = dict(found.fields)
        now["depends_on"] = names.get(now["depends_on"], now["depends_on"])
        step = _update_monitor(spec, found.id, now)
        if step is not None:
            updates.append(step)
    wanted = {s.name for s in desired.monitors}
    deletes = []
    for m in current.monitors:
        if m.name not in wanted:
            what = f'monitor "{m.name}"'
            if prune:
                deletes.append(Step("-", what, method="DELETE", path=f"{MONITORS}/{m.id}"))
            else:
                deletes.append(Step(" ", what, "not in the file (--prune deletes it)"))
    pages = list(_pages(desired.pages, current, names, prune=prune))
    return Plan((*creates, *updates, *pages, *deletes))


def _create_monitor(spec: MonitorSpec) -> Step:
    return Step(
        "+",
        f'monitor "{spec.name}"',
        method="POST",
        path=MONITORS,
        body=_json(config_document(spec.config)) | {"depends_on": None},
        ref=("depends_on", spec.depends_on) if spec.depends_on else None,
        creates=spec.name,
    )


def _update_monitor(spec: MonitorSpec, monitor_id: str, now: dict[str, Any]) -> Step | None:
    shown = _json(redacted_document(spec.config)) | {"depends_on": spec.depends_on}
    full = _json(config_document(spec.config))
    body: dict[str, Any] = {}
    details: list[str] = []
    ref = None
    for name in MONITOR_FIELDS:
        if name in NESTED:
            for key, value in shown[name].items():
                if now[name].get(key) != value:
                    body.setdefault(name, {})[key] = full[name][key]
                    details.append(_change(name, key, now[name].get(key), value))
        elif now[name] != shown[name]:
            details.append(_change(name, None, now[name], shown[name]))
            if name == "depends_on":
                body[name] = None
                ref = (name, spec.depends_on) if spec.depends_on else None
            else:
                body[name] = full[name]
    if not details:
        return None
    return Step(
        "~",
        f'monitor "{spec.name}"',
        ", ".join(details),
        method="PATCH",
        path=f"{MONITORS}/{monitor_id}",
        body=body,
        ref=ref,
    )


def _pages(
    desired: tuple[PageSpec, ...], current: Current, names: dict[str, str], *, prune: bool
) -> Iterator[Step]:
    by_slug = {p.slug: p for p in current.pages}
    components: list[Step] = []
    for spec in desired:
        what = f'page "{spec.slug}"'
        found = by_slug.get(spec.slug)
        if found is None:
            body = {"slug": spec.slug, "title": spec.title, "description": spec.description}
            yield Step("+", what, method="POST", path="/api/v1/pages", body=body)
            found = CurrentPage("", spec.slug, spec.title, spec.description, ())
        diff = [
            _change(n, None, getattr(found, n), getattr(spec, n))
            for n in ("title", "description")
            if getattr(found, n) != getattr(spec, n)
        ]
        if diff:
            yield Step("!", what, ", ".join(diff) + " (the API cannot change a page)")
        components.extend(_components(spec, found, names, prune=prune))
    yield from components
    for page in current.pages:
        if page.slug not in {s.slug for s in desired}:
            if prune:
                yield Step("!", f'page "{page.slug}"', "not in the file (the API cannot delete it)")
            else:
                yield Step(" ", f'page "{page.slug}"', "not in the file")


def _components(
    spec: PageSpec, page: CurrentPage, names: dict[str, str], *, prune: bool
) -> Iterator[Step]:
    on_page = f'on page "{spec.slug}"'
    count = Counter(c.name for c in page.components)
    by_name = {c.name: c for c in page.components}
    for c in spec.components:
        what = f'component "{c.name}" {on_page}'
        found = by_name.get(c.name)
        if count[c.name] > 1:
            yield Step("!", what, f"the page has {count[c.name]} components of that name")
        elif found is None:
            body: dict[str, Any] = {
                "name": c.name,
                "description": c.description,
                "monitor_id": None,
                "pages": [spec.slug],
            }
            ref = ("monitor_id", c.monitor) if c.monitor else None
            yield Step("+", what, method="POST", path="/api/v1/components", body=body, ref=ref)
        else:
            monitor = names.get(found.monitor_id, found.monitor_id) if found.monitor_id else None
            diff = []
            if found.description != c.description:
                diff.append(_change("description", None, found.description, c.description))
            if monitor != c.monitor:
                diff.append(_change("monitor", None, monitor, c.monitor))
            if diff:
                yield Step("!", what, ", ".join(diff) + " (the API cannot change a component)")
    wanted = {c.name for c in spec.components}
    for name in count:
        if name not in wanted:
            what = f'component "{name}" {on_page}'
            if prune:
                yield Step("!", what, "not in the file (the API cannot delete it)")
            else:
                yield Step(" ", what, "not in the file")


def _json(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` in the JSON types the API answers with (lists, not tuples; str ids)."""
    result: dict[str, Any] = json.loads(json.dumps(doc, default=str))
    return result


def _change(name: str, key: str | None, old: Any, new: Any) -> str:
    if (name, key) in _SECRET_MAPS:
        return f"{name}.{key} {_show(sorted(old or {}))} -> {_show(sorted(new or {}))}"
    if (name, key) == ("http", "client_key"):
        return f"http.client_key {'set' if old else 'none'} -> {'set' if new else 'none'}"
    return f"{name}.{key if key else ''}".rstrip(".") + f" {_show(old)} -> {_show(new)}"


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."
