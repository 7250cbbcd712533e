"""``statpulse export-static``: write one status page as static files (a directory or S3)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from statpulse.cli_common import ConfigOpt, DataDirOpt, DbOpt, console, fail, load_cli_settings


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
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write the whole page (HTML, CSS, feeds, JSON, badges) as static files any web server or
    CDN can serve while the origin is down. Exit 2 on an unknown or private page or a bad
    option."""
    # Imported here: the web app is heavy and the other commands should start quickly.
    from statpulse.store.engine import DatabaseUrlError
    from statpulse.web.public.snapshot import (
        PrivatePage,
        SnapshotError,
        SnapshotTarget,
        TargetInUse,
        UnknownPage,
        export_page,
    )

    if base_url is not None and not base_url.startswith(("http://", "https://")):
        fail("--base-url: must be an http:// or https:// URL")
    settings = load_cli_settings(config, log_level="warning", db=db, data_dir=data_dir)
    secret = settings.archive_secret_key
    try:
        # An S3 target uses the archive's credentials (or the AWS default chain).
        target = SnapshotTarget.from_url(
            out,
            access_key=settings.archive_access_key if out.startswith("s3:") else None,
            secret_key=secret.get_secret_value() if secret and out.startswith("s3:") else None,
        )
    except SnapshotError as exc:
        fail(f"--out: {str(exc).removeprefix('snapshot_url: ')}")
    try:
        written = asyncio.run(export_page(settings, page, target, base_url=base_url))
    except UnknownPage:
        fail(f"--page: no status page {page!r}")
    except PrivatePage as exc:
        fail(f"--page: {exc}")
    except TargetInUse as exc:
        fail(f"--out: {exc}; choose a new or empty directory or prefix")
    except DatabaseUrlError as exc:
        fail(str(exc))
    except SnapshotError as exc:
        fail(str(exc), code=1)
    except OSError as exc:
        fail(f"cannot write the snapshot: {exc}", code=1)
    for path in written:
        print(f"{target.display}/{path}")
    console.print(f"wrote {len(written)} files of page {page!r} to {target.display}")
