"""Secrets at rest: AES-GCM envelope encryption under a master key.

Three layers, each 32-byte AES-256-GCM keys:

- the **master key** lives outside the database (``master_key``, ``master_key_file`` or
  ``<data_dir>/master.key``); its id is the first 8 hex digits of its SHA-256;
- one **data key** per organisation is stored in ``org_data_keys`` *wrapped* (encrypted) under
  the master key, with the organisation and the data key's id as associated data;
- each secret value is **sealed** under its organisation's data key into the text
  ``sp1:<data_key_id>:<base64(nonce || ciphertext || tag)>``, with the organisation and the
  field's path (``monitor:<id>:http.headers.Authorization``) as associated data, so a value
  copied to another field or organisation does not open.

Rotating the master key re-wraps the data keys only; sealed values never change. Every failure
(tampered value, unknown or wrong key) raises ``SecretError`` naming what failed; a secret never
silently becomes empty. Keys and plaintexts never appear in messages or reprs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import os
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from statpulse.model import utcnow

if TYPE_CHECKING:
    from statpulse.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_PREFIX = "sp1:"
MASTER_KEY_FILE_NAME = "master.key"

_WRAP_AAD = b"statpulse/data-key/v1|"
_SEAL_AAD = b"statpulse/secret/v1|"
_KEY_ID = re.compile(r"[0-9a-f]{8}")


class SecretError(Exception):
    """A secret could not be sealed or opened: a missing or wrong key, a tampered or malformed
    value. ``path`` names the field when one is concerned (``monitor:<id>:http.client_key``)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


@dataclass(frozen=True, slots=True)
class MasterKey:
    """A 32-byte master key; ``id`` (8 hex digits of its SHA-256) is safe to show and store."""

    key: bytes = field(repr=False)
    id: str = field(init=False)

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise SecretError(f"a master key is {KEY_BYTES} bytes, got {len(self.key)}")
        object.__setattr__(self, "id", hashlib.sha256(self.key).hexdigest()[:8])

    @classmethod
    def generate(cls) -> MasterKey:
        return cls(os.urandom(KEY_BYTES))

    @classmethod
    def from_base64(cls, text: str, *, source: str = "master key") -> MasterKey:
        """Raises ``SecretError`` naming ``source`` (never echoing the text) when ``text`` is not
        the base64 of 32 bytes."""
        try:
            raw = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SecretError(f"{source}: not base64") from None
        if len(raw) != KEY_BYTES:
            raise SecretError(f"{source}: not the base64 of {KEY_BYTES} bytes")
        return cls(raw)

    def to_base64(self) -> str:
        return base64.b64encode(self.key).decode("ascii")


@dataclass(frozen=True, slots=True)
class WrappedDataKey:
    """A row of ``org_data_keys``: an organisation's data key wrapped under a master key."""

    org_id: uuid.UUID
    key_id: str
    wrapped: bytes = field(repr=False)
    master_key_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Keyring:
    """The master keys a process knows: ``current`` wraps new data keys; ``old`` ones (kept
    during a rotation) are still accepted for unwrapping."""

    current: MasterKey
    old: tuple[MasterKey, ...] = ()

    @classmethod
    def of(cls, keys: Sequence[MasterKey]) -> Keyring:
        """The first key is current; duplicates are dropped. Raises SecretError when empty."""
        by_id: dict[str, MasterKey] = {}
        for key in keys:
            by_id.setdefault(key.id, key)
        unique = list(by_id.values())
        if not unique:
            raise SecretError("no master key given")
        return cls(unique[0], tuple(unique[1:]))

    @property
    def keys(self) -> tuple[MasterKey, ...]:
        return (self.current, *self.old)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.id for k in self.keys)

    def rotated_to(self, new: Keyring) -> Keyring:
        """``new``'s keys first (its first is current), then these: what a rotation uses."""
        return Keyring.of([*new.keys, *self.keys])

    def wrap(self, org_id: uuid.UUID, key_id: str, data_key: bytes) -> WrappedDataKey:
        """``data_key`` wrapped under the current master key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.current.key).encrypt(nonce, data_key, _wrap_aad(org_id, key_id))
        return WrappedDataKey(org_id, key_id, nonce + sealed, self.current.id, utcnow())

    def unwrap(self, row: WrappedDataKey) -> bytes:
        """The data key of ``row``. Raises SecretError when its master key is not known here or
        does not open it (a wrong key, or a tampered row)."""
        master = next((k for k in self.keys if k.id == row.master_key_id), None)
        what = f"data key {row.key_id} of organisation {row.org_id}"
        if master is None:
            raise SecretError(
                f"{what} is wrapped under master key {row.master_key_id}, which is not "
                f"configured here (configured: {', '.join(self.ids)})"
            )
        nonce, sealed = row.wrapped[:NONCE_BYTES], row.wrapped[NONCE_BYTES:]
        try:
            return AESGCM(master.key).decrypt(nonce, sealed, _wrap_aad(row.org_id, row.key_id))
        except InvalidTag:
            raise SecretError(
                f"{what} does not unwrap under master key {master.id}: the row was altered"
            ) from None


def _wrap_aad(org_id: uuid.UUID, key_id: str) -> bytes:
    return _WRAP_AAD + org_id.bytes + b"|" + key_id.encode("ascii")


def _seal_aad(org_id: uuid.UUID, path: str) -> bytes:
    return _SEAL_AAD + org_id.bytes + b"|" + path.encode("utf-8")


def is_sealed(value: str) -> bool:
    return value.startswith(SEALED_PREFIX)


def seal_with(key: AESGCM, key_id: str, org_id: uuid.UUID, path: str, plaintext: str) -> str:
    """``plaintext`` sealed under one data key, bound to ``org_id`` and ``path``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = key.encrypt(nonce, plaintext.encode("utf-8"), _seal_aad(org_id, path))
    return f"{SEALED_PREFIX}{key_id}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def sealed_key_id(value: str, path: str) -> str:
    """The data key id of a sealed value; raises SecretError naming ``path`` when malformed."""
    parts = value.split(":", 2)
    if len(parts) != 3 or f"{parts[0]}:" != SEALED_PREFIX or not _KEY_ID.fullmatch(parts[1]):
        raise SecretError("not a sealed value (expected sp1:<key id>:<base64>)", path=path)
    return parts[1]


def open_with(key: AESGCM, org_id: uuid.UUID, path: str, value: str) -> str:
    """The plaintext of ``value``; raises SecretError naming ``path`` when it does not open
    (tampered, another field's or organisation's value, or another key)."""
    sealed_key_id(value, path)
    try:
        raw = base64.b64decode(value.split(":", 2)[2], validate=True)
    except (binascii.Error, ValueError):
        raise SecretError("sealed value is not valid base64: it was altered", path=path) from None
    try:
        plain = key.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _seal_aad(org_id, path))
    except InvalidTag:
        raise SecretError(
            "sealed value does not open: it was altered, or belongs to another field or "
            "organisation",
            path=path,
        ) from None
    return plain.decode("utf-8")


class DataKeyStore(Protocol):
    """Where wrapped data keys live (``SqlStore`` implements it on ``org_data_keys``)."""

    async def load_data_keys(self, org_id: uuid.UUID) -> list[WrappedDataKey]:
        """The organisation's data keys, oldest first."""
        ...

    async def insert_data_key(self, key: WrappedDataKey) -> None:
        """Store a new data key; committed when this returns."""
        ...


class SecretBox:
    """Seals and opens secret strings of any organisation's records (monitor headers today,
    channel tokens tomorrow) with the organisation's data key.

    An organisation's first ``seal`` creates its data key (committed before any value sealed
    under it is written). Unwrapped data keys are cached for the life of the box: a data key
    never changes (rotation only re-wraps it), so the cache cannot go stale.
    """

    def __init__(self, keyring: Keyring, data_keys: DataKeyStore) -> None:
        self._keyring = keyring
        self._data_keys = data_keys
        self._aeads: dict[tuple[uuid.UUID, str], AESGCM] = {}
        self._current: dict[uuid.UUID, str] = {}
        self._lock = asyncio.Lock()

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    async def seal(self, org_id: uuid.UUID, path: str, plaintext: str) -> str:
        """``plaintext`` sealed for the field ``path`` of an organisation's record."""
        key_id, aead = await self._current_key(org_id)
        return seal_with(aead, key_id, org_id, path, plaintext)

    async def open(self, org_id: uuid.UUID, path: str, value: str) -> str:
        """The plaintext of a value ``seal`` returned for the same organisation and path.

        Raises SecretError naming ``path`` when the value is malformed or altered, was sealed
        for another field or organisation, or its data key is missing or cannot be unwrapped.
        """
        key_id = sealed_key_id(value, path)
        try:
            aead = await self._key(org_id, key_id)
        except SecretError as exc:
            raise SecretError(str(exc), path=path) from None
        return open_with(aead, org_id, path, value)

    async def _key(self, org_id: uuid.UUID, key_id: str) -> AESGCM:
        aead = self._aeads.get((org_id, key_id))
        if aead is None:
            rows = await self._data_keys.load_data_keys(org_id)
            row = next((r for r in rows if r.key_id == key_id), None)
            if row is None:
                raise SecretError(f"data key {key_id} of organisation {org_id} does not exist")
            aead = self._aeads[(org_id, key_id)] = AESGCM(self._keyring.unwrap(row))
        return aead

    async def _current_key(self, org_id: uuid.UUID) -> tuple[str, AESGCM]:
        key_id = self._current.get(org_id)
        if key_id is None:
            async with self._lock:
                key_id = self._current.get(org_id)
                if key_id is None:
                    key_id = await self._newest_or_new(org_id)
                    self._current[org_id] = key_id
        return key_id, await self._key(org_id, key_id)

    async def _newest_or_new(self, org_id: uuid.UUID) -> str:
        rows = await self._data_keys.load_data_keys(org_id)
        if rows:
            return rows[-1].key_id
        data_key = os.urandom(KEY_BYTES)
        row = self._keyring.wrap(org_id, secrets.token_hex(4), data_key)
        await self._data_keys.insert_data_key(row)
        self._aeads[(org_id, row.key_id)] = AESGCM(data_key)
        return row.key_id


# --- master keys from settings and files ------------------------------------------------------


def parse_keys(text: str, *, source: str) -> Keyring:
    """Keys from a key file's text: one base64 key a line, the first current; blank lines and
    ``#`` comments are ignored. Raises SecretError naming ``source`` and the line."""
    keys = [
        MasterKey.from_base64(line, source=f"{source}: line {n}")
        for n, raw in enumerate(text.splitlines(), 1)
        if (line := raw.strip()) and not line.startswith("#")
    ]
    if not keys:
        raise SecretError(f"{source}: holds no key")
    return Keyring.of(keys)


def read_key_file(path: Path) -> Keyring:
    """Raises SecretError when the file is missing, unreadable or malformed."""
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read master key file {path}: {exc.strerror}") from None
    return parse_keys(text, source=str(path))


def key_file_text(keyring: Keyring) -> str:
    lines = [
        "# StatPulse master keys, one base64 key a line: the first is current, the others are",
        "# older keys still accepted while data keys are re-wrapped (statpulse secrets rotate).",
    ]
    for n, key in enumerate(keyring.keys):
        lines += [f"# {'current' if n == 0 else 'old'} key, id {key.id}", key.to_base64()]
    return "\n".join(lines) + "\n"


def write_key_file(path: Path, keyring: Keyring) -> None:
    """Create ``path`` (mode 0600, fsynced) holding ``keyring``; never replaces a file: raises
    FileExistsError. A concurrent reader sees either no file or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(key_file_text(keyring))
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # atomic, and fails rather than replace an existing key file
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def configured_keyring(settings: Settings) -> Keyring | None:
    """The keys the settings name, without creating any: ``master_key`` (one key, or several
    separated by commas or spaces, the first current), else ``master_key_file``, else an
    existing ``<data_dir>/master.key``; None when there is none."""
    if settings.master_key is not None:
        parts = re.split(r"[,\s]+", settings.master_key.get_secret_value().strip())
        keys = [MasterKey.from_base64(p, source="setting master_key") for p in parts if p]
        return Keyring.of(keys)
    if settings.master_key_file is not None:
        return read_key_file(settings.master_key_file)
    default = settings.data_dir / MASTER_KEY_FILE_NAME
    return read_key_file(default) if default.exists() else None


def load_or_create_keyring(settings: Settings) -> Keyring:
    """``configured_keyring``; with nothing configured, a new random key is written to
    ``<data_dir>/master.key`` (0600) and used from then on, so a first start needs no set-up.

    Back that file up with the database: without it the stored secrets cannot be opened. Give
    every process sharing one database the same key (``master_key`` or ``master_key_file``):
    a process that generated its own refuses to start on a database whose data keys another
    key wrapped. Raises SecretError on a malformed or unreadable key.
    """
    found = configured_keyring(settings)
    if found is not None:
        return found
    path = settings.data_dir / MASTER_KEY_FILE_NAME
    # FileExistsError: another process created it first; use theirs.
    with contextlib.suppress(FileExistsError):
        write_key_file(path, Keyring(MasterKey.generate()))
    return read_key_file(path)


def load_or_create_master_key(settings: Settings) -> MasterKey:
    """The current master key (see ``load_or_create_keyring``)."""
    return load_or_create_keyring(settings).current
