"""Search results and `monitor show` name an article's story by its headline title (as `monitor
stories` titles it, monitor/analysis/titles.py) in the reader's language, a machine translation
marked: the engine, the CLI (plain and --json), the web search and article pages. Real SQLite, the
hand-made bilingual fixture (story 7 = a Mexican and a US article, each with a fluent translation)."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.analysis.stories import get_story, story_titles
from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.search.engine import get_article, search
from monitor.search.query import QueryError, parse_query
from monitor.store.db import open_db, write_transaction
from tests.fixtures_search import search_db_path  # noqa: F401 - fixture
from tests.test_search_semantic import _served

PENTAGON = "Pentagon weighs military strikes on Mexican cartels"  # story 7's US article (en original)
SHEINBAUM = "Sheinbaum rechaza ataques con drones contra cárteles en México"  # its Mexican article (es original)
SHEINBAUM_EN = "Sheinbaum rejects drone strikes against cartels in Mexico"  # ... fluently translated (argos)
OHIO = "Fentanyl deaths fall in Ohio"  # article 3: English, translated word for word (apertium, rough)
OHIO_ES = "Las muertes por fentanilo caen en Ohio"


@pytest.fixture
def titled(search_db_path: Path, tmp_path: Path) -> tuple[Path, Settings]:  # noqa: F811
    """A copy of the fixture with two more stories: 9 = the rough-translated Ohio article alone,
    10 = two Spanish articles (the arms-trafficking meeting and the narcoterrorism debate)."""
    path = tmp_path / "titled.db"
    shutil.copy(search_db_path, path)
    db = open_db(path)
    with write_transaction(db):
        for sid, label, members in ((9, "fentanyl ohio", (3,)), (10, "washington security", (4, 8))):
            db.execute(
                "INSERT INTO stories (id, label_en, label_es, size, updated_at) VALUES (?, ?, ?, ?, '2026-11-22T00:00:00+00:00')",
                [sid, label, label, len(members)],
            )
            for article in members:
                db.execute(
                    "INSERT INTO story_articles (story, article, joined_at) VALUES (?, ?, '2026-11-22T00:00:00+00:00')",
                    [sid, article],
                )
    db.close()
    return path, Settings(db=str(path)).replace(translation__engine="none")


def _hits(path: Path, settings: Settings, text: str, **kw):
    db = open_db(path, readonly=True)
    try:
        return {h.id: h for h in search(db, settings, parse_query(text), **kw).hits}
    finally:
        db.close()


def test_hits_carry_the_story_headline_title_in_the_reader_language(titled) -> None:
    path, settings = titled
    english = _hits(path, settings, "cartel")
    assert english[1].story == english[2].story == 7
    # both articles of story 7 show the story's title, not their own headline; the keywords stay too
    assert english[1].story_title == english[2].story_title == PENTAGON
    assert (english[1].story_title_language, english[1].story_title_translated) == ("en", False)
    assert english[1].story_label_en == "cartels strikes drones"
    assert english[5].story is None and english[5].story_title is None  # an article in no story
    # a Spanish reader: the query's lang:es filter, or the caller's choice
    assert _hits(path, settings, "cartel lang:es")[1].story_title == SHEINBAUM
    spanish = _hits(path, settings, "cartel", title_language="es")
    assert spanish[2].story_title == SHEINBAUM and spanish[2].story_title_language == "es"
    # the default without a lang: filter is [digest] lang, as `monitor stories`
    assert _hits(path, settings.replace(digest__lang="es"), "cartel")[2].story_title == SHEINBAUM
    # the same titles `get_story` gives the story page
    db = open_db(path, readonly=True)
    story = get_story(db, 7)
    db.close()
    assert story is not None and story.title_en is not None and story.title_es is not None
    assert (story.title_en.headline, story.title_es.headline) == (PENTAGON, SHEINBAUM)


def test_a_translated_story_title_is_marked_rough_with_its_original(titled) -> None:
    path, settings = titled
    hit = _hits(path, settings, "ohio", title_language="es")[3]
    assert (hit.story, hit.story_title, hit.story_title_language) == (9, OHIO_ES, "es")
    assert hit.story_title_translated is True and hit.story_title_rough is True
    assert hit.story_title_original == OHIO
    english = _hits(path, settings, "ohio", title_language="en")[3]
    assert (english.story_title, english.story_title_translated, english.story_title_rough) == (OHIO, False, False)


def test_all_hits_stories_are_read_in_one_query(titled) -> None:
    path, settings = titled
    db = open_db(path, readonly=True)
    statements: list[str] = []
    db.conn.set_trace_callback(statements.append)
    try:
        hits = search(db, settings, parse_query("country:MX,US"), limit=50, title_language="en").hits
    finally:
        db.conn.set_trace_callback(None)
        db.close()
    assert {h.story for h in hits} == {7, 9, 10, None}
    assert all(h.story_title for h in hits if h.story is not None)
    story_reads = [s for s in statements if "FROM story_articles sa" in s and "JOIN articles a" in s]
    assert len(story_reads) == 1, story_reads  # not one per hit, nor one per story


def test_story_titles_of_several_stories_equal_each_story_page(titled) -> None:
    path, _ = titled
    db = open_db(path, readonly=True)
    try:
        together = story_titles(db, [10, 7, 9, 7])
        for sid in (7, 9, 10):
            alone = get_story(db, sid)
            assert alone is not None
            assert together[sid] == {"en": alone.title_en, "es": alone.title_es}
        assert story_titles(db, []) == {} and story_titles(db, [999]) == {}
    finally:
        db.close()


def test_an_unknown_title_language_is_one_clear_error(titled) -> None:
    path, settings = titled
    db = open_db(path, readonly=True)
    try:
        with pytest.raises(QueryError, match="en or es"):
            search(db, settings, parse_query("cartel"), title_language="fr")
    finally:
        db.close()


def test_show_json_carries_both_titles(titled) -> None:
    path, _ = titled
    db = open_db(path, readonly=True)
    try:
        detail = get_article(db, 1)
    finally:
        db.close()
    assert detail is not None and detail.story is not None
    assert detail.story["title_en"].headline == PENTAGON and detail.story["title_es"].headline == SHEINBAUM
    assert detail.story["label_en"] == "cartels strikes drones"  # kept


# ------------------------------------------------------------------------------------- the CLI


def _cli(path: Path, *args: str, lang: str = "en"):
    env = {"MONITOR_TRANSLATION_ENGINE": "none", "MONITOR_DIGEST_LANG": lang}
    return CliRunner().invoke(cli, ["--db", str(path), *args], env=env)


def test_cli_search_prints_the_story_title_and_json_adds_fields(titled) -> None:
    path, _ = titled
    out = _cli(path, "search", "cartel").stdout
    assert f"story 7: {PENTAGON}" in out
    assert "cartels strikes drones" not in out  # the keyword label is no longer the story's name
    assert f"story 7: {SHEINBAUM}" in _cli(path, "search", "cartel", "lang:es").stdout
    assert f"story 7: {SHEINBAUM}" in _cli(path, "search", "cartel", "--lang", "es").stdout
    rough = _cli(path, "search", "ohio", lang="es").stdout
    assert f"story 9: {OHIO_ES}  (rough machine translation of: {OHIO})" in rough
    data = json.loads(_cli(path, "search", "cartel", "--json").stdout)
    hit = next(h for h in data["hits"] if h["id"] == 1)
    assert (hit["story"], hit["story_title"], hit["story_title_translated"]) == (7, PENTAGON, False)
    assert hit["story_label_en"] == "cartels strikes drones" and hit["story_label_es"] == "cárteles ataques drones"
    assert {"story_title_language", "story_title_rough", "story_title_original"} <= set(hit)


def test_cli_show_names_the_story_by_its_title_with_the_other_side(titled) -> None:
    path, _ = titled
    out = _cli(path, "show", "1").stdout
    assert f"--- Story 7: {PENTAGON}  [US · The New York Times] (2 articles)" in out
    assert f"    MX: {SHEINBAUM_EN}  [MX · La Jornada]  (machine translation of: {SHEINBAUM})" in out
    assert "    keywords: cartels strikes drones / cárteles ataques drones" in out
    spanish = _cli(path, "show", "1", lang="es").stdout
    assert f"--- Story 7: {SHEINBAUM}  [MX · La Jornada] (2 articles)" in spanish
    data = json.loads(_cli(path, "show", "2", "--json").stdout)
    assert data["story"]["title_en"]["headline"] == PENTAGON and data["story"]["title_es"]["headline"] == SHEINBAUM
    assert data["story"]["label_en"] == "cartels strikes drones"


# ------------------------------------------------------------------------------------- the web


def test_web_search_and_article_pages_show_the_story_title(titled) -> None:
    _path, settings = titled
    with _served(settings) as client:
        page = client.get("/search", params={"q": "ohio"}).text
        article = client.get("/article/1").text
        spanish_filter = client.get("/search", params={"q": "cartel lang:es"}).text
        translated = client.get("/search", params={"q": "narcoterrorismo"}).text
    unescaped = html.unescape(page)
    assert 'href="/story/9"' in page and f">{OHIO}</a>" in unescaped  # the page is English: the original
    assert 'class="story-of"' in page
    # the article page links its story by the story's English title, marked as machine translated where it is
    assert f'href="/story/7" lang="en">{PENTAGON}</a>' in html.unescape(article)
    assert "story 7<" not in article
    # an English page keeps English titles even for a lang:es search
    assert f">{PENTAGON}</a>" in html.unescape(spanish_filter)
    # story 10 has only Spanish articles: its English title is a machine translation, marked with the original
    unescaped = html.unescape(translated)
    assert 'href="/story/10" lang="en">' in unescaped and "machine translation</span>" in unescaped
    assert "machine translation of “Reunión de seguridad" in unescaped or "machine translation of “Terrorismo" in unescaped
