"""`monitor demo`: the whole pipeline on bundled sample feeds from loopback, with no network."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.fixtures_pipeline import DemoRun


def test_demo_runs_every_stage_and_shows_both_countries(demo_run: DemoRun) -> None:
    out = demo_run.output
    assert demo_run.exit_code == 0, out
    for stage in ("poll:", "language:", "translate:", "analyze:", "cluster:", "digest:"):
        assert stage in out
    assert "FAILED" not in out
    assert "side by side" in out and "US press" in out and "MX press" in out
    assert "How each press framed the debate" in out
    assert "Originals beside translations:" in out and "(rough)" in out  # apertium output is marked
    assert "MX:" in out and "US:" in out  # articles stored, by country


def test_demo_database_has_both_countries_translations_and_stories(demo_run: DemoRun) -> None:
    conn = sqlite3.connect(demo_run.settings.db_path)
    try:
        by_country = dict(conn.execute("SELECT country, count(DISTINCT outlet) FROM articles GROUP BY country"))
        assert by_country["US"] >= 6 and by_country["MX"] >= 6
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] >= 120
        # Spanish-dated feeds were understood: nothing fell back to first-seen
        assert conn.execute("SELECT count(*) FROM articles WHERE date_source = 'fetched'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM article_translations").fetchone()[0] > 0
        shared = conn.execute(
            "SELECT count(*) FROM (SELECT sa.story FROM story_articles sa JOIN articles a ON a.id = sa.article "
            "GROUP BY sa.story HAVING count(DISTINCT a.country) = 2)"
        ).fetchone()[0]
        assert shared >= 3
    finally:
        conn.close()


def test_demo_writes_the_demo_days_digest_files(demo_run: DemoRun) -> None:
    folder = Path(demo_run.settings.db_path).parent
    for ext in ("html", "txt", "md"):
        path = folder / f"digest-2026-11-22.{ext}"
        assert path.exists() and str(path) in demo_run.output
    assert "Sheinbaum" in (folder / "digest-2026-11-22.txt").read_text(encoding="utf-8")
