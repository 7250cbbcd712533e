"""``statpulse secrets``: master key files and master-key rotation.

Rotating the master key, with every process kept working throughout:

1. ``statpulse secrets new-key --out F --keep-current`` writes F: a new key first, then the
   keys configured now (the new one is current; the old ones are still accepted).
2. ``statpulse secrets rotate --new-key-file F`` re-wraps every organisation's data key under
   F's first key (one transaction per organisation). Data keys and sealed values do not change,
   so running processes keep working: they hold the data keys already unwrapped, and any
   process that knows either master key can unwrap them.
3. Set ``master_key_file = F`` everywhere and restart every process. F must list the new key
   first and the old ones after until every process has restarted on it.
4. Run ``rotate`` again (it is idempotent: it re-wraps only what a process still on the old
   key created meanwhile), then delete the old keys' lines from F.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from statpulse.security.secrets import (
    Keyring,
    MasterKey,
    SecretError,
    configured_keyring,
    read_key_file,
    write_key_file,
)
from statpulse.settings import Settings, load_settings
from statpulse.store.engine import DatabaseUrlError
from statpulse.store.sql import open_store
from statpulse.store.sql_keys import Rewrapped

secrets_app = typer.Typer(
    help="Master keys of the secrets encrypted at rest.", no_args_is_help=True
)

# soft_wrap: messages stay one line however narrow the terminal (scripts grep them).
console = Console(stderr=True, soft_wrap=True, highlight=False)

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


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, **overrides)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        err = exc.errors()[0]
        _fail(f"invalid setting {'.'.join(str(p) for p in err['loc'])}: {err['msg']}")


def _configured(settings: Settings) -> Keyring | None:
    try:
        return configured_keyring(settings)
    except SecretError as exc:
        _fail(str(exc))


@secrets_app.command("new-key")
def new_key(
    out: Annotated[Path, typer.Option("--out", help="Key file to create (mode 0600).")],
    keep_current: Annotated[
        bool,
        typer.Option(
            "--keep-current", help="List the keys configured now after the new one (rotation)."
        ),
    ] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write a new random master key to a new file (the key is never printed)."""
    keys = [MasterKey.generate()]
    if keep_current:
        current = _configured(_settings(config, data_dir=data_dir))
        if current is None:
            _fail("--keep-current: no master key is configured (master_key, master_key_file)")
        keys += current.keys
    keyring = Keyring.of(keys)
    try:
        write_key_file(out, keyring)
    except FileExistsError:
        _fail(f"--out: {out} exists; a key file is never overwritten")
    except OSError as exc:
        _fail(f"--out: cannot write {out}: {exc.strerror}")
    old = f"; then old key(s) {', '.join(k.id for k in keyring.old)}" if keyring.old else ""
    console.print(f"wrote {escape(str(out))}: current master key {keyring.current.id}{old}")


@secrets_app.command("rotate")
def rotate(
    new_key_file: Annotated[
        Path,
        typer.Option("--new-key-file", help="Key file whose first key becomes the master key."),
    ],
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Re-wrap every organisation's data key under the new master key."""
    settings = _settings(config, db=db, data_dir=data_dir)
    try:
        new = read_key_file(new_key_file)
    except SecretError as exc:
        _fail(f"--new-key-file: {exc}")
    configured = _configured(settings)
    keyring = configured.rotated_to(new) if configured is not None else new
    try:
        done = asyncio.run(_rotate(settings.database_url, keyring))
    except DatabaseUrlError as exc:
        _fail(str(exc))
    except SecretError as exc:
        _fail(str(exc), code=1)
    console.print(
        f"re-wrapped {done.keys} data key(s) of {done.orgs} organisation(s) under master key "
        f"{done.master_key_id}"
    )
    console.print(
        f"next: set master_key_file to {escape(str(new_key_file))} (new key first, old keys "
        "after) and restart every process; then run this command again and remove the old keys."
    )


async def _rotate(url: str, keyring: Keyring) -> Rewrapped:
    store = await open_store(url, keyring=keyring)
    try:
        return await store.rewrap_data_keys()
    finally:
        await store.close()
