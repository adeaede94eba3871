"""Configuration layers: defaults, TOML file, environment; clear errors; no secrets in files."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import settings as settings_mod
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


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        ("poll", "concurrency = -3", "[poll].concurrency = -3 must be at least 1"),
        ("poll", "deadline_s = -1", "[poll].deadline_s = -1.0 must be more than 0.0"),
        ("watch", "interval_min = 0", "[watch].interval_min = 0 must be at least 1"),
        ("poll", "jitter = 2.0", "[poll].jitter = 2.0 must be at most 0.5"),
        ("poll", "jitter = nan", "[poll].jitter: expected a number"),
        ("poll", "connect_timeout_s = inf", "[poll].connect_timeout_s: expected a number"),
        ("poll", "concurrency = 2.5", "[poll].concurrency: expected an integer"),
        ("smtp", "port = 70000", "[smtp].port = 70000 must be at most 65535"),
        ("smtp", 'security = "ssl"', "[smtp].security = 'ssl' must be one of none, starttls, tls"),
        ("translation", 'engine = "google"', "[translation].engine = 'google' must be one of"),
        ("digest", 'timezone = "Mars/Olympus"', "[digest].timezone = 'Mars/Olympus' is not a known IANA time zone"),
        ("digest", 'send_day = "tomorrow"', "[digest].send_day = 'tomorrow' must be one of yesterday, today"),
        ("watch", 'digest_time = "25:00"', "[watch].digest_time = '25:00' must be HH:MM"),
        ("cluster", "window_h = 0", "[cluster].window_h = 0 must be at least 1"),
    ],
)
def test_nonsense_values_are_one_line_naming_file_section_and_option(
    tmp_path: Path, section: str, line: str, message: str
) -> None:
    from click.testing import CliRunner

    from monitor.cli.main import cli

    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f"[{section}]\n{line}\n", encoding="utf-8")
    db = tmp_path / "monitor.db"
    result = CliRunner().invoke(cli, ["--config", str(cfg), "--db", str(db), "status"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {cfg}: {message}"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
    assert not db.exists()


def test_the_limits_themselves_are_accepted(tmp_path: Path) -> None:
    cfg = tmp_path / "edge.toml"
    cfg.write_text(
        "[poll]\nconcurrency = 1\njitter = 0.0\nper_host_spacing_s = 0\ndeadline_s = 0.5\n"
        '[watch]\ninterval_min = 1\ndigest_time = "23:59"\n[serve]\nport = 0\n[digest]\ntimezone = "UTC"\n',
        encoding="utf-8",
    )
    s = settings_mod.load(cfg, env={})
    assert (s.poll.concurrency, s.poll.jitter, s.poll.deadline_s, s.watch.interval_min) == (1, 0.0, 0.5, 1)
    assert s.serve.port == 0 and s.watch.digest_time == "23:59" and s.digest.timezone == "UTC"


def test_bad_value_from_the_environment_is_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"MONITOR_POLL_\*\.concurrency = 0 must be at least 1"):
        settings_mod.load(env={"MONITOR_POLL_CONCURRENCY": "0"})


def test_non_utf8_config_file_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[digest]\nsender = "señal@example.org"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        settings_mod.load(cfg, env={})
    proc = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(cfg), "config"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"error: {cfg}: not UTF-8 text (invalid byte at offset 21); save the config file as UTF-8\n"
