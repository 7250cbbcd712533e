"""What the CLI modules share: the settings options, loading them, and failing cleanly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from statpulse.logging import configure as configure_logging
from statpulse.settings import Settings, load_settings

console = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", envvar="STATPULSE_CONFIG", help="TOML settings file."),
]
DbOpt = Annotated[
    str | None, typer.Option("--db", help="Database URL: sqlite:///PATH or postgresql://...")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [default: ./statpulse-data]")
]


def load_cli_settings(
    config: Path | None, log_level: str | None = None, **overrides: object
) -> Settings:
    """Settings from ``config`` and ``overrides``; exit 2 naming the bad setting. Logging is
    configured at ``log_level`` (default: the settings' own)."""
    try:
        settings = load_settings(config, **overrides)
    except FileNotFoundError as exc:
        fail(str(exc))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        fail(f"invalid setting {field}: {err['msg']}")
    configure_logging(log_level or settings.log_level, settings.log_format)
    return settings


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)
