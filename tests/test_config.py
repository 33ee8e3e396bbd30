from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from netwarden.config import ConfigError, load_settings


def test_defaults_are_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database.url == "sqlite:///netwarden.db"
    assert settings.source == "defaults"
    assert settings.retention.keep_days == 90


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "nw.toml"
    path.write_text('[database]\nurl = "postgresql://a@b/c"\n[ingest]\ntimezone = "Europe/Prague"\nbatch_size = 100\n')
    settings = load_settings(path, environ={"NETWARDEN_INGEST_BATCH_SIZE": "250"})
    assert settings.database.url == "postgresql://a@b/c"
    assert settings.ingest.batch_size == 250  # the environment wins over the file
    assert settings.local_tz() == ZoneInfo("Europe/Prague")
    assert settings.source == str(path)


def test_config_found_through_environment_variable(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text("[retention]\nkeep_days = 7\n")
    assert load_settings(environ={"NETWARDEN_CONFIG": str(path)}).retention.keep_days == 7


@pytest.mark.parametrize(("text", "env", "needle"), [
    ("[ingest]\ntimezone = \"Mars/Olympus\"\n", {}, "unknown time zone"),
    ("[ingest]\nbatch_size = 0\n", {}, "ingest.batch_size"),
    ("[database]\nurl = 5\n", {}, "database.url"),
    ("[nonsense]\nx = 1\n", {}, "nonsense"),
    ("[retention\nkeep_days = 1\n", {}, "not valid TOML"),
    ("", {"NETWARDEN_RETENTION_KEEP_DAYS": "-3"}, "retention.keep_days"),
])
def test_mistakes_are_named(tmp_path: Path, text: str, env: dict[str, str], needle: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_settings(path, environ=env)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", environ={})


def test_home_networks_from_file_or_comma_separated_environment(tmp_path: Path) -> None:
    path = tmp_path / "n.toml"
    path.write_text('[network]\nhome = ["192.0.2.0/24"]\n')
    assert load_settings(path, environ={}).network.home == ["192.0.2.0/24"]
    env = {"NETWARDEN_NETWORK_HOME": "10.0.0.0/8, 2001:db8::/32"}
    assert load_settings(path, environ=env).network.home == ["10.0.0.0/8", "2001:db8::/32"]
    with pytest.raises(ConfigError, match="not a network"):
        load_settings(path, environ={"NETWARDEN_NETWORK_HOME": "office"})
