"""The logo and favicon in a static snapshot are files named by their type (``logo.svg``,
``favicon.png``), and every HTML page of the snapshot links those names: a stock web server
types a file by its name, and a browser shows no SVG logo served as application/octet-stream.
The real app on a real SQLite database, written to a real directory served by
``python -m http.server``, and to moto's S3 server."""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import posixpath
import re
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from statpulse.cli import app as cli_app
from statpulse.web.public.appearance import MEDIA_TYPES, RASTER_SIGNATURES, SVG, from_document
from statpulse.web.public.snapshot import (
    SUFFIXES,
    SnapshotTarget,
    rewrite_html,
    stored_name,
)
from tests.processes import free_port, wait_for
from tests.web.test_snapshot import (  # noqa: F401
    KEY,
    SECRET,
    Site,
    new_bucket,
    s3_endpoint,
    site,
    snap,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 32, 32) + b"\x08\x06\0\0\0"
SVG_LOGO = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="90" height="30">'
    b'<rect width="90" height="30" fill="#123456"/></svg>'
)
LINK = re.compile(r'\s(?:href|src)="([^"]*)"')


async def _brand(seeded: Site) -> None:
    """Page "acme" gets an SVG logo and a PNG favicon."""
    page = await seeded.store.get_page("acme")
    assert page is not None
    doc = {
        "logo": {"media_type": SVG, "data": _b64(SVG_LOGO)},
        "favicon": {"media_type": "image/png", "data": _b64(PNG)},
    }
    await seeded.store.set_page_appearance(page.id, from_document(doc))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _linked(files: dict[str, bytes], name: str) -> dict[str, set[str]]:
    """Each HTML file -> the snapshot paths its links resolve to whose file name starts with
    ``name`` (the logo's or favicon's, whatever the suffix)."""
    found: dict[str, set[str]] = {}
    for path, body in files.items():
        if path.endswith(".html"):
            here = posixpath.dirname(path)
            resolved = {
                posixpath.normpath(posixpath.join(here, link))
                for link in LINK.findall(body.decode())
            }
            found[path] = {r for r in resolved if r.startswith(name)}
    return found


async def test_the_logo_and_favicon_are_named_by_their_type_and_every_page_links_them(
    site: Site,  # noqa: F811
) -> None:
    await _brand(site)
    files = dict((await snap(site)).files)
    assert files["logo.svg"] == SVG_LOGO
    assert files["favicon.png"] == PNG
    assert not {"logo", "favicon"} & set(files)
    page = files["index.html"].decode()
    assert 'src="logo.svg"' in page and 'href="favicon.png" type="image/png"' in page
    incident = files[f"incidents/{site.published}/index.html"].decode()
    assert 'src="../../logo.svg"' in incident and 'href="../../favicon.png"' in incident
    component = files[f"components/{site.components[0]}/index.html"].decode()
    assert 'href="../../favicon.png"' in component
    # Every page of the snapshot links the favicon, and only by the name it is written as.
    favicons, logos = _linked(files, "favicon"), _linked(files, "logo")
    assert all(found == {"favicon.png"} for found in favicons.values()), favicons
    assert all(found <= {"logo.svg"} for found in logos.values()), logos


def test_rewriting_links_a_renamed_file_by_its_written_name() -> None:
    html = '<img class="logo" src="/s/acme/logo"><link rel="icon" href="/s/acme/favicon">'
    names = {"logo": "logo.svg", "favicon": "favicon.gif"}
    out = rewrite_html(html, "incidents/1/index.html", "acme", set(names), names=names)
    assert (
        out == '<img class="logo" src="../../logo.svg"><link rel="icon" href="../../favicon.gif">'
    )


@pytest.mark.parametrize("media_type", MEDIA_TYPES)
def test_each_image_type_has_a_suffix_a_stock_server_types_it_by(media_type: str) -> None:
    if media_type == SVG:
        body = SVG_LOGO
    else:
        body = RASTER_SIGNATURES[media_type][0].ljust(8, b"\0") + b"WEBP" + b"\0" * 8
    name = stored_name("logo", body)
    assert name == "logo" + SUFFIXES[media_type]
    assert mimetypes.guess_type(name)[0] == media_type  # what python -m http.server sends
    assert stored_name("theme.css", b"x") == "theme.css"


async def test_an_exported_directory_served_by_a_stock_web_server_types_the_logo_as_svg(
    site: Site,  # noqa: F811
    tmp_path: Path,
) -> None:
    await _brand(site)
    out = tmp_path / "out"
    args = ["export-static", "--page", "acme", "--out", str(out), "--db", site.db]
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, args)
    assert result.exit_code == 0, result.output
    assert f"{out}/logo.svg" in result.stdout and f"{out}/favicon.png" in result.stdout
    assert (out / "logo.svg").read_bytes() == SVG_LOGO
    assert (out / "favicon.png").read_bytes() == PNG
    assert not [p for p in out.rglob("*") if p.name in ("logo", "favicon")]

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=out,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        page = await asyncio.to_thread(
            wait_for, lambda: _get(f"{base}/index.html"), timeout=15, what="http.server"
        )
        assert 'src="logo.svg"' in page.text and 'href="favicon.png"' in page.text
        async with httpx.AsyncClient(base_url=base) as client:
            logo = await client.get("/logo.svg")
            assert logo.status_code == 200 and logo.content == SVG_LOGO
            assert logo.headers["content-type"] == "image/svg+xml"
            favicon = await client.get("/favicon.png")
            assert favicon.status_code == 200 and favicon.headers["content-type"] == "image/png"
            incident = await client.get(f"/incidents/{site.published}/index.html")
            assert 'src="../../logo.svg"' in incident.text
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


async def test_an_s3_snapshot_types_the_logo_and_favicon(
    site: Site,  # noqa: F811
    s3_endpoint: str,  # noqa: F811
) -> None:
    await _brand(site)
    snapshot = await snap(site)
    admin, bucket = new_bucket(s3_endpoint)
    url = f"s3://{bucket}/pages?endpoint={s3_endpoint}"
    target = SnapshotTarget.from_url(url, access_key=KEY, secret_key=SECRET).child("acme")
    await asyncio.to_thread(target.write, snapshot)
    for name, media_type in (("logo.svg", b"image/svg+xml"), ("favicon.png", b"image/png")):
        with admin.open_input_stream(f"{bucket}/pages/acme/{name}") as stream:
            assert stream.read() == snapshot.files[name]
            assert stream.metadata()["Content-Type"] == media_type
