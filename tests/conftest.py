"""Shared fixtures. Area fixtures live in tests/fixtures_<area>.py and are listed here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor import settings as settings_mod
from monitor.store import open_db

# Each area's fixtures module; add yours here (one line).
pytest_plugins = [
    # --- fixture modules ---
    "tests.fixtures_browser",
    "tests.fixtures_argos",
    "tests.fixtures_pipeline",
    "tests.fixtures_feedserver",
    "tests.fixtures_alerts",
    "tests.fixtures_digest",
    "tests.fixtures_analysis",
]

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
if not SHARED.is_dir():  # CI clones the repo with shared/ beside it
    SHARED = Path(os.environ.get("MONITOR_SHARED", SHARED))
REAL_FEEDS = SHARED / "real-feeds"
FEEDPARSER_CASES = SHARED / "feedparser-cases"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config, database or models."""
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
def db(db_path: Path):
    database = open_db(db_path)
    yield database
    database.close()


@pytest.fixture
def settings(db_path: Path) -> settings_mod.Settings:
    """Defaults with a temporary database, private addresses allowed (tests use loopback)."""
    return settings_mod.Settings(db=str(db_path)).replace(poll__allow_private=True)
