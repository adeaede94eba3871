"""Configuration layers: defaults, TOML file, environment; clear errors; no secrets in files."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import settings as settings_mod
from monitor.errors import ConfigError


def test_defaults_work_with_no_file() -> None:
    s = settings_mod.load(env={})
    assert s.poll.interval_min == 30 and s.translation.engine == "auto"
    assert s.feeds_path.name == "outlets.toml" and s.feeds_path.exists()


def test_file_then_environment_override(tmp_path: Path) -> None:
    cfg = tmp_path / "monitor.toml"
    cfg.write_text('db = "data/m.db"\n[poll]\nconcurrency = 4\n[digest]\nrecipients = ["a@example.org"]\n')
    s = settings_mod.load(cfg, env={"MONITOR_POLL_CONCURRENCY": "6", "MONITOR_ALLOW_PRIVATE": "1"})
    assert s.poll.concurrency == 6  # environment wins over the file
    assert s.poll.allow_private is True
    assert s.digest.recipients == ["a@example.org"]
    assert s.db_path == tmp_path / "data" / "m.db"  # relative to the config file


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[poll]\nconcurency = 4\n", "unknown option 'concurency'"),
        ("[poll]\nconcurrency = 'many'\n", "expected an integer"),
        ("[smtp]\npassword = 'x'\n", "MONITOR_SMTP_PASSWORD"),
        ("[poll\n", "not valid TOML"),
        ("colour = 'red'\n", "unknown key 'colour'"),
    ],
)
def test_bad_config_names_file_and_option(tmp_path: Path, text: str, message: str) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message) as err:
        settings_mod.load(cfg, env={})
    assert str(cfg) in str(err.value)


def test_bad_environment_value_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="MONITOR_POLL_"):
        settings_mod.load(env={"MONITOR_POLL_JITTER": "lots"})


def test_password_only_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_SMTP_PASSWORD", "s3cret")
    s = settings_mod.load(env={})
    assert s.smtp_password == "s3cret"
    assert settings_mod.as_dict(s)["smtp"]["password"] == "(set)"
