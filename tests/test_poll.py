"""The poll stage against a real loopback HTTP server: storage, identity, politeness, failures."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from monitor.config.settings import Settings
from monitor.ingest import poll
from monitor.store.db import open_db, utcnow
from tests.conftest import REAL_FEEDS
from tests.feedserver import FeedServer


def rss(items: list[dict[str, str]], title: str = "Feed", extra: str = "") -> bytes:
    body = "".join(
        "<item>"
        + "".join(f"<{k}>{v}</{k}>" for k, v in item.items())
        + "</item>"
        for item in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://news.example/</link>{extra}{body}</channel></rss>"
    ).encode()


def item(n: int, **kw: str) -> dict[str, str]:
    base = {
        "title": f"Titular número {n}",
        "link": f"https://news.example/a/{n}",
        "guid": f"https://news.example/a/{n}",
        "description": f"Resumen {n} sobre México",
        "pubDate": "Sun, 22 Nov 2026 10:00:00 GMT",
    }
    base.update(kw)
    return base


def count(db_path: Path, sql: str) -> int:
    conn = sqlite3.connect(db_path)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()


def run_poll(settings: Settings, **kw: object) -> poll.PollReport:
    db = open_db(settings.db_path)
    try:
        return poll.run(db, settings, now=utcnow(), **kw)  # type: ignore[arg-type]
    finally:
        db.close()


REAL_FILES = sorted(p for p in REAL_FEEDS.rglob("*") if p.suffix in (".xml", ".rss"))


def test_real_feeds_polled_counts_match_feedparser_and_second_poll_writes_nothing(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.serve_dir(REAL_FEEDS, prefix="/real/")
    outlets = [
        {
            "id": f"o{i}",
            "country": "MX" if "/mx/" in str(p) else "US",
            "language": "en",
            "feeds": [(feed_server.url("/real/" + str(p.relative_to(REAL_FEEDS))), "world")],
        }
        for i, p in enumerate(REAL_FILES)
    ]
    settings = poll_settings(make_registry(outlets))
    report = run_poll(settings)
    assert report.failed == 0, report.errors
    assert report.fetched == len(REAL_FILES)
    db = open_db(settings.db_path)
    try:
        for i, p in enumerate(REAL_FILES):
            expected = feedparser.parse(io.BytesIO(p.read_bytes()))
            stored = db.execute("SELECT count(*) FROM article_feeds af JOIN feeds f ON f.id = af.feed "
                                "WHERE f.outlet = ?", [f"o{i}"]).fetchone()[0]
            distinct = {e.get("id") or e.get("link") or e.get("title") for e in expected.entries}
            assert stored == len(distinct), p.name
        uol = db.execute(
            "SELECT group_concat(title, ' ') FROM articles a JOIN feeds f ON f.id = a.feed WHERE f.url LIKE '%uol%'"
        ).fetchone()[0]
        assert "\ufffd" not in uol and any(ch in uol for ch in "áéíóúãõç")
        mx = db.execute("SELECT group_concat(title, ' ') FROM articles WHERE country = 'MX'").fetchone()[0]
        assert any(ch in mx for ch in "áéíóúñ")
        before = db.execute("SELECT count(*), max(id) FROM articles").fetchone()
        revisions = db.execute("SELECT count(*) FROM article_revisions").fetchone()[0]
    finally:
        db.close()
    feed_server.reset_log()
    second = run_poll(settings, force=True)
    assert second.new_articles == 0 and second.updated_articles == 0
    assert second.not_modified == len(REAL_FILES)  # the server honours our ETag
    assert all(r.headers.get("if-none-match") for r in feed_server.requests)
    assert count(settings.db_path, "SELECT count(*) FROM articles") == before[0]
    assert count(settings.db_path, "SELECT count(*) FROM article_revisions") == revisions


def test_not_due_feeds_are_skipped_and_force_polls_them(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.route("/a.xml", rss([item(1), item(2)]))
    settings = poll_settings(make_registry([{"id": "a", "feeds": [(feed_server.url("/a.xml"), "")]}]))
    assert run_poll(settings).new_articles == 2
    again = run_poll(settings)
    assert again.skipped == 1 and again.fetched == 0 and feed_server.count("/a.xml") == 1
    forced = run_poll(settings, force=True)
    assert forced.skipped == 0 and feed_server.count("/a.xml") == 2
    # same body without validators -> body hash hit, nothing parsed or stored
    assert forced.unchanged == 1 and forced.new_articles == 0


def test_identity_updates_revisions_and_cross_feed_dedup(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.route("/front.xml", rss([item(1), item(2)]))
    feed_server.route(
        "/section.xml",
        rss([item(1, link="https://news.example/a/1?utm_source=rss&utm_medium=feed", guid="sec-1")]),
    )
    settings = poll_settings(
        make_registry(
            [{"id": "out", "feeds": [(feed_server.url("/front.xml"), "home"), (feed_server.url("/section.xml"), "pol")]}]
        )
    )
    report = run_poll(settings)
    assert report.new_articles == 2  # article 1 reached through two feeds is one row
    assert count(settings.db_path, "SELECT count(*) FROM articles") == 2
    assert count(settings.db_path, "SELECT count(*) FROM article_feeds") == 3

    # edited title (same guid) -> updated in place, old title kept as a revision
    # guid scheme change for item 2 (same link) -> not a new article
    feed_server.route(
        "/front.xml", rss([item(1, title="Titular corregido"), item(2, guid="https://news.example/entry-title")])
    )
    report = run_poll(settings, force=True)
    assert report.new_articles == 0
    assert report.updated_articles == 1
    db = open_db(settings.db_path)
    try:
        assert db.execute("SELECT title FROM articles WHERE url = 'https://news.example/a/1'").fetchone()[0] == (
            "Titular corregido"
        )
        assert db.execute("SELECT title FROM article_revisions").fetchall() == [("Titular número 1",)]
        assert db.execute("SELECT guid FROM articles WHERE url = 'https://news.example/a/2'").fetchone()[0] == (
            "https://news.example/entry-title"
        )
        first_seen = db.execute("SELECT first_seen FROM articles WHERE url LIKE '%/a/2'").fetchone()[0]
    finally:
        db.close()
    # item 2 drops out and comes back: not new, first_seen unchanged
    feed_server.route("/front.xml", rss([item(1, title="Titular corregido")]))
    run_poll(settings, force=True)
    feed_server.route("/front.xml", rss([item(1, title="Titular corregido"), item(2, guid="https://news.example/entry-title")]))
    assert run_poll(settings, force=True).new_articles == 0
    assert count(settings.db_path, "SELECT count(*) FROM articles") == 2
    conn = sqlite3.connect(settings.db_path)
    assert conn.execute("SELECT first_seen FROM articles WHERE url LIKE '%/a/2'").fetchone()[0] == first_seen
    conn.close()


def test_duplicate_guids_fall_back_to_link(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.route("/dup.xml", rss([item(n, guid="same") for n in range(4)]))
    settings = poll_settings(make_registry([{"id": "d", "feeds": [(feed_server.url("/dup.xml"), "")]}]))
    assert run_poll(settings).new_articles == 4
    conn = sqlite3.connect(settings.db_path)
    warning = conn.execute("SELECT warning FROM feeds").fetchone()[0]
    conn.close()
    assert "duplicate guids" in warning


def test_failures_never_stop_other_feeds_and_are_recorded(
    feed_server: FeedServer,
    feed_server_factory: Callable[..., FeedServer],
    make_registry: Callable[..., Path],
    poll_settings: Callable[..., Settings],
) -> None:
    other = feed_server_factory("127.0.0.2")
    other.route("/ok.xml", rss([item(1)]))
    feed_server.route("/ok.xml", rss([item(5)]))
    settings = poll_settings(
        make_registry(
            [
                {"id": "gone", "feeds": [(feed_server.url("/410"), "")]},
                {"id": "boom", "feeds": [(feed_server.url("/500"), "")]},
                {"id": "notfeed", "feeds": [(feed_server.url("/body-is-a-path"), "")]},
                {"id": "loop", "feeds": [(feed_server.url("/loop"), "")]},
                {"id": "fine", "feeds": [(feed_server.url("/ok.xml"), "")]},
                {"id": "elsewhere", "feeds": [(other.url("/ok.xml"), "")]},
            ]
        ),
        poll__deadline_s=3.0,
    )
    report = run_poll(settings)
    assert report.new_articles == 2
    assert report.gone == 1
    kinds = {e["outlet"]: e["kind"] for e in report.errors}
    assert kinds["boom"] == "http" and kinds["notfeed"] == "not_a_feed" and kinds["loop"] == "redirects"
    db = open_db(settings.db_path)
    try:
        rows = {r["outlet"]: r for r in db.query("SELECT * FROM feeds")}
        assert rows["gone"]["status"] == "gone"
        assert rows["boom"]["consecutive_failures"] == 1 and rows["boom"]["last_error"]
        assert "hostname" not in " ".join(r["title"] for r in db.query("SELECT title FROM articles"))
        assert db.execute("SELECT count(*) FROM fetches WHERE outcome = 'failed'").fetchone()[0] == 3
    finally:
        db.close()
    # gone is not polled again, even with --force
    feed_server.reset_log()
    run_poll(settings, force=True)
    assert feed_server.count("/410") == 0


def test_retry_after_applies_to_the_whole_host(
    feed_server: FeedServer,
    feed_server_factory: Callable[..., FeedServer],
    make_registry: Callable[..., Path],
    poll_settings: Callable[..., Settings],
) -> None:
    other = feed_server_factory("127.0.0.3")
    other.route("/ok.xml", rss([item(1)]))
    feed_server.route("/b.xml", rss([item(2)]))
    feed_server.retry_after_429 = "3600"
    settings = poll_settings(
        make_registry(
            [
                {"id": "limited", "feeds": [(feed_server.url("/429"), ""), (feed_server.url("/b.xml"), "")]},
                {"id": "other", "feeds": [(other.url("/ok.xml"), "")]},
            ]
        )
    )
    report = run_poll(settings)
    assert feed_server.count("/b.xml") == 0  # the host asked us to wait
    assert report.skipped == 1 and report.new_articles == 1
    feed_server.reset_log()
    report = run_poll(settings, force=True)
    assert len(feed_server.requests) == 0  # still rate limited: no request to that host at all
    assert report.skipped == 2
    assert other.count("/ok.xml") == 2


def test_absurd_retry_after_is_recorded_not_a_crash(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.retry_after_503 = "9" * 40  # would overflow a timedelta
    settings = poll_settings(make_registry([{"id": "a", "feeds": [(feed_server.url("/503"), "")]}]))
    report = run_poll(settings)
    assert report.failed == 1 and report.errors[0]["kind"] == "http"
    db = open_db(settings.db_path)
    try:
        row = db.execute("SELECT last_error_kind, lease_owner FROM feeds").fetchone()
        assert row == ("rate_limited", None)
        until = db.execute("SELECT retry_after_until FROM hosts").fetchone()[0]
        assert until is not None  # capped by the poll policy, stored as a normal time
    finally:
        db.close()


def test_private_addresses_blocked_by_default(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.route("/a.xml", rss([item(1)]))
    settings = poll_settings(
        make_registry([{"id": "a", "feeds": [(feed_server.url("/a.xml"), "")]}]), poll__allow_private=False
    )
    report = run_poll(settings)
    assert report.failed == 1 and report.errors[0]["kind"] == "blocked"
    assert "127.0.0.1" in report.errors[0]["error"]
    assert feed_server.count("/a.xml") == 0


def test_disk_full_keeps_old_validators_and_next_run_stores(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.route("/a.xml", rss([item(1)]), etag='"v1"')
    settings = poll_settings(make_registry([{"id": "a", "feeds": [(feed_server.url("/a.xml"), "")]}]))
    run_poll(settings)
    big = [item(n, description="x" * 3000) for n in range(2, 200)]
    feed_server.route("/a.xml", rss([item(1), *big]), etag='"v2"')
    db = open_db(settings.db_path)
    try:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 2}")
        from monitor.errors import DiskFull

        with pytest.raises(DiskFull):
            poll.run(db, settings, now=utcnow(), force=True)
        assert db.execute("SELECT etag FROM feeds").fetchone()[0] == '"v1"'
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    finally:
        db.close()
    feed_server.reset_log()
    report = run_poll(settings, force=True)
    assert feed_server.requests[0].headers.get("if-none-match") == '"v1"'
    assert report.new_articles == len(big)
    assert count(settings.db_path, "SELECT count(*) FROM articles") == 1 + len(big)


def test_unknown_outlet_is_a_usage_error(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    from monitor.errors import UsageError

    settings = poll_settings(make_registry([{"id": "a", "feeds": [(feed_server.url("/a.xml"), "")]}]))
    with pytest.raises(UsageError, match="unknown outlet"):
        run_poll(settings, outlets=["nope"])


def test_redirect_to_another_registered_feed_marks_a_duplicate(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    feed_server.route("/new", rss([item(1)]))
    settings = poll_settings(
        make_registry(
            [
                {"id": "a", "feeds": [(feed_server.url("/new"), "")]},
                {"id": "b", "feeds": [(feed_server.url("/temp"), "")]},  # 302 -> /new
            ]
        )
    )
    report = run_poll(settings)
    assert report.new_articles == 1
    assert [e["kind"] for e in report.errors] == ["duplicate"]
    conn = sqlite3.connect(settings.db_path)
    assert dict(conn.execute("SELECT outlet, status FROM feeds").fetchall()) == {"a": "active", "b": "duplicate"}
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 1
    conn.close()


def test_permanent_redirect_is_followed_and_reported_after_three_polls(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    settings = poll_settings(make_registry([{"id": "m", "feeds": [(feed_server.url("/moved"), "")]}]))
    for _ in range(3):
        assert run_poll(settings, force=True).failed == 0
    assert feed_server.count("/moved") == 3
    conn = sqlite3.connect(settings.db_path)
    moved_to, moved_count, url = conn.execute("SELECT moved_to, moved_count, url FROM feeds").fetchone()
    conn.close()
    assert moved_to == feed_server.url("/new") and moved_count == 3
    assert url == feed_server.url("/moved")  # the registry is never rewritten behind the user's back
    run_poll(settings, force=True)
    assert feed_server.count("/moved") == 3  # now fetched at its new address directly


HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"


def test_hostile_fixtures_polled_end_to_end_store_nothing_dangerous(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> None:
    """Every hostile fixture served and polled: the run completes, the good feeds are stored, and
    nothing executable, no expanded entity and no local file content reaches the database."""
    feed_server.serve_dir(HOSTILE, prefix="/h/")
    files = sorted(HOSTILE.iterdir())
    settings = poll_settings(
        make_registry([{"id": f"h{i}", "feeds": [(feed_server.url(f"/h/{f.name}"), "")]} for i, f in enumerate(files)])
    )
    report = run_poll(settings)
    assert report.fetched + report.failed == len(files)
    assert {e["kind"] for e in report.errors} <= {"not_a_feed"}
    db = open_db(settings.db_path)
    try:
        # everything stored from the feeds' items (warnings may name a dropped scheme, so not those)
        dump = "\n".join(
            " ".join(str(v) for v in row)
            for row in db.execute(
                "SELECT title, summary, content_html, content_text, url, link, guid, authors, tags FROM articles"
            )
        )
        titles = [r[0] for r in db.execute("SELECT title FROM articles")]
        warnings = " ".join(r[0] or "" for r in db.execute("SELECT warning FROM feeds"))
    finally:
        db.close()
    lowered = dump.lower()
    for needle in ("<script", "javascript:", "onerror=", "<form", "<svg", "<iframe", "file:///etc", "root:x:0:0"):
        assert needle not in lowered, needle
    assert max(len(t) for t in titles) <= settings.poll.max_field_chars
    assert "lol" * 50 not in dump  # no entity expansion
    assert "México" in " ".join(titles)  # the cp1252 feed decoded
    assert "hostile" in warnings
