"""Sealing and wrapping on their own (no database): AAD binding, tamper detection, key files,
and where the master key comes from."""

from __future__ import annotations

import base64
import hashlib
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from statpulse.security.secrets import (
    Keyring,
    MasterKey,
    SecretError,
    configured_keyring,
    load_or_create_keyring,
    load_or_create_master_key,
    open_with,
    parse_keys,
    read_key_file,
    seal_with,
    write_key_file,
)
from statpulse.settings import load_settings

ORG = uuid.UUID("01930000-0000-7000-8000-000000000001")
OTHER_ORG = uuid.UUID("01930000-0000-7000-8000-000000000002")
PATH = "monitor:01930000-0000-7000-8000-0000000000aa:http.headers.Authorization"
DATA_KEY = AESGCM(bytes(range(32)))


def _flip_one_char(sealed: str) -> str:
    head, payload = sealed.rsplit(":", 1)
    i = len(payload) // 2  # a middle character: all six of its bits are payload bits
    return f"{head}:{payload[:i]}{'B' if payload[i] == 'A' else 'A'}{payload[i + 1 :]}"


@given(st.text())
def test_a_sealed_value_opens_to_its_plaintext(plaintext: str) -> None:
    sealed = seal_with(DATA_KEY, "0a1b2c3d", ORG, PATH, plaintext)
    assert sealed.startswith("sp1:0a1b2c3d:")
    assert open_with(DATA_KEY, ORG, PATH, sealed) == plaintext


def test_sealing_twice_gives_different_ciphertexts() -> None:
    assert seal_with(DATA_KEY, "0a1b2c3d", ORG, PATH, "x") != seal_with(
        DATA_KEY, "0a1b2c3d", ORG, PATH, "x"
    )


def test_one_altered_character_fails_naming_the_field() -> None:
    sealed = seal_with(DATA_KEY, "0a1b2c3d", ORG, PATH, "Bearer s3cr3t")
    with pytest.raises(SecretError) as err:
        open_with(DATA_KEY, ORG, PATH, _flip_one_char(sealed))
    assert err.value.path == PATH and PATH in str(err.value)
    assert "s3cr3t" not in str(err.value)


def test_a_value_of_another_organisation_does_not_open() -> None:
    sealed = seal_with(DATA_KEY, "0a1b2c3d", ORG, PATH, "Bearer s3cr3t")
    with pytest.raises(SecretError, match="another field or organisation"):
        open_with(DATA_KEY, OTHER_ORG, PATH, sealed)


def test_a_value_moved_to_another_field_does_not_open() -> None:
    sealed = seal_with(DATA_KEY, "0a1b2c3d", ORG, PATH, "Bearer s3cr3t")
    other = PATH.replace("Authorization", "X-Debug")
    with pytest.raises(SecretError) as err:
        open_with(DATA_KEY, ORG, other, sealed)
    assert err.value.path == other


@pytest.mark.parametrize("value", ["Bearer plain", "sp1:zz:AAAA", "sp1:0a1b2c3d:not base64!"])
def test_a_malformed_value_fails_naming_the_field(value: str) -> None:
    with pytest.raises(SecretError) as err:
        open_with(DATA_KEY, ORG, PATH, value)
    assert err.value.path == PATH


def test_the_master_key_id_is_the_first_8_hex_of_its_sha256_and_the_key_never_shows() -> None:
    key = MasterKey.generate()
    assert key.id == hashlib.sha256(key.key).hexdigest()[:8]
    assert key.to_base64() not in repr(key) and repr(key.key) not in repr(key)


def test_a_data_key_unwraps_only_for_its_organisation_and_id() -> None:
    keyring = Keyring(MasterKey.generate())
    row = keyring.wrap(ORG, "0a1b2c3d", b"k" * 32)
    assert keyring.unwrap(row) == b"k" * 32
    for moved in (
        row.__class__(OTHER_ORG, row.key_id, row.wrapped, row.master_key_id, row.created_at),
        row.__class__(ORG, "ffffffff", row.wrapped, row.master_key_id, row.created_at),
    ):
        with pytest.raises(SecretError, match="altered"):
            keyring.unwrap(moved)


def test_a_data_key_under_an_unknown_master_key_fails_naming_both_ids() -> None:
    old, new = Keyring(MasterKey.generate()), Keyring(MasterKey.generate())
    row = old.wrap(ORG, "0a1b2c3d", b"k" * 32)
    with pytest.raises(SecretError) as err:
        new.unwrap(row)
    assert old.current.id in str(err.value) and new.current.id in str(err.value)
    assert new.rotated_to(old).unwrap(row) == b"k" * 32


def test_a_key_file_lists_the_current_key_first_and_ignores_comments() -> None:
    a, b = MasterKey.generate(), MasterKey.generate()
    keyring = parse_keys(f"# new\n{a.to_base64()}\n\n  {b.to_base64()}  \n", source="f")
    assert keyring.current == a and keyring.old == (b,)


def test_a_bad_key_file_line_is_named_without_its_content() -> None:
    good = MasterKey.generate().to_base64()
    short = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(SecretError) as err:
        parse_keys(f"{good}\n{short}\n", source="keys.txt")
    assert "keys.txt: line 2" in str(err.value) and short not in str(err.value)


def test_write_key_file_is_private_and_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "k" / "master.key"
    keyring = Keyring.of([MasterKey.generate(), MasterKey.generate()])
    write_key_file(path, keyring)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_key_file(path) == keyring
    with pytest.raises(FileExistsError):
        write_key_file(path, Keyring(MasterKey.generate()))
    assert read_key_file(path) == keyring
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]


def test_first_start_creates_a_private_master_key_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert configured_keyring(settings) is None
    key = load_or_create_master_key(settings)
    path = tmp_path / "data" / "master.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_master_key(settings) == key
    assert configured_keyring(settings) == Keyring(key)


def test_the_master_key_setting_wins_and_may_list_old_keys(tmp_path: Path) -> None:
    a, b = MasterKey.generate(), MasterKey.generate()
    write_key_file(tmp_path / "file.key", Keyring(MasterKey.generate()))
    settings = load_settings(
        data_dir=tmp_path,
        master_key=SecretStr(f"{a.to_base64()},{b.to_base64()}"),
        master_key_file=tmp_path / "file.key",
    )
    assert load_or_create_keyring(settings) == Keyring(a, (b,))
    assert not (tmp_path / "master.key").exists()


def test_the_master_key_file_setting_is_read_not_created(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, master_key_file=tmp_path / "missing.key")
    with pytest.raises(SecretError, match=r"missing\.key"):
        load_or_create_keyring(settings)
    assert not (tmp_path / "master.key").exists()


def test_a_malformed_master_key_setting_is_refused_without_echoing_it(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, master_key=SecretStr("not-a-key"))
    with pytest.raises(SecretError, match="setting master_key") as err:
        load_or_create_keyring(settings)
    assert "not-a-key" not in str(err.value)
