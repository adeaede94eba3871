"""One feed's unexpected exception (a parser or storage bug, any Exception) is that feed's failure:
recorded in its health and the fetch log, while every other feed of the run is still polled and
stored. Real loopback server and SQLite; only the one broken feed's parser/store is replaced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.config.settings import Settings
from monitor.ingest import feed_health, poll
from monitor.store.db import open_db
from tests.feedserver import FeedServer
from tests.test_poll import item, rss, run_poll

FEEDS = 6
BROKEN = 2  # the index of the feed whose processing raises


def _registry(feed_server: FeedServer, make_registry: Callable[..., Path]) -> Path:
    outlets = []
    for n in range(FEEDS):
        feed_server.route(f"/f{n}.xml", rss([item(n * 100 + k) for k in range(3)]))
        outlets.append({"id": f"o{n}", "feeds": [(feed_server.url(f"/f{n}.xml"), "")]})
    return make_registry(outlets)


def _check_only_broken_failed(settings: Settings, report: poll.PollReport, error_type: str) -> None:
    assert report.fetched == FEEDS - 1 and report.failed == 1
    assert report.new_articles == 3 * (FEEDS - 1)
    assert [(e["outlet"], e["kind"]) for e in report.errors] == [(f"o{BROKEN}", "internal")]
    assert error_type in report.errors[0]["error"]
    db = open_db(settings.db_path)
    try:
        feeds = {r["outlet"]: r for r in db.query("SELECT * FROM feeds")}
        broken = feeds.pop(f"o{BROKEN}")
        assert broken["consecutive_failures"] == 1 and broken["last_error_kind"] == "internal"
        assert error_type in broken["last_error"] and broken["lease_owner"] is None
        assert broken["etag"] is None and broken["body_hash"] is None  # nothing of the failed attempt kept
        assert all(r["consecutive_failures"] == 0 and r["last_success_at"] for r in feeds.values())
        outcomes = dict(
            db.execute("SELECT f.outlet, x.outcome FROM fetches x JOIN feeds f ON f.id = x.feed").fetchall()
        )
        assert outcomes == {f"o{n}": "failed" if n == BROKEN else "fetched" for n in range(FEEDS)}
        broken_articles = db.execute(
            "SELECT count(*) FROM articles WHERE outlet = ?", [f"o{BROKEN}"]
        ).fetchone()[0]
        assert broken_articles == 0
    finally:
        db.close()


def test_parser_exception_fails_only_that_feed(
    feed_server: FeedServer,
    make_registry: Callable[..., Path],
    poll_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken_url = feed_server.url(f"/f{BROKEN}.xml")
    real_parse = poll.parse_feed

    def parse_or_crash(body: bytes, headers: Any, base_url: str, **kw: Any) -> Any:
        if base_url == broken_url:
            raise RecursionError("maximum recursion depth exceeded")  # what a hostile nesting could do
        return real_parse(body, headers, base_url, **kw)

    # fewer feeds than worker processes need: parsing runs in a thread, where the patch applies
    monkeypatch.setattr(poll, "parse_feed", parse_or_crash)
    settings = poll_settings(_registry(feed_server, make_registry))
    report = run_poll(settings)
    _check_only_broken_failed(settings, report, "RecursionError")
    # the next run retries the feed like any failed one, and stores it once the parser copes
    monkeypatch.setattr(poll, "parse_feed", real_parse)
    again = run_poll(settings, force=True)
    assert again.failed == 0 and again.new_articles == 3


def test_storage_exception_fails_only_that_feed(
    feed_server: FeedServer,
    make_registry: Callable[..., Path],
    poll_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_store = feed_health.store_entries

    def store_or_crash(db: Any, feed_id: int, outlet: Any, entries: Any, now_iso: str) -> Any:
        if outlet.id == f"o{BROKEN}":
            real_store(db, feed_id, outlet, entries, now_iso)  # written inside the transaction ...
            raise KeyError("no such column")  # ... then a bug: all of it must roll back
        return real_store(db, feed_id, outlet, entries, now_iso)

    monkeypatch.setattr(feed_health, "store_entries", store_or_crash)
    settings = poll_settings(_registry(feed_server, make_registry))
    report = run_poll(settings)
    _check_only_broken_failed(settings, report, "KeyError")
