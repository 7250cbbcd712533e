"""The ``statpulse`` command line (Typer + Rich)."""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Coroutine
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.panel import Panel

from statpulse import __version__
from statpulse.archive.cli import archive_app
from statpulse.cli_common import ConfigOpt, DataDirOpt, DbOpt, console
from statpulse.cli_common import fail as _fail
from statpulse.cli_common import load_cli_settings as _settings
from statpulse.config_as_code.cli import config_app
from statpulse.model import Scope, utcnow
from statpulse.security import apikeys
from statpulse.security.pki_cli import pki_app
from statpulse.security.secrets import SecretError
from statpulse.security.secrets_cli import secrets_app
from statpulse.settings import Settings
from statpulse.snapshot_cli import export_static
from statpulse.store.configured import open_configured_store
from statpulse.store.contract import Conflict
from statpulse.store.engine import DatabaseUrlError

app = typer.Typer(
    name="statpulse",
    help="StatPulse: API status monitoring with honest status pages.",
    no_args_is_help=True,
    add_completion=False,
)
apikey_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")
report_app = typer.Typer(help="Reports from the stored results.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(archive_app, name="archive")
app.add_typer(pki_app, name="pki")
app.add_typer(secrets_app, name="secrets")
app.add_typer(config_app, name="config")
app.command("export-static")(export_static)


HostOpt = Annotated[str | None, typer.Option("--host", help="Listen address [default: 127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Listen port [default: 8080]")]


class ReportFormat(StrEnum):
    CSV = "csv"
    HTML = "html"


def _serve(settings: Settings, *, demo: bool) -> None:
    # Imported here so that `statpulse apikey ...` stays quick to start.
    from statpulse import workers
    from statpulse.web.app import StartupHook, create_app

    hooks: list[StartupHook] = []
    if demo:
        from statpulse.demo.seed import setup_demo

        hooks.append(setup_demo)
    if settings.workers > 1 and settings.worker_index == 0:
        hooks.append(workers.start_others(settings.workers))
    application = create_app(settings, hooks)
    server = uvicorn.Server(
        uvicorn.Config(
            application,
            host=settings.host,
            port=settings.port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            timeout_graceful_shutdown=5,
            log_level="warning" if settings.log_level in ("warning", "error") else "info",
        )
    )
    url = f"http://{settings.host}:{settings.port}"
    if settings.worker_index == 0:
        text = f"StatPulse {__version__} on {url}\nAPI docs: {url}/docs"
        if settings.workers > 1:
            text += f"\n{settings.workers} worker processes sharing the port, via Redis"
        if demo:
            text = f"Demo status page: [bold]{url}/s/demo[/bold]\n" + text
        console.print(Panel(text, title="StatPulse", expand=False))
    sockets = [workers.listen(settings.host, settings.port)] if settings.workers > 1 else None
    try:
        server.run(sockets=sockets)
    except DatabaseUrlError as exc:
        _fail(str(exc))
    if not server.started:
        raise typer.Exit(1)


@app.command()
def serve(
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
    runner_port: Annotated[
        int | None, typer.Option("--runner-port", help="Serve the mutual-TLS runner API here.")
    ] = None,
    pki_dir: Annotated[
        Path | None, typer.Option("--pki", help="Directory of `statpulse pki init`.")
    ] = None,
    redis: Annotated[
        str | None, typer.Option("--redis", help="redis://... : bus and live updates via Redis.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", help="Processes sharing the ports (needs --redis).")
    ] = None,
) -> None:
    """Run the web app, the engine and an embedded runner (SQLite in ./statpulse-data)."""
    settings = _settings(
        config,
        db=db,
        data_dir=data_dir,
        host=host,
        port=port,
        runner_port=runner_port,
        pki_dir=pki_dir,
        redis_url=redis,
        workers=workers,
    )
    _serve(settings, demo=False)


@app.command()
def runner(
    region: Annotated[str, typer.Option("--region", help="This runner's region.")],
    engine: Annotated[str, typer.Option("--engine", help="https://HOST:PORT of the runner API.")],
    cert: Annotated[Path, typer.Option("--cert", help="runner-REGION.crt")],
    key: Annotated[Path, typer.Option("--key", help="runner-REGION.key")],
    ca: Annotated[Path, typer.Option("--ca", help="ca.crt of the engine's PKI.")],
    spool: Annotated[Path, typer.Option("--spool", help="Spool and saved assignments.")] = Path(
        "statpulse-spool"
    ),
    max_concurrent: Annotated[int, typer.Option("--max-concurrent", min=1)] = 500,
    config: ConfigOpt = None,
) -> None:
    """A remote runner: checks REGION's monitors, spools results, uploads them over mTLS."""
    from statpulse.runner.main import EngineError, run_remote_runner
    from statpulse.security import pki

    settings = _settings(config, region=region)
    if not engine.startswith("https://"):
        _fail("--engine: must be an https:// URL")
    for option, path in (("--cert", cert), ("--key", key), ("--ca", ca)):
        if not path.is_file():
            _fail(f"{option}: no such file {path}")
    try:
        found = pki.region_of(pki.certificate_der(cert))
    except pki.PkiError as exc:
        _fail(f"--cert: {exc}")
    if found != region:
        _fail(f"--region: the certificate is for region {found!r}, not {region!r}")
    try:
        asyncio.run(
            run_remote_runner(
                region=region,
                engine_url=engine,
                cert=cert,
                key=key,
                ca=ca,
                spool_dir=spool,
                max_concurrent=max_concurrent,
                egress=settings.egress_policy(),
            )
        )
    except EngineError as exc:
        _fail(f"the engine refused this runner: {exc}", code=1)
    except (BlockingIOError, OSError) as exc:
        _fail(f"--spool: {exc}", code=1)


@app.command()
def demo(
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
    host: HostOpt = None,
    port: PortOpt = None,
) -> None:
    """`serve` plus a demo target on loopback and a seeded organisation and page `demo`."""
    _serve(_settings(config, db=db, data_dir=data_dir, host=host, port=port), demo=True)


@app.command()
def migrate(config: ConfigOpt = None, db: DbOpt = None, data_dir: DataDirOpt = None) -> None:
    """Bring the database schema to the newest version."""
    settings = _settings(config, db=db, data_dir=data_dir)

    async def run() -> None:
        store = await open_configured_store(settings)
        await store.close()

    _run_db(run())
    console.print("database is up to date")


@apikey_app.command("create")
def apikey_create(
    org: Annotated[str, typer.Option("--org", help="Organisation slug (created if missing).")],
    scope: Annotated[Scope, typer.Option("--scope", help="read or write.")] = Scope.WRITE,
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "cli",
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API key and print it once, as the last line of the output."""
    settings = _settings(config, db=db, data_dir=data_dir)
    if not _valid_slug(org):
        _fail("--org: use 1-63 lower-case letters, digits and dashes")
    key = apikeys.generate()

    async def run() -> None:
        store = await open_configured_store(settings)
        try:
            found = await store.get_org_by_slug(org)
            if found is None:
                try:
                    found = await store.create_org(org, org)
                    console.print(f"created organisation {org!r}")
                except Conflict:
                    found = await store.get_org_by_slug(org)
            assert found is not None
            await store.create_api_key(found.id, name, scope, key.prefix, key.secret_hash)
        finally:
            await store.close()

    _run_db(run())
    console.print(f"created {scope.value} API key for {org!r}; it is shown only once:")
    print(key.token)


@report_app.command("sla")
def report_sla(
    month: Annotated[str, typer.Option("--month", help="UTC calendar month, YYYY-MM.")],
    org: Annotated[
        str | None, typer.Option("--org", help="Organisation slug [default: the only one].")
    ] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="csv or html.")] = ReportFormat.CSV,
    output: Annotated[Path | None, typer.Option("--output", help="File [default: stdout].")] = None,
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """The monthly SLA report: uptime, downtime, checks, P95 and SLOs met, per component."""
    from statpulse.reports import sla  # keeps the other commands quick to start

    try:
        start, end = sla.parse_month(month)
    except ValueError as exc:
        _fail(f"--month: {exc}")
    settings = _settings(config, db=db, data_dir=data_dir)
    text: list[str] = []

    async def run() -> None:
        store = await open_configured_store(settings)
        try:
            orgs = await store.list_orgs()
            found = [o for o in orgs if o.slug == org] if org else orgs
            if len(found) != 1:
                _fail(f"--org: no organisation {org!r}" if org else "--org: give an organisation")
            report = await sla.build_report(store, found[0], start, end, utcnow())
        finally:
            await store.close()
        text.append(sla.to_html(report) if fmt is ReportFormat.HTML else sla.to_csv(report))

    _run_db(run())
    if output is None:
        sys.stdout.write(text[0])
    else:
        output.write_text(text[0], encoding="utf-8")
        console.print(f"wrote {output}")


@app.command()
def retention(
    config: ConfigOpt = None,
    db: DbOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run retention once: partitions ahead, expired raw days archived, old rollups deleted."""
    from statpulse.archive.target import ArchiveError
    from statpulse.engine.retention import RetentionPolicy, archive_target, run_retention

    settings = _settings(config, db=db, data_dir=data_dir)
    try:
        policy = RetentionPolicy.from_settings(settings)
        archive = archive_target(settings)
    except (ValueError, ArchiveError) as exc:
        _fail(str(exc))

    async def run() -> None:
        store = await open_configured_store(settings)
        try:
            report = await run_retention(store, policy, archive, utcnow())
        finally:
            await store.close()
        for day in report.partitions_created:
            console.print(f"partition created for {day}")
        for day, rows, path in report.expired:
            console.print(
                f"{day}: {rows} raw results expired" + (f", archived to {path}" if path else "")
            )
        for table, count in report.rollups_deleted.items():
            console.print(f"{table}: {count} rows deleted")

    _run_db(run())


@app.command()
def check(
    target: Annotated[str, typer.Argument(help="URL (http), host:port, or a name (dns).")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="http, tcp, grpc, dns or tls [default: by target]")
    ] = None,
    condition: Annotated[
        list[str] | None, typer.Option("-c", "--condition", help="Gatus-style; repeatable.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option("-H", "--header", help="K:V request header; repeatable.")
    ] = None,
    method: Annotated[str, typer.Option("-X", "--method", help="HTTP method.")] = "GET",
    body: Annotated[str | None, typer.Option("-d", "--body", help="HTTP request body.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds.")] = 10.0,
    insecure: Annotated[
        bool, typer.Option("-k", "--insecure", help="Do not verify TLS certificates.")
    ] = False,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Do not follow redirects.")
    ] = False,
    record_type: Annotated[str, typer.Option("--record-type", help="dns: A, AAAA, MX...")] = "A",
    resolver: Annotated[
        str | None, typer.Option("--resolver", help="dns: host[:port] [default: system]")
    ] = None,
    service: Annotated[str, typer.Option("--service", help="grpc: health service name.")] = "",
    tls: Annotated[bool, typer.Option("--tls", help="tcp and grpc: use TLS.")] = False,
    send: Annotated[str | None, typer.Option("--send", help="tcp: text to send.")] = None,
    expect: Annotated[str | None, typer.Option("--expect", help="tcp: text to expect.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
) -> None:
    """Run one check now. Exit 0 when every condition holds, 1 when one fails, 2 on bad input."""
    from statpulse import check_command as cc

    headers: dict[str, str] = {}
    for item in header or []:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            _fail(f"--header: expected K:V, got {item!r}")
        headers[name.strip()] = value.strip()
    chosen = kind or cc.infer_kind(target)
    verify = not insecure
    fields: dict[str, Any] = {
        "kind": chosen,
        "target": target,
        "timeout_s": timeout,
        "interval_s": max(60, int(timeout) + 1),
        "conditions": condition or [],
        "http": {
            "method": method.upper(),
            "headers": headers,
            "body": body,
            "follow_redirects": not no_follow,
            "verify_tls": verify,
        },
        "tcp": {"tls": tls, "send": send, "expect": expect, "verify_tls": verify},
        "grpc": {"service": service, "tls": tls, "verify_tls": verify},
        "dns": {"record_type": record_type.upper(), "resolver": resolver},
        "tls": {"verify_tls": verify},
    }
    try:
        config = cc.build_config(fields)
    except cc.CheckInputError as exc:
        _fail(str(exc))
    obs, result = cc.run_one(config)
    if as_json:
        cc.print_json(obs, result)
    else:
        cc.print_table(Console(), config, obs, result)
    raise typer.Exit(0 if cc.passed(result) else 1)


def _valid_slug(slug: str) -> bool:
    return re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", slug) is not None


def _run_db(coro: Coroutine[Any, Any, None]) -> None:
    try:
        asyncio.run(coro)
    except DatabaseUrlError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot reach the database: {exc}", code=1)
    except SecretError as exc:
        _fail(str(exc), code=1)


def main() -> None:
    app()
