"""``statpulse pki``: create the runners' CA, issue runner certificates, revoke them.

Paths written go to stdout, one a line; notes and errors go to stderr. Errors are one red line
``error: ...`` and exit status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer
from cryptography import x509
from rich.console import Console
from rich.markup import escape

from statpulse.security import pki

pki_app = typer.Typer(help="The private CA of remote runners.", no_args_is_help=True)

# soft_wrap: a long path must not split a message over several lines.
console = Console(stderr=True, highlight=False, soft_wrap=True)

DirOpt = Annotated[
    Path, typer.Option("--dir", help="The PKI directory (holds the CA key: keep it private).")
]


def _fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(code)


def _parse_serial(value: str) -> int:
    try:
        return int(value, 16) if value.lower().startswith("0x") else int(value, 10)
    except ValueError:
        _fail(f"--serial {value!r}: expected a decimal number or 0x followed by hex digits")


@pki_app.command("init")
def init(
    directory: DirOpt,
    name: Annotated[
        list[str] | None,
        typer.Option(
            "--name",
            help="Server name (DNS name or IP address) of the control plane; repeat for several. "
            "[default: localhost, 127.0.0.1, ::1]",
        ),
    ] = None,
) -> None:
    """Create the CA, the control plane's server certificate and an empty CRL."""
    names = tuple(name) if name else pki.DEFAULT_SERVER_NAMES
    try:
        pki.init_pki(directory, server_names=names)
    except pki.PkiError as exc:
        _fail(str(exc))
    for file in (pki.CA_CERT, pki.CA_KEY, pki.SERVER_CERT, pki.SERVER_KEY, pki.CRL_FILE):
        print(directory / file)
    console.print(f"server names: {', '.join(names)}; copy {pki.CA_CERT} to every runner")


@pki_app.command("issue-runner")
def issue_runner(
    region: Annotated[str, typer.Option("--region", help="The runner's region, e.g. eu-west.")],
    directory: DirOpt,
    days: Annotated[int, typer.Option("--days", help="Validity in days.")] = 365,
) -> None:
    """Issue the client certificate of the runner in one region."""
    try:
        cert, key = pki.issue_runner(directory, region, days=days)
    except pki.PkiError as exc:
        _fail(str(exc))
    serial = x509.load_pem_x509_certificate(cert.read_bytes()).serial_number
    console.print(f"issued runner:{region}, serial {serial} ({serial:#x}), valid {days} days")
    print(cert)
    print(key)


@pki_app.command("revoke")
def revoke(
    directory: DirOpt,
    cert: Annotated[
        Path | None, typer.Option("--cert", help="Revoke this certificate file.")
    ] = None,
    serial: Annotated[
        str | None, typer.Option("--serial", help="Revoke this serial (decimal or 0x hex).")
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Revoke every certificate of this region.")
    ] = None,
) -> None:
    """Revoke runner certificates: adds them to crl.pem, which the control plane checks."""
    if sum(arg is not None for arg in (cert, serial, region)) != 1:
        _fail("give exactly one of --cert, --serial, --region")
    number = _parse_serial(serial) if serial is not None else None
    try:
        revoked = pki.revoke(directory, cert=cert, serial=number, region=region)
    except pki.PkiError as exc:
        _fail(str(exc))
    for item in revoked:
        console.print(f"revoked serial {item} ({item:#x})")
    print(directory / pki.CRL_FILE)
