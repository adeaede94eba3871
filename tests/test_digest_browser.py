"""The HTML digest in headless Chromium at 600 px (desktop mail) and 375 px (phone): no script, no
external request, key text visible, no horizontal overflow on the phone.

Screenshots go to tests/.output/screenshots/ (see tests/fixtures_browser.py: the README's copies are
refreshed only with MONITOR_REFRESH_SCREENSHOTS=1)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from monitor.config.settings import Settings
from monitor.digest import build_digest, render
from monitor.store.db import open_db
from tests.fixtures_browser import README_SCREENSHOTS, REFRESH_SCREENSHOTS, save_screenshot


@pytest.fixture
def browser(chromium):
    return chromium


@pytest.mark.parametrize("width", [600, 375])
def test_html_digest_in_chromium(browser, digest_db: Path, tmp_path: Path, width: int) -> None:
    db = open_db(digest_db)
    digest = build_digest(
        db, Settings(db=str(digest_db)), date(2026, 11, 22), now=datetime(2026, 11, 23, 12, tzinfo=UTC)
    )
    html = render(digest, "html")
    page_file = tmp_path / "digest.html"
    page_file.write_text(html, encoding="utf-8")

    context = browser.new_context(viewport={"width": width, "height": 900}, java_script_enabled=True)
    page = context.new_page()
    requests: list[str] = []

    def route(r) -> None:  # log every request; only the page itself may load
        requests.append(r.request.url)
        if r.request.url == page_file.as_uri():
            r.continue_()
        else:
            r.abort()

    page.route("**/*", route)
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")

    assert requests == [page_file.as_uri()]  # no image, font, style sheet or tracker fetched
    assert page.locator("script").count() == 0
    for text in (
        "US–MX cartel debate",
        "Top stories",
        "Sheinbaum rechaza ataque de EU en Sinaloa: «México no es colonia»",
        "U.S. drone strike hits cartel lab in Sinaloa, officials say",
        "How each press framed the debate",
        "Blindspots",
    ):
        assert page.get_by_text(text, exact=False).first.is_visible(), text
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"horizontal overflow: {scroll_width}px content in a {width}px window"
    tracked = README_SCREENSHOTS / f"digest-{width}.png"
    before = tracked.read_bytes() if tracked.exists() else None
    shot = save_screenshot(page, f"digest-{width}.png", full_page=True)
    assert shot.stat().st_size > 10_000
    if not REFRESH_SCREENSHOTS:  # the README's copy is rewritten only on request
        assert (tracked.read_bytes() if tracked.exists() else None) == before
    context.close()
