"""Settings: defaults work with no file; file < environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from statpulse.settings import load_settings


def test_defaults_use_sqlite_in_the_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert (s.host, s.port, s.region) == ("127.0.0.1", 8080, "local")
    assert s.database_url == f"sqlite:///{tmp_path / 'statpulse-data' / 'statpulse.db'}"


def test_file_then_environment_then_overrides(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "s.toml"
    config.write_text('port = 9000\nregion = "from-file"\nhost = "0.0.0.0"\n')
    monkeypatch.setenv("STATPULSE_REGION", "from-env")
    s = load_settings(config, host="127.0.0.2", port=None)
    assert (s.port, s.region, s.host) == (9000, "from-env", "127.0.0.2")


def test_db_url_wins_over_the_data_dir() -> None:
    assert load_settings(db="postgresql://u@h/db").database_url == "postgresql://u@h/db"


def test_unknown_and_invalid_settings_are_errors(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ValidationError, match="prot"):
        load_settings(config)
    with pytest.raises(ValidationError, match="port"):
        load_settings(port=70000)
