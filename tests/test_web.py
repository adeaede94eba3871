"""The newsroom page, served by uvicorn on loopback and driven by headless Chromium (Debian's).

The database is the demo database built by the whole pipeline (a private copy), plus one article
with a hostile headline, as a feed could deliver it after entity decoding.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from monitor.config.settings import Settings
from monitor.store.db import iso, open_db, parse_iso, utcnow, write_transaction
from monitor.web.app import CSP, is_loopback, snippet_parts
from tests.fixtures_browser import save_screenshot
from tests.monitor_serve import app_in_thread

HOSTILE = "<script>alert('xss')</script><img src=x onerror=alert(2)> Cártel \"Sinaloa\" & drones"


@dataclass
class Site:
    url: str
    db_path: Path
    day: str  # the local day with a story both countries covered
    hostile_id: int
    story_id: int


def _add_article(db_path: Path, title: str, country: str, story: int | None, published: str) -> int:
    """Store an article as the pipeline would (relevant, with a frame), optionally in a story."""
    db = open_db(db_path)
    try:
        outlet = db.execute("SELECT id, language FROM outlets WHERE country = ? ORDER BY id LIMIT 1", [country]).fetchone()
        now = iso(utcnow())
        with write_transaction(db):
            cur = db.execute(
                "INSERT INTO articles (outlet, country, language, outlet_language, url, link, title, summary, published,"
                " date_source, first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)",
                [outlet[0], country, outlet[1], outlet[1], "javascript:alert(3)" if "<script>" in title else None, None,
                 title, f"Summary of {title}", published, now, f"hash-{title}-{now}"],
            )
            aid = int(cur.lastrowid)
            db.execute(
                "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame, analyzed_at)"
                " VALUES (?, 'test', 'test', 1, 5.0, 'sovereignty', ?)",
                [aid, now],
            )
            db.execute(
                "INSERT INTO article_frames (article, frame, score, over_threshold, position) VALUES (?, 'sovereignty', 5.0, 1, 0)",
                [aid],
            )
            if story is not None:
                db.execute("INSERT INTO story_articles (story, article, joined_at) VALUES (?, ?, ?)", [story, aid, now])
        return aid
    finally:
        db.close()


@pytest.fixture
def site(demo_db_copy: Path, demo_db_settings: Settings) -> Iterator[Site]:
    tz = ZoneInfo(demo_db_settings.digest.timezone)
    db = open_db(demo_db_copy)
    try:
        rows = db.execute(
            "SELECT s.id, a.country, a.published FROM stories s JOIN story_articles sa ON sa.story = s.id "
            "JOIN articles a ON a.id = sa.article WHERE s.merged_into IS NULL"
        ).fetchall()
    finally:
        db.close()
    # the busiest story with a local day on which both countries' press covered it (the page lists a
    # day's articles), that latest such day, and the story's latest article that day
    days: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for sid, country, published in rows:
        days.setdefault((int(sid), parse_iso(str(published)).astimezone(tz).date().isoformat()), []).append((country, published))
    size = Counter(int(r[0]) for r in rows)
    both = [(size[sid], day, sid) for (sid, day), arts in days.items() if len({c for c, _ in arts}) > 1]
    assert both, "the demo database has no story both countries covered on one day"
    _, day, story_id = max(both)
    latest = max(p for _, p in days[(story_id, day)])
    hostile_id = _add_article(demo_db_copy, HOSTILE, "MX", story_id, latest)
    settings = demo_db_settings.replace(db=str(demo_db_copy), serve__refresh_s=1)
    with app_in_thread(settings) as url:
        yield Site(url, demo_db_copy, day, hostile_id, story_id)


@pytest.fixture
def browser(chromium: object) -> object:
    return chromium


def test_headers_escaping_and_links_over_http(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=60) as client:
        for path in ("/", "/feeds", f"/article/{site.hostile_id}", "/static/style.css", "/no-such-page", "/api/latest"):
            r = client.get(path)
            assert r.headers["content-security-policy"] == CSP, path
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["referrer-policy"] == "no-referrer"
        page = client.get(f"/?day={site.day}").text
        assert "<script>alert(" not in page and "onerror=alert" not in page.replace("onerror=alert(2)&gt;", "")
        assert "&lt;script&gt;alert(" in page
        assert "javascript:" not in page  # the hostile article's javascript: URL is never a link
        assert "<script" not in page.replace('<script src="/static/app.js" defer></script>', "")
        # the demo's translations come from apertium: every one shown is marked as rough
        items = [li for li in page.split('<li class="article"')[1:] if 'class="translation"' in li.split("</li>")[0]]
        assert items and all('class="rough"' in li.split("</li>")[0] for li in items)
        article = client.get(f"/article/{site.hostile_id}")
        assert article.status_code == 200 and "&lt;img src=x onerror=alert(2)&gt;" in article.text
        assert client.get("/article/999999").status_code == 404
        assert client.get("/?day=not-a-day").status_code == 400
        latest = client.get("/api/latest", params={"after": site.hostile_id - 1}).json()["articles"]
        assert [a["id"] for a in latest] == [site.hostile_id]
        assert latest[0]["title"] == HOSTILE and latest[0]["href"] is None


def test_hostile_search_input_gives_a_page_not_a_crash(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=60) as client:
        for q in ['"unbalanced', "OR OR -", "title:x", "\x00", "<script>alert(1)</script>", "*", "NEAR(a b)"]:
            r = client.get("/search", params={"q": q})
            assert r.status_code in (200, 400), q
            assert "<script>alert(1)" not in r.text


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_snippet_highlights_are_split_for_escaping() -> None:
    from monitor.search.engine import MARK_END, MARK_START

    assert snippet_parts(f"a <b> {MARK_START}cártel{MARK_END} c") == [("a <b> ", False), ("cártel", True), (" c", False)]


def test_newsroom_page_in_chromium(site: Site, browser: object) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    dialogs: list[str] = []
    console_errors: list[str] = []
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    response = page.goto(f"{site.url}/?day={site.day}")
    assert response is not None and response.headers["content-security-policy"] == CSP

    # the shared story shows both countries' coverage side by side
    story = page.locator("article.story", has=page.locator(f'a[href="/story/{site.story_id}"]'))
    for country in ("US", "MX"):
        assert story.locator(f'.side[data-country="{country}"] li.article').count() > 0, country
    # frame shares for both countries
    assert page.locator('.country-frames[data-country="US"] .bars li').count() > 0
    assert page.locator('.country-frames[data-country="MX"] .bars li').count() > 0
    # the hostile headline is text, not markup, and nothing ran
    assert page.locator("#latest li.article .headline").first.inner_text() == HOSTILE
    assert page.locator("img[src=x]").count() == 0
    assert dialogs == []

    # live: an article stored after the page loaded appears without a reload
    fresh_title = "Fresh: Senate debates strikes on cartels"
    fresh_id = _add_article(site.db_path, fresh_title, "US", None, iso(utcnow()))
    page.wait_for_selector(f'#latest li.article[data-id="{fresh_id}"]', timeout=15_000)
    assert page.locator("#latest li.article .headline").first.inner_text() == fresh_title
    assert page.locator("#live-status").inner_text() == "live"

    save_screenshot(page, "newsroom-desktop.png", full_page=False)  # tests/.output/, see fixtures_browser

    # search with the CLI syntax, from the header box
    page.fill("header form.search input[name=q]", "cartel")
    page.press("header form.search input[name=q]", "Enter")
    page.wait_for_selector("#result-count")
    assert page.locator("ol.results li.result").count() > 0
    page.fill("form.search-page input[name=q]", "cartel country:MX")
    page.press("form.search-page input[name=q]", "Enter")
    page.wait_for_selector("#result-count")
    metas = page.locator("ol.results li.result .meta").all_inner_texts()
    assert metas and all(m.startswith("MX ·") for m in metas)
    # a hostile query is echoed as text
    page.goto(f"{site.url}/search?q=" + "%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert page.locator("header form.search input[name=q]").input_value() == "<script>alert(1)</script>"

    # the article page: original, translation, evidence sections
    page.goto(f"{site.url}/article/{site.hostile_id}")
    assert page.locator("section.original h1").inner_text() == HOSTILE
    assert page.locator("section.evidence").count() == 1
    assert dialogs == []
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    context.close()

    # phone width: one column, nothing wider than the screen
    phone = browser.new_context(viewport={"width": 375, "height": 812}, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{site.url}/?day={site.day}")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    save_screenshot(page, "newsroom-375.png", full_page=False)
    assert dialogs == []
    phone.close()
