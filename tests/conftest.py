"""Shared fixtures. Area fixtures live in tests/fixtures_<area>.py and are listed here."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import CodeType

import pytest

from monitor.config import settings as settings_mod
from monitor.store.db import open_db

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

# The shared test data (real feeds, feedparser's corpus) lives beside the checkout (CI clones it
# there), or where MONITOR_SHARED points (read here, before the autouse fixture clears MONITOR_*).
SHARED = Path(os.environ.get("MONITOR_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
REAL_FEEDS = SHARED / "real-feeds"
FEEDPARSER_CASES = SHARED / "feedparser-cases"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def shared_missing() -> str | None:
    """The one message every test that needs ../shared fails with when it is not there."""
    missing = [p.name for p in (REAL_FEEDS, FEEDPARSER_CASES) if not p.is_dir()]
    if not missing:
        return None
    return (
        f"shared test data missing: {', '.join(missing)} not found in {SHARED}; put the project's shared/ "
        "folder beside the checkout or set MONITOR_SHARED to it"
    )


def shared_files(folder: Path, pattern: str = "*") -> list[Path]:
    """The files under a shared folder, for parametrize. When the folder is missing: the folder
    itself, so the test is still collected and fails with `shared_missing()` instead of vanishing."""
    if not folder.is_dir():
        return [folder]
    return sorted(p for p in folder.rglob(pattern) if p.is_file() and p.name != "README.md")


def _in_shared(value: object) -> bool:
    if isinstance(value, Path):
        return value.is_relative_to(SHARED)
    return isinstance(value, list | tuple) and any(_in_shared(v) for v in value[:1])


def needs_shared(item: pytest.Item) -> bool:
    """Whether a test reads ../shared: a parameter is a path in it, or the test's code (or a function
    of its module that it calls, transitively) reads a module-level path in it."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(_in_shared(v) for v in callspec.params.values()):
        return True
    function, module = getattr(item, "function", None), getattr(item, "module", None)
    if function is None or module is None:
        return False
    names = vars(module)
    todo, seen = [function.__code__], set()
    while todo:
        code = todo.pop()
        if code in seen:
            continue
        seen.add(code)
        todo.extend(c for c in code.co_consts if isinstance(c, CodeType))  # lambdas, comprehensions
        for name in code.co_names:
            value = names.get(name)
            if _in_shared(value):
                return True
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                todo.append(value.__code__)
    return False


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """A test that needs ../shared fails, with one clear message, when it is missing (never skips)."""
    message = shared_missing()
    if message and needs_shared(item):
        pytest.fail(message, pytrace=False)


def pytest_report_header() -> str | None:
    message = shared_missing()
    return f"WARNING: {message}: the tests that read it will fail" if message else None


@pytest.fixture(autouse=True, scope="session")
def _private_user_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The real user's data folder is never read or written, by a test or by any process it starts:
    XDG_DATA_HOME (what platformdirs reads on Linux) points into a per-session folder before the
    first test runs; on macOS, where it is ignored, HOME does too. Each test also gets its own
    MONITOR_DATA_DIR (below), so this is the net under it (e.g. a subprocess that drops MONITOR_*)."""
    folder = tmp_path_factory.mktemp("user-data")
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_DATA_HOME", str(folder / "xdg-data"))
    if sys.platform == "darwin":
        mp.setenv("HOME", str(folder / "home"))
    yield folder
    mp.undo()


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's config, database or models."""
    for key in list(os.environ):
        if key.startswith("MONITOR_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MONITOR_DATA_DIR", str(tmp_path / "data"))
    # no test downloads translation models from the internet; tests/test_model_index.py turns it on
    monkeypatch.setenv("MONITOR_TRANSLATION_AUTO_INSTALL", "0")
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
    return settings_mod.Settings(db=str(db_path)).replace(poll__allow_private=True, translation__auto_install=False)
