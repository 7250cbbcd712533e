"""``statpulse export-static``: write one status page as static files (a directory or S3)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from statpulse.logging import configure as configure_logging
from statpulse.settings import Settings, load_settings

console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        settings = load_settings(config, **overrides)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        err = exc.errors()[0]
        _fail(f"invalid setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")
    # Warnings only: the services' start-up lines would drown what was written.
    configure_logging("warning", settings.log_format)
    return settings


def export_static(
    page: Annotated[str, typer.Option("--page", help="The status page's slug.")],
    out: Annotated[
        str, typer.Option("--out", help="A directory, or s3://BUCKET/PREFIX?endpoint=...")
    ],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Public address of the snapshot, used in feeds and JSON "
            "(default: the origin's own http://HOST:PORT/s/SLUG).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="STATPULSE_CONFIG", help="TOML settings file."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL: sqlite:///PATH or postgresql://...")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Data directory [default: ./statpulse-data]")
    ] = None,
) -> None:
    """Write the whole page (HTML, CSS, feeds, JSON, badges) as static files any web server or
    CDN can serve while the origin is down. Exit 2 on an unknown page or a bad option."""
    # Imported here: the web app is heavy and the other commands should start quickly.
    from statpulse.store.engine import DatabaseUrlError
    from statpulse.web.public.snapshot import (
        SnapshotError,
        SnapshotTarget,
        TargetInUse,
        UnknownPage,
        export_page,
    )

    if base_url is not None and not base_url.startswith(("http://", "https://")):
        _fail("--base-url: must be an http:// or https:// URL")
    settings = _settings(config, db=db, data_dir=data_dir)
    secret = settings.archive_secret_key
    try:
        # An S3 target uses the archive's credentials (or the AWS default chain).
        target = SnapshotTarget.from_url(
            out,
            access_key=settings.archive_access_key if out.startswith("s3:") else None,
            secret_key=secret.get_secret_value() if secret and out.startswith("s3:") else None,
        )
    except SnapshotError as exc:
        _fail(f"--out: {str(exc).removeprefix('snapshot_url: ')}")
    try:
        written = asyncio.run(export_page(settings, page, target, base_url=base_url))
    except UnknownPage:
        _fail(f"--page: no status page {page!r}")
    except TargetInUse as exc:
        _fail(f"--out: {exc}; choose a new or empty directory or prefix")
    except DatabaseUrlError as exc:
        _fail(str(exc))
    except SnapshotError as exc:
        _fail(str(exc), code=1)
    except OSError as exc:
        _fail(f"cannot write the snapshot: {exc}", code=1)
    for path in written:
        print(f"{target.display}/{path}")
    console.print(f"wrote {len(written)} files of page {page!r} to {target.display}")
