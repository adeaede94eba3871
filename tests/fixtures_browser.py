"""Fixture `chromium`: Debian's headless Chromium driven by Playwright (never a downloaded browser).

The flags keep Chromium off the network (this machine has none) and let it run as root in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
