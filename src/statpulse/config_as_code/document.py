"""Reading a configuration file: YAML -> validated ``Desired`` (pure: the environment is a
parameter). Every error is a ``DocumentError`` naming its path in the file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from statpulse.model import MonitorConfig
from statpulse.web.api.schemas import ComponentIn, MonitorIn, PageIn
from statpulse.web.api.validation import check_config
from statpulse.web.errors import ApiError, field_path

TOP_LEVEL = ("monitors", "pages")
_VARIABLE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_M = TypeVar("_M", bound=BaseModel)


class DocumentError(Exception):
    """Bad input in the file; ``str()`` is ``path: message``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class MonitorSpec:
    name: str
    config: MonitorConfig
    """As the server stores it, with ``depends_on`` None: the parent is ``depends_on`` here."""
    depends_on: str | None
    """The parent monitor's name in the file."""


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    name: str
    description: str
    monitor: str | None


@dataclass(frozen=True, slots=True)
class PageSpec:
    slug: str
    title: str
    description: str
    components: tuple[ComponentSpec, ...]


@dataclass(frozen=True, slots=True)
class Desired:
    monitors: tuple[MonitorSpec, ...]
    """Parents before the monitors that depend on them (the order to create them in)."""
    pages: tuple[PageSpec, ...]


def parse(text: str, env: Mapping[str, str]) -> Desired:
    """The file ``text`` with ``${NAME}`` taken from ``env``; raises DocumentError."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise DocumentError(where, str(getattr(exc, "problem", None) or exc)) from None
    if data is None:
        raise DocumentError("", "the file is empty (write `monitors: []` to mean nothing)")
    if not isinstance(data, dict):
        raise DocumentError("", "the file must be a mapping with monitors and pages")
    for key in data:
        if key not in TOP_LEVEL:
            raise DocumentError(str(key), "unknown key (expected monitors, pages)")
    data = substitute(data, "", env)
    monitors = _monitors(_items(data, "monitors"))
    names = {m.name for m in monitors}
    pages = _pages(_items(data, "pages"), names)
    return Desired(_parents_first(monitors), pages)


def substitute(value: Any, path: str, env: Mapping[str, str]) -> Any:
    """``value`` with ``${NAME}`` in every string replaced by ``env[NAME]`` (``$${`` stands
    for a literal ``${``); raises DocumentError naming the path of an unset variable."""
    if isinstance(value, dict):
        return {k: substitute(v, _join(path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, f"{path}[{i}]", env) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "${"
        if not _NAME.fullmatch(name):
            raise DocumentError(path, f"${{{name}}} is not a valid variable name")
        if name not in env:
            raise DocumentError(path, f"environment variable {name} is not set")
        return env[name]

    return _VARIABLE.sub(replace, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _items(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = data.get(key)
    if items is None:
        return []
    if not isinstance(items, list):
        raise DocumentError(key, "must be a list")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise DocumentError(f"{key}[{i}]", "must be a mapping")
    return items


def _validated(model: type[_M], data: dict[str, Any], path: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = field_path(err["loc"]) if err["loc"] else ""
        message = str(err["msg"]).removeprefix("Value error, ")
        raise DocumentError(_join(path, where), message) from None


def _monitors(items: list[dict[str, Any]]) -> list[MonitorSpec]:
    specs: list[MonitorSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"monitors[{i}]"
        raw = dict(item)
        parent = raw.pop("depends_on", None)
        if parent is not None and not isinstance(parent, str):
            raise DocumentError(f"{path}.depends_on", "must be the name of a monitor")
        body = _validated(MonitorIn, raw, path)
        try:
            config = body.to_config()
            check_config(config)
        except ApiError as exc:
            field = exc.field or ""
            raise DocumentError(
                _join(path, field), exc.message.removeprefix(f"{field}: ")
            ) from None
        if body.name in seen:
            raise DocumentError(
                f"{path}.name", f'"{body.name}" is also the name of monitors[{seen[body.name]}]'
            )
        seen[body.name] = i
        specs.append(MonitorSpec(body.name, config, parent))
    for i, spec in enumerate(specs):
        if spec.depends_on is None:
            continue
        if spec.depends_on not in seen:
            raise DocumentError(
                f"monitors[{i}].depends_on", f'no monitor named "{spec.depends_on}" in the file'
            )
        if spec.depends_on == spec.name:
            raise DocumentError(f"monitors[{i}].depends_on", "a monitor cannot depend on itself")
    return specs


def _parents_first(specs: list[MonitorSpec]) -> tuple[MonitorSpec, ...]:
    """``specs`` ordered so that a parent comes before its children (file order otherwise);
    raises DocumentError on a cycle."""
    by_name = {s.name: (i, s) for i, s in enumerate(specs)}
    done: dict[str, MonitorSpec] = {}
    for spec in specs:
        chain: list[MonitorSpec] = []
        current: MonitorSpec | None = spec
        while current is not None and current.name not in done:
            if current.name in (c.name for c in chain):
                names = " -> ".join(f'"{c.name}"' for c in [*chain, current])
                index = by_name[spec.name][0]
                raise DocumentError(f"monitors[{index}].depends_on", f"a cycle: {names}")
            chain.append(current)
            current = by_name[current.depends_on][1] if current.depends_on else None
        for item in reversed(chain):
            done[item.name] = item
    return tuple(done.values())


def _pages(items: list[dict[str, Any]], monitors: set[str]) -> tuple[PageSpec, ...]:
    pages: list[PageSpec] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        path = f"pages[{i}]"
        raw = dict(item)
        components = raw.pop("components", None)
        page = _validated(PageIn, raw, path)
        if page.slug in seen:
            raise DocumentError(
                f"{path}.slug", f'"{page.slug}" is also the slug of pages[{seen[page.slug]}]'
            )
        seen[page.slug] = i
        if components is not None and not isinstance(components, list):
            raise DocumentError(f"{path}.components", "must be a list")
        specs = tuple(
            _component(c, f"{path}.components[{j}]", page.slug, monitors)
            for j, c in enumerate(components or [])
        )
        names = [c.name for c in specs]
        for j, name in enumerate(names):
            if name in names[:j]:
                raise DocumentError(
                    f"{path}.components[{j}].name", f'a component "{name}" is already on this page'
                )
        pages.append(PageSpec(page.slug, page.title, page.description, specs))
    return tuple(pages)


def _component(item: object, path: str, slug: str, monitors: set[str]) -> ComponentSpec:
    if not isinstance(item, dict):
        raise DocumentError(path, "must be a mapping")
    raw = dict(item)
    for key in ("monitor_id", "pages"):
        if key in raw:
            raise DocumentError(
                f"{path}.{key}",
                "unknown key (name the monitor with `monitor:`; a component "
                "belongs to the page it is listed under)",
            )
    monitor = raw.pop("monitor", None)
    if monitor is not None and not isinstance(monitor, str):
        raise DocumentError(f"{path}.monitor", "must be the name of a monitor")
    body = _validated(ComponentIn, {**raw, "pages": [slug]}, path)
    if monitor is not None and monitor not in monitors:
        raise DocumentError(f"{path}.monitor", f'no monitor named "{monitor}" in the file')
    return ComponentSpec(body.name, body.description, monitor)
