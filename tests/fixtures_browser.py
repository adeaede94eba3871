"""Fixture `chromium`: Debian's headless Chromium driven by Playwright (never a downloaded browser),
and `save_screenshot`, where every test's screenshots go.

The flags keep Chromium off the network (this machine has none) and let it run as root in CI.
Screenshots are written to tests/.output/screenshots/ (ignored by git): a test run never rewrites a
tracked file. The README's copies in tests/screenshots/ are refreshed only on request:
`MONITOR_REFRESH_SCREENSHOTS=1 .venv/bin/python -m pytest tests/test_digest_browser.py tests/test_web.py`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
SCREENSHOT_OUTPUT = TESTS / ".output" / "screenshots"
README_SCREENSHOTS = TESTS / "screenshots"
# Read when pytest loads this plugin: the autouse fixture clears MONITOR_* variables for each test.
REFRESH_SCREENSHOTS = os.environ.get("MONITOR_REFRESH_SCREENSHOTS") == "1"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A launched headless Chromium (playwright Browser) for one test.

    Not shared across tests: Playwright's sync API keeps an asyncio loop running in the main
    thread while it is open, and every later `asyncio.run()` (the poll stage) would then fail."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (.ci/setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def save_screenshot(page: Any, name: str, **options: Any) -> Path:
    """Screenshot `page` into tests/.output/screenshots/`name`; with MONITOR_REFRESH_SCREENSHOTS=1
    also copy it over the README's tests/screenshots/`name`."""
    SCREENSHOT_OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = SCREENSHOT_OUTPUT / name
    page.screenshot(path=str(shot), **options)
    if REFRESH_SCREENSHOTS:
        shutil.copyfile(shot, README_SCREENSHOTS / name)
    return shot
