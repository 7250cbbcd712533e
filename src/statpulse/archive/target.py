"""Where the archive lives: a local directory or an S3 prefix, behind one pyarrow filesystem."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pyarrow.fs as pafs

DAY_FILE = "results.parquet"
_DAY_DIR_PREFIX = "day="
_S3_QUERY_KEYS = ("endpoint", "region")
# With a custom endpoint (MinIO, moto, Ceph) the AWS SDK would otherwise guess a region
# from instance metadata; such servers accept any region.
_CUSTOM_ENDPOINT_REGION = "us-east-1"


class ArchiveError(Exception):
    """A bad archive setting; the message starts with the setting's name and holds no secret."""


@dataclass(frozen=True)
class ArchiveTarget:
    """An archive location. Methods block on I/O and raise ``OSError`` when it fails."""

    fs: pafs.FileSystem
    root: str
    display: str

    @classmethod
    def from_url(
        cls, url: str, *, access_key: str | None = None, secret_key: str | None = None
    ) -> ArchiveTarget:
        """Parse ``archive_url``: a directory path, ``file:///DIR`` or ``s3://BUCKET/PREFIX``.

        S3 takes ``?endpoint=http(s)://HOST:PORT&region=R`` (both optional; without an endpoint
        it is AWS). Credentials are the keyword arguments, else the AWS default chain
        (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``~/.aws``, instance roles).
        Raises ``ArchiveError`` naming ``archive_url``. No I/O happens here.
        """
        url = url.strip()
        if not url:
            raise ArchiveError("archive_url: empty")
        if "://" not in url:
            return _local(Path(url))
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in ("", "localhost") or parts.query or parts.fragment:
                raise ArchiveError("archive_url: use file:///ABSOLUTE/DIR (no host, no query)")
            return _local(Path(parts.path))
        if scheme == "s3":
            return _s3(url, access_key=access_key, secret_key=secret_key)
        raise ArchiveError(
            f"archive_url: unsupported scheme {scheme!r} (use a directory, file:// or s3://)"
        )

    def day_path(self, day: datetime.date) -> str:
        """The path of ``day``'s file inside ``fs``."""
        return f"{self.root}/check_results/{_DAY_DIR_PREFIX}{day.isoformat()}/{DAY_FILE}"

    def days(self) -> list[datetime.date]:
        """The archived days, oldest first; empty when nothing (not even the root) exists.

        One recursive listing (a paged ListObjectsV2 on S3); directories without a finished
        day file (an export that failed) do not count.
        """
        selector = pafs.FileSelector(
            f"{self.root}/check_results", allow_not_found=True, recursive=True
        )
        found: set[datetime.date] = set()
        for info in self.fs.get_file_info(selector):
            if info.type != pafs.FileType.File or info.base_name != DAY_FILE:
                continue
            day = _parse_day_dir(info.path.rsplit("/", 2)[-2])
            if day is not None:
                found.add(day)
        return sorted(found)

    def has_day(self, day: datetime.date) -> bool:
        """Whether ``day``'s file exists."""
        info = self.fs.get_file_info(self.day_path(day))
        return bool(info.type == pafs.FileType.File)


def _parse_day_dir(name: str) -> datetime.date | None:
    if not name.startswith(_DAY_DIR_PREFIX):
        return None
    try:
        return datetime.date.fromisoformat(name.removeprefix(_DAY_DIR_PREFIX))
    except ValueError:
        return None


def _local(path: Path) -> ArchiveTarget:
    root = str(path.expanduser().resolve())
    return ArchiveTarget(fs=pafs.LocalFileSystem(), root=root, display=root)


def _s3(url: str, *, access_key: str | None, secret_key: str | None) -> ArchiveTarget:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Never echo the netloc: it holds the credentials.
        raise ArchiveError(
            "archive_url: no credentials in the URL; use archive_access_key and "
            "archive_secret_key (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        )
    bucket = parts.netloc
    if not bucket:
        raise ArchiveError("archive_url: s3:// needs a bucket (s3://BUCKET/PREFIX)")
    if parts.fragment:
        raise ArchiveError("archive_url: s3:// takes no #fragment")
    prefix = parts.path.strip("/")
    if "//" in prefix:
        raise ArchiveError("archive_url: empty path segment in the S3 prefix")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ArchiveError("archive_url: malformed query string") from None
    unknown = sorted(set(query) - set(_S3_QUERY_KEYS))
    if unknown:
        raise ArchiveError(
            f"archive_url: unknown query key {unknown[0]!r} (allowed: endpoint, region)"
        )
    for key, values in query.items():
        if len(values) != 1 or not values[0]:
            raise ArchiveError(f"archive_url: {key} must be given once, with a value")
    if (access_key is None) != (secret_key is None):
        raise ArchiveError(
            "archive_url: give archive_access_key and archive_secret_key together, or neither"
        )
    endpoint = query.get("endpoint", [None])[0]
    region = query.get("region", [None])[0]
    endpoint_override = scheme = None
    if endpoint is not None:
        ep = urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.hostname or ep.path not in ("", "/"):
            raise ArchiveError("archive_url: endpoint must look like http(s)://HOST[:PORT]")
        if ep.username or ep.password or ep.query or ep.fragment:
            raise ArchiveError("archive_url: endpoint takes no credentials, query or fragment")
        endpoint_override, scheme = ep.netloc, ep.scheme
        region = region or _CUSTOM_ENDPOINT_REGION
    fs = pafs.S3FileSystem(
        access_key=access_key,
        secret_key=secret_key,
        region=region,
        endpoint_override=endpoint_override,
        scheme=scheme or "https",
        allow_bucket_creation=False,
    )
    root = f"{bucket}/{prefix}" if prefix else bucket
    # Only parts that passed the checks above: no credentials can be in here.
    shown = [f"{k}={v}" for k, v in (("endpoint", endpoint), ("region", region)) if v]
    display = f"s3://{root}" + (f"?{'&'.join(shown)}" if shown else "")
    return ArchiveTarget(fs=fs, root=root, display=display)
