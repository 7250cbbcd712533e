"""``statpulse config export`` and ``statpulse config apply`` (see the package docstring).

Exit codes: 0 done, 1 the server failed or refused (nothing more is sent after the first
failure), 2 bad input (the file, an option), with nothing sent.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from statpulse.cli_common import fail

if TYPE_CHECKING:
    from statpulse.config_as_code.client import Api

config_app = typer.Typer(
    help="Configuration as code: monitors, pages and components as a YAML file.",
    no_args_is_help=True,
)

UrlOpt = Annotated[
    str,
    typer.Option(
        "--url", envvar="STATPULSE_URL", help="The StatPulse server, e.g. http://127.0.0.1:8080"
    ),
]
KeyOpt = Annotated[
    str,
    typer.Option(
        "--key",
        envvar="STATPULSE_API_KEY",
        help="An API key (write, for apply).",
        show_default=False,
    ),
]


def _api(url: str, key: str) -> Api:
    # Imported here so that the other commands do not load pydantic models and httpx.
    from statpulse.config_as_code.client import Api

    if not url.startswith(("http://", "https://")):
        fail("--url: must start with http:// or https://")
    return Api(url, key)


@config_app.command("export")
def export(
    url: UrlOpt,
    key: KeyOpt,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File [default: stdout].")
    ] = None,
) -> None:
    """Write the organisation's monitors, pages and components as YAML."""
    from statpulse.config_as_code.client import ApiCallError
    from statpulse.config_as_code.document import DocumentError
    from statpulse.config_as_code.export import export_text

    api = _api(url, key)
    try:
        text = export_text(api.read_state())
    except ApiCallError as exc:
        fail(str(exc), code=1)
    except DocumentError as exc:
        fail(str(exc))
    finally:
        api.close()
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)


@config_app.command("apply")
def apply(
    file: Annotated[Path, typer.Option("-f", "--file", help="The YAML file.")],
    url: UrlOpt,
    key: KeyOpt,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan, change nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Delete what the file does not name.")
    ] = False,
) -> None:
    """Make the organisation match a YAML file; prints one line per change.

    Creates what is missing, changes what differs and, with --prune, deletes what the file
    does not name. The whole file is checked before any request."""
    from statpulse.config_as_code.client import ApiCallError, ApplyError
    from statpulse.config_as_code.document import DocumentError, parse
    from statpulse.config_as_code.plan import make_plan

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"-f: cannot read {file}: {exc}")
    try:
        desired = parse(text, os.environ)
    except DocumentError as exc:
        fail(f"{file}: {exc}")
    api = _api(url, key)
    try:
        try:
            current = api.read_state()
        except ApiCallError as exc:
            fail(f"{exc}; nothing was changed", code=1)
        try:
            plan = make_plan(desired, current, prune=prune)
        except DocumentError as exc:
            fail(f"{exc}; nothing was changed")
        if dry_run or plan.blocked:
            for step in plan.steps:
                typer.echo(step.line())
            if plan.blocked:
                fail(
                    f"{len(plan.blocked)} difference(s) above (!) cannot be applied; "
                    "nothing was changed",
                    code=1,
                )
            typer.echo(f"dry run, nothing was changed: {plan.counts()}")
            return
        for step in plan.steps:
            if not step.method:
                typer.echo(step.line())
        try:
            applied = api.apply(plan, current, typer.echo)
        except ApplyError as exc:
            fail(
                f"{exc}; stopped there: the {exc.applied} change(s) printed above were applied "
                "and stay, the rest were not made",
                code=1,
            )
    finally:
        api.close()
    if applied:
        typer.echo(f"applied: {plan.counts()}")
    else:
        typer.echo(f"no changes: the organisation matches {file}{plan.left_note()}")
