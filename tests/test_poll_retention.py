"""Retention: `[poll] retention_days` prunes old `fetches` and `runs` rows at the end of every poll
(the latest run of each stage stays), and db/007's indexes serve what `monitor status` reads.
Real polls of a loopback feed server into real SQLite files; old rows are dated relative to the
poll's `now`, so nothing depends on today's date."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from monitor import pipeline
from monitor.cli.commands.core import status_data
from monitor.config.settings import Settings, load
from monitor.errors import ConfigError
from monitor.store import retention
from monitor.store.db import iso, open_db, utcnow
from tests.feedserver import FeedServer
from tests.test_poll import item, rss


@pytest.fixture
def polled(
    feed_server: FeedServer, make_registry: Callable[..., Path], poll_settings: Callable[..., Settings]
) -> Settings:
    """Settings of a database that has polled one feed once."""
    feed_server.route("/a.xml", rss([item(1), item(2)]))
    settings = poll_settings(make_registry([{"id": "a", "feeds": [(feed_server.url("/a.xml"), "")]}]))
    poll_at(settings, utcnow())
    return settings


def poll_at(settings: Settings, now: datetime) -> None:
    db = open_db(settings.db_path)
    try:
        pipeline.run_stage(db, settings, "poll", now=now, force=True)
    finally:
        db.close()


def seed_old_rows(db_path: Path, now: datetime, fetch_ages: list[int], runs: list[tuple[str, int]]) -> None:
    """Fetches of the polled feed and runs of named stages, `days` before `now`."""
    conn = sqlite3.connect(db_path)
    with conn:
        feed = conn.execute("SELECT id FROM feeds").fetchone()[0]
        conn.executemany(
            "INSERT INTO fetches (feed, started_at, outcome) VALUES (?, ?, 'fetched')",
            [(feed, iso(now - timedelta(days=days))) for days in fetch_ages],
        )
        conn.executemany(
            "INSERT INTO runs (stage, started_at, finished_at, report) VALUES (?, ?, ?, '{}')",
            [(stage, iso(now - timedelta(days=d)), iso(now - timedelta(days=d))) for stage, d in runs],
        )
    conn.close()


def rows(db_path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_poll_prunes_fetches_and_runs_older_than_retention(polled: Settings) -> None:
    now = utcnow()
    settings = polled.replace(poll__retention_days=30)
    seed_old_rows(
        settings.db_path,
        now,
        fetch_ages=[400, 31, 29],
        runs=[("poll", 400), ("poll", 31), ("poll", 29), ("digest", 400), ("digest", 365), ("cluster", 45)],
    )
    poll_at(settings, now)
    cutoff = iso(now - timedelta(days=30))
    fetch_times = [t for (t,) in rows(settings.db_path, "SELECT started_at FROM fetches")]
    assert len(fetch_times) == 3  # the 29-day-old one and the two real polls
    assert min(fetch_times) >= cutoff
    kept = rows(settings.db_path, "SELECT stage, finished_at FROM runs ORDER BY stage, finished_at")
    by_stage: dict[str, list[str]] = {}
    for stage, finished in kept:
        by_stage.setdefault(stage, []).append(finished)
    # every old poll run went; the recent ones (seeded, and the two real polls) stay
    assert len(by_stage["poll"]) == 3 and min(by_stage["poll"]) >= cutoff
    # a stage that has not run within the period keeps exactly its latest run: status still says when
    assert by_stage["digest"] == [iso(now - timedelta(days=365))]
    assert by_stage["cluster"] == [iso(now - timedelta(days=45))]
    db = open_db(settings.db_path)
    try:
        last = {r["stage"]: r["finished_at"] for r in status_data(db, settings)["last_runs"]}
    finally:
        db.close()
    assert set(last) == {"poll", "digest", "cluster"}


def test_prune_removes_more_rows_than_one_batch(polled: Settings) -> None:
    now = utcnow()
    old = 2 * retention.BATCH + 7
    seed_old_rows(polled.db_path, now, fetch_ages=[200] * old, runs=[("poll", 200)] * old)
    db = open_db(polled.db_path)
    try:
        report = retention.prune(db, polled, now=now)
    finally:
        db.close()
    assert (report.fetches, report.runs) == (old, old)
    assert rows(polled.db_path, "SELECT count(*) FROM fetches")[0][0] == 1  # the real poll's
    assert rows(polled.db_path, "SELECT count(*) FROM runs")[0][0] == 1  # the real poll, newest of its stage


def test_retention_zero_keeps_everything(polled: Settings) -> None:
    now = utcnow()
    settings = polled.replace(poll__retention_days=0)
    seed_old_rows(settings.db_path, now, fetch_ages=[5000], runs=[("poll", 5000)])
    poll_at(settings, now)
    assert rows(settings.db_path, "SELECT count(*) FROM fetches")[0][0] == 3
    assert rows(settings.db_path, "SELECT count(*) FROM runs")[0][0] == 3


def test_retention_days_from_the_config_file_and_bad_values(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("[poll]\nretention_days = 14\n", encoding="utf-8")
    assert load(config, env={}).poll.retention_days == 14
    assert Settings().poll.retention_days == 90
    for bad in ("-1", '"forever"', "100000"):
        config.write_text(f"[poll]\nretention_days = {bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="retention_days"):
            load(config, env={})


def test_status_queries_use_the_db007_indexes(db) -> None:
    plans = {
        "last runs": "SELECT stage, max(finished_at) AS finished_at FROM runs GROUP BY stage ORDER BY stage",
        "last update": "SELECT max(finished_at) FROM runs",
        "by day": "SELECT substr(published, 1, 10) AS day, country, count(*) AS articles FROM articles "
        "GROUP BY day, country ORDER BY day DESC, country LIMIT 28",
        "prune fetches": "SELECT id FROM fetches WHERE started_at < '2000-01-01' LIMIT 10",
    }
    used = {
        name: " ".join(str(r[3]) for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
        for name, sql in plans.items()
    }
    assert "runs_stage_finished" in used["last runs"]
    assert "runs_finished" in used["last update"]
    assert "articles_day_country" in used["by day"]
    assert "fetches_started" in used["prune fetches"]
