"""A static snapshot of one status page: every public URL of ``/s/{slug}`` as plain files.

The page is rendered through the real app (any ASGI callable serving it) and crawled: the page
(``index.html``), each incident permalink it links (``incidents/{id}/index.html``), each
component's page (``components/{id}/index.html``), its older history pages
(``older/{id}/index.html``), the assets it loads (``static/...``), the feeds, the
Statuspage JSON (``api/v2/...``), the badges and the page's ``theme.css``, logo and favicon
when it links them. The logo and favicon are named by their sniffed type (``logo.svg``,
``favicon.png``: ``stored_name``), as a stock web server types a file by its name and a
browser shows no SVG served as ``application/octet-stream``. Links in the HTML are made
relative and explicit (``../../index.html``, ``../../logo.svg``), so the directory works from
any base path and on hosts that resolve no directory index; the live-update stream is dropped
(``live.js`` then only shows times in the viewer's zone). The "last updated" time is
server-rendered text.

Feeds and JSON must hold absolute URLs: they name ``base_url`` (where the page is published).

Writing is never half-visible: a directory is filled beside the target and swapped in by two
renames; on S3 every object is one atomic PUT and ``index.html`` goes last, so the page never
links a file that is not there yet. ``SnapshotPublisher`` re-publishes on every monitor change.
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import posixpath
import re
import shutil
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass, replace
from html import escape, unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

import httpx
import pyarrow.fs as pafs
import structlog
from fastapi import FastAPI

from statpulse.archive.target import ArchiveError, ArchiveTarget
from statpulse.bus.live import Broadcaster, MonitorChanged
from statpulse.settings import Settings
from statpulse.store.contract import Store
from statpulse.tasks import cancel_and_wait
from statpulse.web.public.appearance import SVG, sniff

log = structlog.get_logger(__name__)

ORIGIN = "http://localhost:65535"
"""The address the app is asked at; replaced by ``base_url`` in feeds and JSON. A loopback
name, so the custom-domain routing passes it through; a port no real link is likely to name."""
DOCUMENTS = (
    "feed.rss",
    "feed.atom",
    "badge/status.svg",
    *(
        f"api/v2/{name}.json"
        for name in (
            "summary",
            "status",
            "components",
            "incidents",
            "incidents/unresolved",
            "scheduled-maintenances",
            "scheduled-maintenances/upcoming",
            "scheduled-maintenances/active",
        )
    ),
)
APPEARANCE_FILES = ("theme.css", "logo", "favicon")
"""The page's appearance files (web/public/assets.py), fetched when the HTML links them."""
IMAGE_FILES = ("logo", "favicon")
"""The appearance files that are images: stored as ``NAME`` + the suffix of their type."""
SUFFIXES: Final[Mapping[str, str]] = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    SVG: ".svg",
}
"""The file suffix of each media type a logo or favicon may have (``appearance.MEDIA_TYPES``)."""
MARKER = ".statpulse-snapshot"
"""Written into every snapshot (it holds the page's slug): only a location holding it, or an
empty one, is ever replaced."""
MAX_FILES = 2000  # bounds the crawl of a page with a very long incident history
_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    **{suffix: media_type for media_type, suffix in SUFFIXES.items()},
}
_LINK = re.compile(r"""(\s(?:href|src)\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_EVENTS = re.compile(r"""\sdata-events\s*=\s*(?:"[^"]*"|'[^']*')""", re.IGNORECASE)
_STATIC_NAME = re.compile(r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*")


class SnapshotError(Exception):
    """The snapshot could not be taken or written; the message holds no secret."""


class UnknownPage(SnapshotError):
    """No status page has this slug."""


class PrivatePage(SnapshotError):
    """The page is private (web/public/access.py): a snapshot would publish it to anyone."""


class TargetInUse(SnapshotError):
    """The target holds something other than an earlier snapshot; nothing was changed."""


@dataclass(frozen=True)
class Snapshot:
    slug: str
    files: Mapping[str, bytes]
    """Relative path (``/``-separated) -> body."""


def _uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def local_path(url: str, slug: str) -> str | None:
    """The snapshot file serving the app's ``url`` (a path, maybe with query and fragment), or
    None when the snapshot has no such file (external links, the event stream, unknown URLs).
    The logo and favicon are then stored under ``stored_name``."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    page, path, query = f"/s/{slug}", parts.path, parse_qs(parts.query)
    if path in (page, page + "/"):
        if not query:
            return "index.html"
        before = query.get("before", [""])
        if set(query) == {"before"} and len(before) == 1 and _uuid(before[0]) is not None:
            return f"older/{_uuid(before[0])}/index.html"
        return None
    if query:
        return None
    if path.startswith("/static/") and ".." not in path:
        name = path.removeprefix("/static/")
        return f"static/{name}" if _STATIC_NAME.fullmatch(name) else None
    rest = path.removeprefix(page + "/") if path.startswith(page + "/") else None
    if rest is None:
        return None
    head, _, tail = rest.partition("/")
    if head == "incidents" and _uuid(tail) is not None:
        return f"incidents/{_uuid(tail)}/index.html"
    if head == "components" and _uuid(tail) is not None:
        return f"components/{_uuid(tail)}/index.html"
    return rest if rest in DOCUMENTS or rest in APPEARANCE_FILES else None


def stored_name(path: str, body: bytes) -> str:
    """The name snapshot file ``path`` (``local_path``'s answer) is written as: the logo and
    favicon get the suffix of their type, sniffed as the live server does (``logo.svg``,
    ``favicon.png``); any other file keeps its path."""
    return path + SUFFIXES[sniff(body)] if path in IMAGE_FILES else path


def _server_url(path: str, slug: str) -> str:
    """The app URL of snapshot file ``path`` (the inverse of ``local_path``)."""
    if path.startswith("static/"):
        return "/" + path
    if path == "index.html":
        return f"/s/{slug}"
    if path.startswith("older/"):
        return f"/s/{slug}?before={path.split('/')[1]}"
    return f"/s/{slug}/" + path.removesuffix("/index.html")


class _StartTags(HTMLParser):
    """Finds each start tag's raw text and offset (attribute rewriting never touches text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[int, int, str]] = []  # line, column, raw text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        text = self.get_starttag_text()
        if text is not None:
            self.tags.append((*self.getpos(), text))

    handle_startendtag = handle_starttag


def _links(html: str) -> list[str]:
    parser = _StartTags()
    parser.feed(html)
    parser.close()
    return [unescape(m[2] or m[3] or "") for *_, tag in parser.tags for m in _LINK.finditer(tag)]


def rewrite_html(
    html: str,
    here: str,
    slug: str,
    present: Set[str],
    public: str | None = None,
    *,
    names: Mapping[str, str] | None = None,
) -> str:
    """``html`` of snapshot file ``here`` with links to files in ``present`` (``local_path``'s
    answers) made relative and the live-update stream removed; with ``public`` (the page's
    public address), links to the page's other URLs (the subscribe form) point there; other
    links are left as they are. ``names``: the name a file of ``present`` is written as where
    it is not its path (``stored_name``: ``logo`` -> ``logo.svg``)."""
    parser = _StartTags()
    parser.feed(html)
    parser.close()
    # HTMLParser counts lines by "\n" alone (str.splitlines would also split at U+2028 ...).
    starts = [0, *(m.end() for m in re.finditer("\n", html))]
    base = posixpath.dirname(here) or "."

    def link(match: re.Match[str]) -> str:
        url = unescape(match[2] if match[2] is not None else match[3])
        target = local_path(url, slug)
        if target is None or target not in present:
            if public is not None and url.startswith(f"/s/{slug}/"):  # only the live page has it
                return f'{match[1]}"{escape(public + url.removeprefix(f"/s/{slug}"))}"'
            return match[0]
        target = names.get(target, target) if names else target
        fragment = urlsplit(url).fragment
        relative = posixpath.relpath(target, base) + (f"#{fragment}" if fragment else "")
        return f'{match[1]}"{escape(relative)}"'

    out: list[str] = []
    done = 0
    for row, column, tag in parser.tags:
        at = starts[row - 1] + column
        out.append(html[done:at])
        out.append(_EVENTS.sub("", _LINK.sub(link, tag)))
        done = at + len(tag)
    out.append(html[done:])
    return "".join(out)


async def take_snapshot(
    client: httpx.AsyncClient, store: Store, slug: str, *, base_url: str
) -> Snapshot:
    """Crawl page ``slug`` through ``client`` (its base URL must be ``ORIGIN``).

    ``base_url``: the page's public address (no trailing slash), written into feeds and JSON.
    Raises ``UnknownPage``, ``PrivatePage``, or ``SnapshotError`` when the app answers a page
    URL with an error.
    """
    page = await store.get_page(slug)
    if page is None:
        raise UnknownPage(f"no status page {slug!r}")
    access = await store.get_page_access(page.id)
    if access is not None and access.private:
        raise PrivatePage(
            f"status page {slug!r} is private: a static snapshot would publish it to anyone"
        )
    queue = ["index.html", *DOCUMENTS]
    for component, _ in await store.page_components(page.id):
        queue += [f"components/{component.id}/badge/{kind}.svg" for kind in ("uptime", "response")]
        queue.append(f"components/{component.id}/index.html")
    required, seen = set(queue), set(queue)
    bodies: dict[str, bytes] = {}
    html: dict[str, str] = {}
    while queue:
        if len(bodies) >= MAX_FILES:
            log.warning("snapshot truncated", page=slug, files=len(bodies), left=len(queue))
            break
        path = queue.pop(0)
        response = await client.get(_server_url(path, slug))
        if response.status_code != 200:
            if path in required or response.status_code != 404:
                raise SnapshotError(f"{_server_url(path, slug)}: HTTP {response.status_code}")
            continue  # a link (in Markdown, say) to an incident that is not public
        bodies[path] = response.content
        if path.endswith(".html"):
            html[path] = response.text
            for url in _links(response.text):
                found = local_path(url, slug)
                if found is not None and found not in seen:
                    seen.add(found)
                    queue.append(found)
    present = set(bodies)
    names = {path: stored_name(path, body) for path, body in bodies.items()}
    page_prefix, origin = f"{ORIGIN}/s/{slug}".encode(), f"{ORIGIN}/".encode()
    base = base_url.rstrip("/").encode()
    base_origin = "{0.scheme}://{0.netloc}/".format(urlsplit(base_url)).encode()
    for path, body in bodies.items():
        if path in html:
            public = base_url.rstrip("/")
            bodies[path] = rewrite_html(
                html[path], path, slug, present, public, names=names
            ).encode()
        elif not path.startswith("static/"):
            bodies[path] = body.replace(page_prefix, base).replace(origin, base_origin)
    return Snapshot(slug, {names[path]: body for path, body in bodies.items()})


def _order(files: Mapping[str, bytes]) -> list[str]:
    """Assets first, then incident pages, the page itself last: a reader who sees a new link
    finds what it points to."""
    return sorted(files, key=lambda p: (p == "index.html", p.endswith(".html"), p))


def _content_type(path: str) -> str:
    suffix = posixpath.splitext(path)[1]
    guessed = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") else guessed


@dataclass(frozen=True)
class SnapshotTarget:
    """Where snapshots go: a directory or an S3 prefix (``ArchiveTarget``'s URL forms)."""

    fs: pafs.FileSystem
    root: str
    display: str

    @classmethod
    def from_url(
        cls, url: str, *, access_key: str | None = None, secret_key: str | None = None
    ) -> SnapshotTarget:
        """A directory path, ``file:///DIR`` or ``s3://BUCKET/PREFIX?endpoint=...&region=...``;
        raises ``SnapshotError`` naming ``snapshot_url``. No I/O happens here."""
        try:
            found = ArchiveTarget.from_url(url, access_key=access_key, secret_key=secret_key)
        except ArchiveError as exc:
            message = str(exc).replace("archive_url", "snapshot_url").replace("archive_", "")
            raise SnapshotError(message) from None
        return cls(found.fs, found.root, found.display)

    def child(self, name: str) -> SnapshotTarget:
        """The target of one page among several: ``ROOT/NAME``."""
        return replace(self, root=f"{self.root}/{name}", display=f"{self.display}/{name}")

    def write(self, snapshot: Snapshot) -> list[str]:
        """Publish ``snapshot`` in place of the previous one; returns the paths written.

        Only an absent or empty location, or one holding an earlier snapshot (it has the
        ``MARKER`` file), is replaced: anything else raises ``TargetInUse``, so a mistyped
        ``--out`` never deletes a directory. Blocks on I/O; raises ``OSError``."""
        files = {**snapshot.files, MARKER: f"{snapshot.slug}\n".encode()}
        if isinstance(self.fs, pafs.LocalFileSystem):
            _swap_directory(Path(self.root), files, self.display)
        else:
            self._write_objects(files)
        return _order(snapshot.files)

    def _write_objects(self, files: Mapping[str, bytes]) -> None:
        selector = pafs.FileSelector(self.root, allow_not_found=True, recursive=True)
        found = [i.path for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File]
        if found and f"{self.root}/{MARKER}" not in found:
            raise TargetInUse(f"{self.display} holds objects that are not a StatPulse snapshot")
        for path in _order(files):
            metadata = {
                "Content-Type": _content_type(path),  # logo.svg: stored_name named it by type
                "Cache-Control": "max-age=10",
            }
            with self.fs.open_output_stream(f"{self.root}/{path}", metadata=metadata) as out:
                out.write(files[path])
        wanted = {f"{self.root}/{p}" for p in files}
        for path in found:
            if path not in wanted:
                self.fs.delete_file(path)  # an incident no longer shown, say


def _swap_directory(out: Path, files: Mapping[str, bytes], display: str) -> None:
    if out.exists() and not (out / MARKER).is_file() and any(out.iterdir()):
        raise TargetInUse(f"{display} is not empty and is not a StatPulse snapshot")
    out.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    fresh = out.with_name(f".{out.name}.new-{token}")
    old = out.with_name(f".{out.name}.old-{token}")
    try:
        fresh.mkdir()
        for path in _order(files):
            file = fresh / path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(files[path])
        if out.exists():
            out.rename(old)
        fresh.rename(out)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


Render = Callable[[str], Awaitable[Snapshot]]
"""Takes the snapshot of one page (``take_snapshot`` bound to a client and a store)."""


def renderer(app: FastAPI, store: Store, public_root: str) -> Render:
    """Snapshots through ``app`` (running: its lifespan started), in-process; page ``SLUG`` is
    published at ``PUBLIC_ROOT/SLUG`` (e.g. ``https://status.example.com/s``)."""

    async def render(slug: str) -> Snapshot:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            return await take_snapshot(
                client, store, slug, base_url=f"{public_root.rstrip('/')}/{slug}"
            )

    return render


async def export_page(
    settings: Settings, slug: str, target: SnapshotTarget, *, base_url: str | None = None
) -> list[str]:
    """Start an app on ``settings``' database as a reader (no runner, no bus or Redis, no
    heartbeats, retention or runner API), snapshot page ``slug`` and write it to ``target``;
    returns the paths written. ``base_url``: the page's public address [default: the origin's
    own ``http://HOST:PORT/s/SLUG``]. Raises ``UnknownPage``, ``SnapshotError``, ``OSError``."""
    from statpulse.web.app import create_app  # the web app imports this module's siblings

    reader = settings.model_copy(
        update={
            "embedded_runner": False,
            "redis_url": None,
            "workers": 1,
            "worker_index": 1,  # not the first process: heartbeats and retention stay off
            "runner_port": None,
            "pki_dir": None,
        }
    )
    app = create_app(reader)
    async with app.router.lifespan_context(app):
        store: Store = app.state.services.store
        public = base_url or f"http://{settings.host}:{settings.port}/s/{slug}"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            snapshot = await take_snapshot(client, store, slug, base_url=public)
    return await asyncio.to_thread(target.write, snapshot)


class SnapshotPublisher:
    """Re-publishes the snapshots of ``slugs`` (each to ``TARGET/SLUG/``) at start, after every
    monitor change on ``live`` (a burst of changes is one publish, at most one every
    ``min_interval_s``), when ``changed()`` is called (incident and page writes) and every
    ``refresh_s`` regardless.
    A failed publish is logged and retried on the next trigger; it never stops the server."""

    def __init__(
        self,
        render: Render,
        target: SnapshotTarget,
        slugs: Sequence[str],
        live: Broadcaster,
        *,
        min_interval_s: float = 5.0,
        refresh_s: float = 300.0,
    ) -> None:
        self._render, self._target, self._slugs, self._live = render, target, list(slugs), live
        self._min_interval_s, self._refresh_s = min_interval_s, refresh_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0
        """Completed publish rounds (for tests and metrics)."""

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="snapshot-publisher")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    def changed(self) -> None:
        """Something shown on the pages changed: publish soon."""
        self._wake.set()

    async def publish_once(self) -> None:
        """Render and write every page now; a page that fails is logged and skipped."""
        for slug in self._slugs:
            target = self._target.child(slug)
            try:
                snapshot = await self._render(slug)
                await asyncio.to_thread(target.write, snapshot)
            except PrivatePage as exc:
                # Never deleted here: the target may be shared; the operator removes it.
                log.error(
                    "snapshot not published; remove any earlier snapshot of this page",
                    page=slug,
                    target=target.display,
                    error=str(exc),
                )
            except (SnapshotError, OSError) as exc:
                log.warning("snapshot not published", page=slug, error=str(exc))
        self.published += 1

    async def _run(self) -> None:
        async with self._live.subscribe() as events:
            forward = asyncio.create_task(self._forward(events))
            try:
                while True:
                    self._wake.clear()
                    await self.publish_once()
                    await asyncio.sleep(self._min_interval_s)  # changes meanwhile coalesce
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._refresh_s)
            finally:
                forward.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await forward

    async def _forward(self, events: asyncio.Queue[MonitorChanged]) -> None:
        while True:
            await events.get()
            self._wake.set()
