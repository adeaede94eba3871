"""Fixtures: registries pointing at loopback servers, and `demo_db`, a database built by the whole
pipeline over the bundled demo feeds (session-scoped: copy it before writing)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.demo.runner import demo_settings
from monitor.store.db import open_db


def write_registry(path: Path, outlets: list[dict[str, object]]) -> Path:
    """Write a registry TOML: each outlet dict has id, country, language, feeds=[(url, section)]."""
    lines: list[str] = []
    for o in outlets:
        feeds = ", ".join(f'{{ url = "{u}", section = "{s}" }}' for u, s in o["feeds"])  # type: ignore[union-attr]
        lines += [
            "[[outlets]]",
            f'id = "{o["id"]}"',
            f'name = "{o.get("name", str(o["id"]).title())}"',
            f'country = "{o.get("country", "MX")}"',
            f'language = "{o.get("language", "es")}"',
            f"feeds = [ {feeds} ]",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def make_registry(tmp_path: Path) -> Callable[..., Path]:
    counter = iter(range(1000))

    def make(outlets: list[dict[str, object]]) -> Path:
        return write_registry(tmp_path / f"outlets-{next(counter)}.toml", outlets)

    return make


@pytest.fixture
def poll_settings(settings: Settings) -> Callable[[Path], Settings]:
    """Settings for polling a registry on loopback quickly (no per-host spacing, no jitter)."""

    def make(registry: Path, **changes: object) -> Settings:
        defaults: dict[str, object] = {
            "poll__per_host_spacing_s": 0.0,
            "poll__jitter": 0.0,
            "poll__deadline_s": 5.0,
        }
        return settings.replace(feeds=str(registry), **{**defaults, **changes})

    return make


@dataclass(frozen=True)
class DemoRun:
    settings: Settings
    output: str  # what `monitor demo` printed
    exit_code: int


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """`monitor demo --dir DIR` run once for the session: the whole pipeline over the bundled feeds."""
    workdir = tmp_path_factory.mktemp("demo")
    mp = pytest.MonkeyPatch()
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            mp.delenv(key)
    mp.setenv("MONITOR_DATA_DIR", str(workdir / "data"))
    try:
        result = CliRunner().invoke(cli, ["demo", "--dir", str(workdir)])
    finally:
        mp.undo()
    return DemoRun(demo_settings(workdir, Settings()), result.output, result.exit_code)


@pytest.fixture(scope="session")
def demo_db_settings(demo_run: DemoRun) -> Settings:
    """Settings of the database `monitor demo` built (every stage over the bundled demo feeds)."""
    assert demo_run.exit_code == 0, demo_run.output
    return demo_run.settings


@pytest.fixture(scope="session")
def demo_db(demo_db_settings: Settings) -> Path:
    """Path of the demo database (read-only use; copy it with `copy_db` before writing)."""
    return demo_db_settings.db_path


@pytest.fixture
def demo_db_copy(demo_db: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the demo database."""
    target = tmp_path / "demo-copy.db"
    src = open_db(demo_db)
    try:
        src.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        src.close()
    shutil.copy(demo_db, target)
    return target

