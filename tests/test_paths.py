"""User data (database, translation models, digest files) lives in the user's data folder, never in
the source tree: the same for a checkout, a copy of it and an installed wheel (issue 10, part 2)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config import paths
from monitor.config.settings import Settings, data_locations, load
from monitor.store.db import open_db
from tests.feedserver import FeedServer
from tests.test_poll import item, rss

CHECKOUT = Path(__file__).resolve().parents[1]
APP = "us-mx-monitor"
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="XDG_DATA_HOME is the Linux convention")


@pytest.fixture
def xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """XDG_DATA_HOME in tmp_path and no MONITOR_DATA_DIR: the defaults an installed monitor uses."""
    monkeypatch.delenv("MONITOR_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg"


@linux_only
def test_defaults_are_in_the_user_data_folder(xdg: Path) -> None:
    s = Settings()
    assert s.db_path == xdg / APP / "monitor.db"
    assert s.models_dir == xdg / APP / "argos"
    assert s.digest_dir == xdg / APP / "digests"


@linux_only
def test_a_checkout_and_an_install_use_the_same_user_data(xdg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editable install and a wheel must not use two different databases."""
    assert paths.is_checkout()  # the tests run from a checkout
    in_checkout = data_locations(Settings())
    monkeypatch.setattr(paths, "is_checkout", lambda: False)
    assert data_locations(Settings()) == in_checkout
    assert not any(Path(p).is_relative_to(CHECKOUT) for p in in_checkout.values())


def test_monitor_data_dir_moves_database_models_and_digests(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data_locations(Settings()) == {
        "database": str(tmp_path / "elsewhere" / "monitor.db"),
        "models": str(tmp_path / "elsewhere" / "argos"),
        "digests": str(tmp_path / "elsewhere" / "digests"),
    }


def test_db_and_out_dir_choose_where_database_and_digests_go(tmp_path: Path) -> None:
    s = Settings(db=str(tmp_path / "srv" / "news.db"))
    assert s.digest_dir == tmp_path / "srv" / "digests"  # digests follow the database
    config = tmp_path / "conf" / "monitor.toml"
    config.parent.mkdir()
    config.write_text('db = "data/news.db"\n[digest]\nout_dir = "published"\n', encoding="utf-8")
    loaded = load(config, env={})
    assert loaded.db_path == tmp_path / "conf" / "data" / "news.db"
    assert loaded.digest_dir == tmp_path / "conf" / "published"  # relative to the config file, like db
    env = load(None, env={"MONITOR_DB": str(tmp_path / "env.db")})
    assert env.digest_dir == tmp_path / "digests"


def test_config_and_status_print_where_the_data_lives(tmp_path: Path) -> None:
    base = ["--db", str(tmp_path / "d" / "m.db")]
    shown = CliRunner().invoke(cli, [*base, "config"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == "# where your data lives"
    assert f"#   database:  {tmp_path / 'd' / 'm.db'}" in lines
    assert f"#   models:    {tmp_path / 'data' / 'argos'}" in lines  # the test's MONITOR_DATA_DIR
    assert f"#   digests:   {tmp_path / 'd' / 'digests'}" in lines
    as_json = json.loads(CliRunner().invoke(cli, [*base, "config", "--json"]).stdout)
    assert as_json["locations"] == data_locations(Settings(db=str(tmp_path / "d" / "m.db")))
    assert as_json["digest"]["out_dir"] == str(tmp_path / "d" / "digests")

    open_db(tmp_path / "d" / "m.db").close()
    status = CliRunner().invoke(cli, [*base, "status"])
    assert status.exit_code == 0, status.output
    assert f"models:    {tmp_path / 'data' / 'argos'}" in status.output.splitlines()
    assert f"digests:   {tmp_path / 'd' / 'digests'}" in status.output.splitlines()
    status_json = json.loads(CliRunner().invoke(cli, [*base, "status", "--json"]).stdout)
    assert status_json["locations"] == as_json["locations"]


def test_an_archive_left_in_the_checkout_is_pointed_at_not_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_checkout = tmp_path / "checkout"
    (old_checkout / "feeds").mkdir(parents=True)
    (old_checkout / "db").mkdir()
    (old_checkout / "pyproject.toml").write_text("", encoding="utf-8")
    (old_checkout / "db" / "monitor.db").write_bytes(b"old archive")
    monkeypatch.setattr(paths, "_CHECKOUT", old_checkout)
    result = CliRunner().invoke(cli, ["config"])
    assert result.exit_code == 0
    assert f"older monitor kept its database in this checkout at {old_checkout / 'db' / 'monitor.db'}" in result.stderr
    assert (old_checkout / "db" / "monitor.db").read_bytes() == b"old archive"
    assert not paths.default_db_path().exists()
    chosen = CliRunner().invoke(cli, ["--db", str(tmp_path / "other.db"), "config"])
    assert "older monitor" not in chosen.stderr  # an explicit database: no note


# --- real processes: running commands never writes inside the source tree -----------------------

# Caches and tool folders that are not the monitor's doing (the test run itself writes some of them).
_NOT_OURS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".output"}


def listing(root: Path, with_stat: bool) -> set[tuple[str, ...]]:
    """Every file and folder under root; with_stat adds size and mtime (catches rewritten files)."""
    found: set[tuple[str, ...]] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _NOT_OURS and not d.endswith(".egg-info")]
        for name in [*dirs, *files]:
            p = Path(folder) / name
            rel = str(p.relative_to(root))
            if with_stat and p.is_file():
                st = p.stat()
                found.add((rel, str(st.st_size), str(st.st_mtime_ns)))
            else:
                found.add((rel,))
    return found


def looks_like_user_data(rel: str) -> bool:
    """A database, digest file or model folder (what an older monitor wrote into the checkout)."""
    parts = Path(rel).parts
    name = parts[-1]
    return bool({"digests", "argos", "data", "xdg"} & set(parts)) or ".db" in name or bool(re.match(r"digest-\d{4}-\d\d-\d\d", name))


def copy_of_checkout(dest: Path) -> Path:
    """What a source checkout needs to run: the package, bundled feeds, migrations, pyproject.toml."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("monitor", "feeds", "db"):
        shutil.copytree(CHECKOUT / name, dest / name, ignore=skip)
    shutil.copy(CHECKOUT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def user_env(tmp_path: Path, source: Path) -> dict[str, str]:
    """A fresh user: HOME and XDG_DATA_HOME in tmp_path, no MONITOR_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "xdg"),
        PYTHONPATH=str(source),
        PYTHONDONTWRITEBYTECODE="1",
        MONITOR_POLL_PER_HOST_SPACING_S="0",
    )
    return env


def monitor(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False,
        timeout=600,
    )
    assert done.returncode == 0, f"monitor {' '.join(args)}: {done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout


@linux_only
@pytest.mark.parametrize("where", ["copy", "checkout"])
def test_commands_write_only_to_the_user_data_folder(
    where: str,
    tmp_path: Path,
    feed_server: FeedServer,
    make_registry: Callable[..., Path],
    argos_model_files: dict[str, Path],
) -> None:
    source = copy_of_checkout(tmp_path / "src") if where == "copy" else CHECKOUT
    # a copy is all ours: any write shows (new files, rewritten files); the checkout is shared with
    # whoever else works in it, so there only new databases, digests and model folders count
    before = listing(source, with_stat=where == "copy")
    assert not any(looks_like_user_data(rel[0]) for rel in before), "the checkout already holds user data"
    feed_server.route("/mx.xml", rss([item(1, title="Sheinbaum rechaza intervención"), item(2)]))
    feed_server.route("/us.xml", rss([item(3, title="Pentagon weighs strikes", link="https://us.example/3", guid="us-3")]))
    registry = make_registry([
        {"id": "jornada", "country": "MX", "language": "es", "feeds": [(feed_server.url("/mx.xml"), "pol")]},
        {"id": "times", "country": "US", "language": "en", "feeds": [(feed_server.url("/us.xml"), "world")]},
    ])
    env = {**user_env(tmp_path, source), "MONITOR_FEEDS": str(registry)}
    data = tmp_path / "xdg" / APP

    monitor(source, env, "models", "install", "--from", str(argos_model_files["es-en"]),
            "--from", str(argos_model_files["en-es"]))
    report = json.loads(monitor(source, env, "run", "--allow-private", "--json"))
    assert report["ok"], report
    assert report["stages"]["poll"]["new_articles"] == 3
    status = json.loads(monitor(source, env, "status", "--json"))
    assert "Daily digest" in monitor(source, env, "digest")
    config = json.loads(monitor(source, env, "config", "--json"))

    after = listing(source, with_stat=where == "copy")
    if where == "copy":
        assert after == before
    else:  # others may add source files to the shared checkout meanwhile: only what the monitor writes counts
        assert {rel for rel in after - before if looks_like_user_data(rel[0])} == set()
    expected = {"database": str(data / "monitor.db"), "models": str(data / "argos"), "digests": str(data / "digests")}
    assert status["locations"] == config["locations"] == expected
    assert status["articles"] == 3 and (data / "monitor.db").is_file()
    assert sorted(p.name for p in (data / "argos" / "packages").iterdir()) == ["translate-en_es-1_0", "translate-es_en-1_0"]
    assert list((data / "digests").glob("digest-*.html"))
    assert Path(config["debate"]).is_relative_to(source)  # bundled files came from the tree under test
