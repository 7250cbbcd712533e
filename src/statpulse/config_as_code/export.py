"""Writing a configuration file from the organisation's current state (pure).

Fields equal to their default are left out; every secret the API redacts becomes a ``${VAR}``
reference listed in the header comment; a literal ``${`` in a value is written ``$${``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import yaml

from statpulse.config_as_code.document import DocumentError
from statpulse.config_as_code.state import MONITOR_FIELDS, NESTED, Current, CurrentMonitor
from statpulse.engine.heartbeat import HEARTBEAT_KIND
from statpulse.web.api.schemas import MonitorIn

HEADER = """\
# StatPulse configuration: `statpulse config apply -f FILE` makes the organisation match it.
# ${NAME} in a value is the environment variable NAME ($${ is a literal ${).
"""


class _Dumper(yaml.SafeDumper):
    """Multi-line strings (PEM certificates, request bodies) as literal blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def export_text(current: Current) -> str:
    """The YAML file of ``current``; raises DocumentError when two monitors share a name, or
    two components of a page do (the file names them, so it could not tell them apart)."""
    twice = [n for n, c in Counter(m.name for m in current.monitors).items() if c > 1]
    if twice:
        raise DocumentError(
            "",
            f'the organisation has {len(twice)} monitor names used twice ("{twice[0]}"): '
            "rename them (PATCH /api/v1/monitors/{id}) before exporting",
        )
    names = current.monitor_names()
    secrets: list[tuple[str, str]] = []  # (variable, path in the file)
    monitors = [
        _monitor(m, names, f"monitors[{i}]", secrets) for i, m in enumerate(current.monitors)
    ]
    pages = []
    for page in current.pages:
        twice = [n for n, c in Counter(c.name for c in page.components).items() if c > 1]
        if twice:
            raise DocumentError("", f'page "{page.slug}" has two components named "{twice[0]}"')
        entry: dict[str, Any] = {"slug": page.slug, "title": _escape(page.title)}
        if page.description:
            entry["description"] = _escape(page.description)
        components = []
        for c in page.components:
            item: dict[str, Any] = {"name": _escape(c.name)}
            if c.description:
                item["description"] = _escape(c.description)
            if c.monitor_id is not None:
                item["monitor"] = _escape(names.get(c.monitor_id, c.monitor_id))
            components.append(item)
        if components:
            entry["components"] = components
        pages.append(entry)
    body = yaml.dump(
        {"monitors": monitors, "pages": pages},
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
    )
    return _header(secrets) + body


def _header(secrets: list[tuple[str, str]]) -> str:
    if not secrets:
        return HEADER
    width = max(len(v) for v, _ in secrets)
    lines = [f"#   {v.ljust(width)}  {path}" for v, path in secrets]
    return (
        HEADER + "# Secrets are not exported (the API never returns them): set these environment\n"
        "# variables to their values before applying this file.\n" + "\n".join(lines) + "\n"
    )


def _monitor(
    monitor: CurrentMonitor,
    names: dict[str, str],
    path: str,
    secrets: list[tuple[str, str]],
) -> dict[str, Any]:
    fields = monitor.fields
    defaults = MonitorIn(name="-", kind=fields["kind"]).model_dump(mode="json")
    entry: dict[str, Any] = {}
    for name in MONITOR_FIELDS:
        value = fields[name]
        if name == "depends_on":
            if value is not None:
                entry[name] = _escape(names.get(value, value))
        elif name in NESTED:
            changed = {k: _escape(v) for k, v in value.items() if v != defaults[name][k]}
            if changed:
                entry[name] = changed
        elif name == "regions" and fields["kind"] == HEARTBEAT_KIND:
            continue  # the server sets ["push"] whatever the file says
        elif name in ("name", "kind") or value != defaults[name]:
            entry[name] = _escape(value)

    def secret(part: str, where: str) -> str:
        variable = _variable(monitor.name, part, {v for v, _ in secrets})
        secrets.append((variable, where))
        return f"${{{variable}}}"

    http, grpc = entry.get("http", {}), entry.get("grpc", {})
    for header in http.get("headers", {}):
        http["headers"][header] = secret(header, f"{path}.http.headers.{header}")
    if http.get("client_key") is not None:
        http["client_key"] = secret("client_key", f"{path}.http.client_key")
    for key in grpc.get("metadata", {}):
        grpc["metadata"][key] = secret(key, f"{path}.grpc.metadata.{key}")
    return entry


def _variable(monitor: str, part: str, taken: set[str]) -> str:
    """An environment variable name for secret ``part`` of ``monitor``, not in ``taken``."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", f"{monitor}_{part}").strip("_").upper()
    if not base or base[0].isdigit():
        base = f"SECRET_{base}"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _escape(value: Any) -> Any:
    """A literal ``${`` is written ``$${`` so that apply does not read it as a variable."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_escape(v) for v in value]
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    return value
