"""Migrations 009 and 010: article_frames is the only store of an article's frames, the article body is
searchable (originals and translated content) with titles still ranking above bodies, and the stories'
JSON summary columns are join tables."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlite_utils

from monitor.analysis.analyze import frames_over_threshold, pending_articles
from monitor.analysis.stories import get_story
from monitor.config import paths
from monitor.config.settings import Settings
from monitor.search.engine import MARK_START, get_article, search
from monitor.search.query import parse_query
from monitor.store.db import migrations, open_db, write_transaction

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PUBLISHED = "2026-11-22T10:00:00+00:00"


def _old_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, upto: int) -> Path:
    """A database migrated only up to migration `upto`, as an older monitor left it."""
    old = tmp_path / "old-migrations"
    old.mkdir()
    for number, _, file in migrations():
        if number <= upto:
            shutil.copy(file, old / file.name)
    path = tmp_path / "old.db"
    with monkeypatch.context() as m:
        m.setattr(paths, "migrations_dir", lambda: old)
        open_db(path).close()
    return path


def _article(db: sqlite_utils.Database, aid: int, title: str, summary: str = "", body: str | None = None, lang: str = "en") -> None:
    db.execute(
        """INSERT INTO articles (id, outlet, country, language, outlet_language, url, title, summary, content_text,
           published, date_source, first_seen, content_hash) VALUES (?, 'o', ?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)""",
        [aid, "US" if lang == "en" else "MX", lang, lang, f"https://o.example/{aid}", title, summary, body,
         PUBLISHED, PUBLISHED, f"h{aid}"],
    )


def test_migration_moves_frames_from_json_to_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old_db(tmp_path, monkeypatch, upto=7)
    db = sqlite_utils.Database(path)
    with write_transaction(db):
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('o', 'O', 'US', 'en')")
        _article(db, 1, "Strikes on boats", body="The navy said the strikes would go on.")
        _article(db, 2, "Weather")
        # article 1: frames b and a over threshold (b first on a tie), c scored higher but under its threshold
        db.execute(
            "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame, frames, analyzed_at)"
            " VALUES (1, 'd', 'h1', 1, 5.0, 'b', ?, ?)",
            [json.dumps(["b", "a"]), PUBLISHED],
        )
        db.execute(
            "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame, frames, analyzed_at)"
            " VALUES (2, 'd', 'h2', 0, 0.0, NULL, '[]', ?)",
            [PUBLISHED],
        )
        for frame, score in (("a", 2.0), ("b", 2.0), ("c", 3.0)):
            db.execute("INSERT INTO article_frames (article, frame, score) VALUES (1, ?, ?)", [frame, score])
    db.close()

    db = open_db(path)  # runs 009 and later
    assert "frames" not in db["analyses"].columns_dict
    rows = db.execute("SELECT frame, over_threshold, position FROM article_frames WHERE article = 1 ORDER BY position").fetchall()
    assert rows == [("c", 0, 0), ("b", 1, 1), ("a", 1, 2)]
    assert frames_over_threshold(db, [1, 2]) == {1: ["b", "a"]}
    # the body of an article stored before the migration is in the rebuilt index
    assert [r["id"] for r in db["articles"].search("navy")] == [1]
    db.close()


@pytest.fixture
def body_db(tmp_path: Path) -> tuple[sqlite_utils.Database, Settings]:
    path = tmp_path / "m.db"
    db = open_db(path)
    with write_transaction(db):
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('o', 'O', 'US', 'en')")
        _article(db, 1, "Zacatecas mayor resigns", "A short summary.")
        _article(db, 2, "City council news", "Another summary.", body="Later in the day the mayor of Zacatecas spoke.")
        _article(db, 3, "Unrelated", "Nothing here.", body="Only about weather and rain.")
        _article(db, 4, "Noticias", "Resumen.", body="Texto en español.", lang="es")
        db.execute(
            """INSERT INTO article_translations (article, language, title, summary, content, engine, model, rough,
               source_language, source_hash, translated_at)
               VALUES (4, 'en', 'News', 'Summary.', 'The governor visited Chihuahua.', 'argos', 'm 1', 0, 'es', 's', ?)""",
            [PUBLISHED],
        )
    yield db, Settings(db=str(path)).replace(translation__engine="none")
    db.close()


def test_body_is_searchable_and_titles_rank_above_bodies(body_db: tuple[sqlite_utils.Database, Settings]) -> None:
    db, settings = body_db
    result = search(db, settings, parse_query("zacatecas"), now=NOW)
    assert [h.id for h in result.hits] == [1, 2]  # same date: the title match outranks the body match
    body_hit = result.hits[1]
    assert MARK_START in body_hit.snippet and "Zacatecas" in body_hit.snippet  # the passage of the body is shown


def test_translated_content_is_searchable(body_db: tuple[sqlite_utils.Database, Settings]) -> None:
    db, settings = body_db
    result = search(db, settings, parse_query("chihuahua"), now=NOW)
    assert [(h.id, h.matched_in) for h in result.hits] == [(4, "translation")]
    assert "Chihuahua" in result.hits[0].snippet and result.hits[0].snippet_language == "en"


def test_body_index_follows_edits_but_not_other_updates(body_db: tuple[sqlite_utils.Database, Settings]) -> None:
    db, settings = body_db
    with write_transaction(db):
        db.execute("UPDATE articles SET content_text = 'Now about Durango.' WHERE id = 3")
        db.execute("UPDATE articles SET updated_at = ? WHERE id = 2", [PUBLISHED])  # not an indexed column
    assert [h.id for h in search(db, settings, parse_query("durango"), now=NOW).hits] == [3]
    assert search(db, settings, parse_query("weather"), now=NOW).hits == []
    assert [h.id for h in search(db, settings, parse_query("zacatecas"), now=NOW).hits] == [1, 2]
    db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")  # raises if out of sync
    with write_transaction(db):
        db.execute("DELETE FROM articles WHERE id = 3")
    assert search(db, settings, parse_query("durango"), now=NOW).hits == []


def test_sqlite_utils_and_datasette_find_the_indexes(body_db: tuple[sqlite_utils.Database, Settings]) -> None:
    db, _ = body_db
    assert db["articles"].detect_fts() == "articles_fts"
    assert db["article_translations"].detect_fts() == "article_translations_fts"
    assert [r["id"] for r in db["articles"].search("zacatecas")] == [1, 2]
    db["articles"].rebuild_fts()
    assert [r["article"] for r in db["article_translations"].search("chihuahua")] == [4]


def test_frame_filter_and_article_frames_read_from_the_table(body_db: tuple[sqlite_utils.Database, Settings]) -> None:
    db, settings = body_db
    with write_transaction(db):
        for aid in (1, 2):
            db.execute(
                "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame, analyzed_at)"
                " VALUES (?, 'd', 'h', 1, 3.0, 'security', ?)",
                [aid, PUBLISHED],
            )
        # article 1: security over threshold; article 2: security scored but under its threshold
        db.execute("INSERT INTO article_frames (article, frame, score, over_threshold, position) VALUES (1, 'security', 3, 1, 0)")
        db.execute("INSERT INTO article_frames (article, frame, score, over_threshold, position) VALUES (1, 'legality', 2, 1, 1)")
        db.execute("INSERT INTO article_frames (article, frame, score, over_threshold, position) VALUES (2, 'security', 1, 0, 0)")
    hits = search(db, settings, parse_query("zacatecas frame:security"), now=NOW).hits
    assert [(h.id, h.frames) for h in hits] == [(1, ["security", "legality"])]
    detail = get_article(db, 2)
    assert detail is not None and detail.analysis is not None and detail.analysis["frames"] == []


def test_migration_moves_story_json_to_join_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _old_db(tmp_path, monkeypatch, upto=9)
    db = sqlite_utils.Database(path)
    with write_transaction(db):
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('o', 'O', 'US', 'en')")
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('m', 'M', 'MX', 'es')")
        _article(db, 1, "Boat strike")
        _article(db, 2, "Ataque a lancha", lang="es")
        db.execute("UPDATE articles SET outlet = 'm' WHERE id = 2")
        _article(db, 3, "Old story")
        for aid, actors in ((1, ["hegseth", "semar"]), (2, ["semar"]), (3, ["hegseth"])):
            db.execute(
                "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, top_frame, actors, analyzed_at)"
                " VALUES (?, 'd', 'h', 1, 3.0, 'military', ?, ?)",
                [aid, json.dumps(actors), PUBLISHED],
            )
        db.execute(
            """INSERT INTO stories (id, first_seen, last_seen, first_seen_by_country, outlets, countries, size,
               frames_by_country, actors, updated_at) VALUES (5, ?, ?, ?, '["o","m"]', '["MX","US"]', 2, ?, '["semar"]', ?)""",
            [PUBLISHED, PUBLISHED, json.dumps({"US": PUBLISHED, "MX": PUBLISHED}),
             json.dumps({"US": {"military": 1.0}, "MX": {"military": 0.5, "sovereignty": 0.5}}), PUBLISHED],
        )
        db.execute(  # merged into 5: shows nothing of its own
            """INSERT INTO stories (id, size, frames_by_country, merged_into, updated_at)
               VALUES (6, 0, '{"US": {"legality": 1.0}}', 5, ?)""",
            [PUBLISHED],
        )
        for aid, story in ((1, 5), (2, 5), (3, 6)):
            db.execute("INSERT INTO story_articles (story, article, joined_at) VALUES (?, ?, ?)", [story, aid, PUBLISHED])
    db.close()

    db = open_db(path)
    assert {"first_seen_by_country", "outlets", "countries", "frames_by_country", "actors", "centroid"}.isdisjoint(
        db["stories"].columns_dict
    )
    q = "SELECT {} FROM {} WHERE story = ? ORDER BY 1, 2"
    assert db.execute(q.format("country, articles", "story_countries"), [5]).fetchall() == [("MX", 1), ("US", 1)]
    assert db.execute(q.format("outlet, articles", "story_outlets"), [5]).fetchall() == [("m", 1), ("o", 1)]
    assert db.execute(q.format("actor, articles", "story_actors"), [5]).fetchall() == [("hegseth", 1), ("semar", 2)]
    assert db.execute(q.format("country, frame, share", "story_frames"), [5]).fetchall() == [
        ("MX", "military", 0.5), ("MX", "sovereignty", 0.5), ("US", "military", 1.0)
    ]
    for table in ("story_countries", "story_outlets", "story_frames", "story_actors"):
        assert db.execute(f"SELECT count(*) FROM {table} WHERE story = 6").fetchone()[0] == 0
    view = get_story(db, 6)  # the merged id follows to 5, whose summary comes from the tables
    assert view is not None and view.id == 5
    assert view.first_seen_by_country == {"MX": PUBLISHED, "US": PUBLISHED}
    assert view.frames_by_country == {"MX": {"military": 0.5, "sovereignty": 0.5}, "US": {"military": 1.0}}
    db.close()


def test_migration_015_reanalyses_the_model_s_relevant_articles_for_their_frame_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _old_db(tmp_path, monkeypatch, upto=14)
    db = sqlite_utils.Database(path)
    with write_transaction(db):
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('o', 'O', 'US', 'en')")
        for aid, relevant, probability in ((1, 1, 0.9), (2, 1, None), (3, 0, 0.1)):
            _article(db, aid, f"Article {aid}")
            db.execute(
                "INSERT INTO analyses (article, debate_hash, content_hash, translation_hash, relevant, relevance, top_frame,"
                " analyzed_at, probability) VALUES (?, 'd', ?, '||', ?, 1.0, ?, ?, ?)",  # '||': no translation, no vector
                [aid, f"h{aid}", relevant, "legality" if relevant else None, PUBLISHED, probability],
            )
    assert pending_articles(db, "d") == []  # all up to date before
    db.close()

    db = open_db(path)  # runs 015
    assert "frame_mix" in db["analyses"].columns_dict
    # only the relevant article the model analysed lacks a mix it would have now: it is analysed again
    assert pending_articles(db, "d") == [1]
    assert db.execute("SELECT count(*) FROM analyses WHERE frame_mix IS NOT NULL").fetchone()[0] == 0
    db.close()
