"""What apply does: the file (``Desired``) against the organisation (``Current``), as an ordered
list of steps (pure).

Order: monitors created (parents first), monitors changed (parents first, so a moved
``depends_on`` never forms a cycle on the way), pages created or changed, components created or
changed, then with ``--prune`` components deleted (or taken off the pages that no longer list
them), pages deleted and, last, monitors deleted (components may link them). Monitors are
compared as the API returns them (``redacted_document`` of the file's config against the GET
output), so secrets are compared by presence only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from statpulse.config_as_code.document import (
    ComponentSpec,
    Desired,
    DocumentError,
    MonitorSpec,
    PageSpec,
)
from statpulse.config_as_code.state import (
    MONITOR_FIELDS,
    NESTED,
    Current,
    CurrentComponent,
    CurrentPage,
)
from statpulse.web.api.schemas import config_document, redacted_document

MONITORS = "/api/v1/monitors"
PAGES = "/api/v1/pages"
COMPONENTS = "/api/v1/components"
_SECRET_MAPS = {("http", "headers"), ("grpc", "metadata")}
_MAX_SHOWN = 60


@dataclass(frozen=True, slots=True)
class Step:
    """One line of the plan; a request when ``method`` is set."""

    sign: str
    """``+`` create, ``~`` change, ``-`` delete (or take off a page), ``!`` cannot be applied
    (the file cannot tell which component it means, or contradicts itself), `` `` not in the
    file (left as is)."""
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
            text += f"; {count['!']} that cannot be applied"
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
    kept: dict[str, list[str]] = {}
    """Component id -> the slugs of the existing pages of the file that list it."""
    wants: dict[str, tuple[str, tuple[str, str | None]]] = {}
    """Component id -> (slug, (description, monitor)) of the first page of the file with it."""
    for spec in desired:
        what = f'page "{spec.slug}"'
        found = by_slug.get(spec.slug)
        if found is None:
            body = {"slug": spec.slug, "title": spec.title, "description": spec.description}
            yield Step("+", what, method="POST", path="/api/v1/pages", body=body)
            found = CurrentPage("", spec.slug, spec.title, spec.description, ())
        changed = [n for n in ("title", "description") if getattr(found, n) != getattr(spec, n)]
        if changed:
            yield Step(
                "~",
                what,
                ", ".join(_change(n, None, getattr(found, n), getattr(spec, n)) for n in changed),
                method="PATCH",
                path=f"{PAGES}/{spec.slug}",
                body={n: getattr(spec, n) for n in changed},
            )
        listed = {c.name for c in spec.components}
        for c in found.components:
            if c.name in listed:
                kept.setdefault(c.id, []).append(spec.slug)
        components.extend(_components(spec, found, names, wants, prune=prune))
    yield from components
    wanted = {s.slug for s in desired}
    if prune:
        yield from _removals(current, kept, wanted)
    for page in current.pages:
        if page.slug not in wanted:
            what = f'page "{page.slug}"'
            if prune:
                yield Step("-", what, method="DELETE", path=f"{PAGES}/{page.slug}")
            else:
                yield Step(" ", what, "not in the file")


def _components(
    spec: PageSpec,
    page: CurrentPage,
    names: dict[str, str],
    wants: dict[str, tuple[str, tuple[str, str | None]]],
    *,
    prune: bool,
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
            yield Step("+", what, method="POST", path=COMPONENTS, body=body, ref=ref)
        elif found.id in wants:
            # The same component on another page of the file: changed there (once), or a
            # contradiction the file must settle.
            first, there = wants[found.id]
            if there != (c.description, c.monitor):
                yield Step(
                    "!",
                    what,
                    f'it is also on page "{first}", where the file gives it another '
                    "description or monitor",
                )
        else:
            wants[found.id] = (spec.slug, (c.description, c.monitor))
            step = _update_component(what, found, c, names)
            if step is not None:
                yield step
    if not prune:
        wanted = {c.name for c in spec.components}
        for name in count:
            if name not in wanted:
                yield Step(" ", f'component "{name}" {on_page}', "not in the file")


def _update_component(
    what: str, found: CurrentComponent, c: ComponentSpec, names: dict[str, str]
) -> Step | None:
    monitor = names.get(found.monitor_id, found.monitor_id) if found.monitor_id else None
    diff = []
    body: dict[str, Any] = {}
    ref = None
    if found.description != c.description:
        diff.append(_change("description", None, found.description, c.description))
        body["description"] = c.description
    if monitor != c.monitor:
        diff.append(_change("monitor", None, monitor, c.monitor))
        body["monitor_id"] = None
        ref = ("monitor_id", c.monitor) if c.monitor else None
    if not diff:
        return None
    path = f"{COMPONENTS}/{found.id}"
    return Step("~", what, ", ".join(diff), method="PATCH", path=path, body=body, ref=ref)


def _removals(current: Current, kept: dict[str, list[str]], wanted: set[str]) -> Iterator[Step]:
    """``--prune`` of components: one that no page of the file lists is deleted; one that
    another page of the file still lists is taken off the others (its ``pages`` patched)."""
    on: dict[str, list[str]] = {}
    component: dict[str, CurrentComponent] = {}
    for page in current.pages:
        for c in page.components:
            on.setdefault(c.id, []).append(page.slug)
            component.setdefault(c.id, c)
    for cid, slugs in on.items():
        stays = kept.get(cid, [])
        off = [s for s in slugs if s not in stays]
        # A page deleted below takes its links with it: nothing to patch for those.
        if not off or (stays and not [s for s in off if s in wanted]):
            continue
        what = f'component "{component[cid].name}" on page' + (
            f' "{off[0]}"' if len(off) == 1 else "s " + ", ".join(f'"{s}"' for s in off)
        )
        path = f"{COMPONENTS}/{cid}"
        if not stays:
            yield Step("-", what, method="DELETE", path=path)
        else:
            detail = "stays on page" + ("s " if len(stays) > 1 else " ")
            detail += ", ".join(f'"{s}"' for s in stays)
            yield Step("-", what, detail, method="PATCH", path=path, body={"pages": stays})


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
