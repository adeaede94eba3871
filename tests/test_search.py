"""search() and get_article() on a real SQLite/FTS5 database with originals, translations, analyses
and a story; query translation with the real apertium engine."""

from __future__ import annotations

import random
import re
import shutil
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config.settings import Settings
from monitor.search.engine import MARK_END, MARK_START, get_article, search, snippet_html, snippet_text
from monitor.search.query import QueryError, SearchTimeout, parse_query
from monitor.store.db import open_db, write_transaction
from tests.fixtures_search import build_search_db, search_db_path  # noqa: F401 - fixture
from tests.test_query import HOSTILE, _random_query

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def sdb(search_db_path: Path) -> Iterator:  # noqa: F811
    db = open_db(search_db_path, readonly=True)
    yield db
    db.close()


@pytest.fixture
def plain(search_db_path: Path) -> Settings:  # noqa: F811
    """No query translation: only the stored translations make the search bilingual."""
    return Settings(db=str(search_db_path)).replace(translation__engine="none")


@pytest.fixture
def apertium(search_db_path: Path) -> Settings:  # noqa: F811
    if not shutil.which("apertium"):
        pytest.fail("apertium is a required test dependency (Debian packages apertium, apertium-eng-spa)")
    return Settings(db=str(search_db_path)).replace(translation__engine="apertium")


def ids(db, settings: Settings, text: str, **kw) -> list[int]:
    q = parse_query(text, now=NOW, **{k: v for k, v in kw.items() if k in ("country", "outlet", "lang", "frame", "story", "since", "until", "raw")})
    opts = {k: v for k, v in kw.items() if k in ("limit", "sort", "translate", "time_limit_ms")}
    return [h.id for h in search(db, settings, q, now=NOW, **opts).hits]


# --------------------------------------------------------------------------- both languages


def test_spanish_query_finds_english_articles_through_stored_translations(sdb, plain) -> None:
    # "fentanilo" appears only in the Spanish translations of the English articles 2 and 3
    assert set(ids(sdb, plain, "fentanilo")) == {2, 3}
    result = search(sdb, plain, parse_query("fentanilo"), now=NOW)
    assert {h.language for h in result.hits} == {"en"}
    assert {h.matched_in for h in result.hits} == {"translation"}
    assert all(h.snippet_language == "es" and MARK_START in h.snippet for h in result.hits)


def test_english_query_finds_spanish_articles_through_stored_translations(sdb, plain) -> None:
    assert set(ids(sdb, plain, "sovereignty")) == {1}
    assert set(ids(sdb, plain, "security meeting")) == {4}


def test_english_query_translated_by_apertium_finds_untranslated_spanish_article(sdb, plain, apertium) -> None:
    # article 5 is Spanish with no stored translation: only translating the query can find it
    assert ids(sdb, plain, "war strategy") == []
    result = search(sdb, apertium, parse_query("war strategy"), now=NOW)
    assert [h.id for h in result.hits] == [5]
    assert result.query_languages == ["en"]
    assert "guerra" in result.translated_query["es"].lower()
    assert any("apertium" in n and "rough" in n for n in result.notes)


def test_spanish_query_translated_by_apertium_finds_untranslated_english_article(sdb, plain, apertium) -> None:
    # article 9 is English with no stored translation
    assert ids(sdb, plain, "armas") == [4] or 9 not in ids(sdb, plain, "armas")
    found = ids(sdb, apertium, "armas")
    assert 9 in found and 4 in found


def test_translation_can_be_turned_off(sdb, apertium) -> None:
    result = search(sdb, apertium, parse_query("war strategy"), translate=False, now=NOW)
    assert result.hits == [] and result.translated_query == {}


@pytest.mark.parametrize("variant", ["Mexico", "MÉXICO", "mexico", "méxico", "MEXICO"])
def test_case_and_accents_give_the_same_set(sdb, plain, variant: str) -> None:
    assert set(ids(sdb, plain, variant)) == set(ids(sdb, plain, "méxico")) == {1, 4, 6}


def test_each_article_once_with_best_rank(sdb, plain) -> None:
    result = search(sdb, plain, parse_query("drones"), now=NOW)
    found = [h.id for h in result.hits]
    assert len(found) == len(set(found))
    assert set(found) == {1, 2, 7}
    assert {h.matched_in for h in result.hits} == {"both"}
    assert result.total_estimate == 3 and result.total_exact


# --------------------------------------------------------------------------- operators


def test_all_words_must_match(sdb, plain) -> None:
    assert set(ids(sdb, plain, "drones sovereignty")) == {1}


def test_plural_singular_forms_and_quoted_exact_form(sdb, plain) -> None:
    assert set(ids(sdb, plain, "cartel")) == {1, 2, 5, 8}
    assert set(ids(sdb, plain, '"cartel"')) == {5}


def test_phrase(sdb, plain) -> None:
    assert ids(sdb, plain, '"guerra contra el narco"') == [5]
    assert ids(sdb, plain, '"guerra el contra narco"') == []


def test_or(sdb, plain) -> None:
    assert set(ids(sdb, plain, "Zacatecas OR sinaloa")) == {5, 10}
    assert set(ids(sdb, plain, "Zacatecas OR sinaloa guerra")) == {5}


def test_exclusion_in_original(sdb, plain) -> None:
    assert set(ids(sdb, plain, "cartel -sinaloa")) == {1, 2, 8}
    assert set(ids(sdb, plain, "cartel NOT sinaloa")) == {1, 2, 8}


def test_exclusion_applies_to_translations_too(sdb, plain) -> None:
    # "fentanilo" is only in the Spanish translations of 2 and 3; both must go
    assert set(ids(sdb, plain, "officials")) == {2, 3}
    assert ids(sdb, plain, "officials -fentanilo") == []


def test_excluded_phrase(sdb, plain) -> None:
    assert set(ids(sdb, plain, 'drones -"record sales"')) == {1, 2}


def test_prefix(sdb, plain) -> None:
    assert ids(sdb, plain, "terror*") == [8]
    assert set(ids(sdb, plain, "narco*")) == {5, 8}


def test_common_words_are_ignored_with_a_note(sdb, plain) -> None:
    result = search(sdb, plain, parse_query("ataques con drones"), now=NOW)
    assert {h.id for h in result.hits} == {1, 2}
    assert any("common words ignored: con" in n for n in result.notes)


# --------------------------------------------------------------------------- filters


def test_country_outlet_lang_filters(sdb, plain) -> None:
    assert set(ids(sdb, plain, "cartel country:MX")) == {1, 5, 8}
    assert set(ids(sdb, plain, "cartel", country="US")) == {2}
    assert set(ids(sdb, plain, "cartel outlet:la-jornada")) == {1, 5}
    assert set(ids(sdb, plain, "cartel lang:en")) == {2}
    assert set(ids(sdb, plain, "cartel country:US country:MX")) == {1, 2, 5, 8}


def test_frame_and_story_filters(sdb, plain) -> None:
    assert set(ids(sdb, plain, "frame:military")) == {1, 2}
    assert set(ids(sdb, plain, "cartel frame:terrorism")) == {8}
    assert set(ids(sdb, plain, "story:7")) == {1, 2}
    assert set(ids(sdb, plain, "story:3")) == {1, 2}  # merged into 7
    assert ids(sdb, plain, "story:99") == []


def test_frame_and_story_filters_without_analysis_give_no_hits(tmp_path: Path) -> None:
    path = build_search_db(tmp_path / "bare.db", with_analysis=False)
    db = open_db(path, readonly=True)
    settings = Settings(db=str(path)).replace(translation__engine="none")
    try:
        assert ids(db, settings, "cartel frame:military") == []
        assert ids(db, settings, "story:7") == []
        assert set(ids(db, settings, "cartel")) == {1, 2, 5, 8}
        hit = search(db, settings, parse_query("sinaloa"), now=NOW).hits[0]
        assert hit.top_frame is None and hit.story is None and hit.relevant is None
    finally:
        db.close()


def test_search_without_translation_tables(tmp_path: Path) -> None:
    """An older database (no translation/analysis tables) is searched on originals only."""
    path = build_search_db(tmp_path / "old.db", with_analysis=False)
    conn = sqlite3.connect(path)
    conn.executescript("DROP TABLE article_translations_fts; DROP TABLE article_translations;")
    conn.close()
    db = open_db(path, readonly=True)
    try:
        settings = Settings(db=str(path)).replace(translation__engine="none")
        assert ids(db, settings, "fentanilo") == []
        assert set(ids(db, settings, "drones")) == {1, 2, 7}
        assert get_article(db, 1).translations == []
    finally:
        db.close()


def test_date_filters(sdb, plain) -> None:
    assert set(ids(sdb, plain, "cartel since:2026-11-20")) == {1, 2, 8}
    assert set(ids(sdb, plain, "cartel until:2026-11-20")) == {1, 5}  # until includes its day
    assert set(ids(sdb, plain, "cartel since:2026-11-20 until:2026-11-20")) == {1}
    assert set(ids(sdb, plain, "méxico since:3d")) == {1}  # 2026-11-20T14:00 is within 3 days of NOW


# --------------------------------------------------------------------------- ranking and output


def test_sort_by_date_and_limit(sdb, plain) -> None:
    result = search(sdb, plain, parse_query("cartel"), sort="date", now=NOW)
    dates = [h.published for h in result.hits]
    assert dates == sorted(dates, reverse=True)
    assert [h.id for h in search(sdb, plain, parse_query("cartel"), sort="date", limit=2, now=NOW).hits] == [8, 2]
    with pytest.raises(QueryError):
        search(sdb, plain, parse_query("cartel"), sort="popularity")


def test_title_match_outranks_summary_match(sdb, plain) -> None:
    # "drones" is in 7's title (and summary), only in 2's summary: 7 first
    order = ids(sdb, plain, "drones")
    assert order.index(7) < order.index(2)


def test_recency_breaks_ties(tmp_path: Path) -> None:
    path = tmp_path / "tie.db"
    db = open_db(path)
    with write_transaction(db):
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('o', 'O', 'MX', 'es')")
        for i, day in ((1, "2026-01-01"), (2, "2026-11-22"), (3, "2026-06-01")):
            db.execute(
                """INSERT INTO articles (id, outlet, country, language, outlet_language, title, summary, published,
                   date_source, first_seen, content_hash) VALUES (?, 'o', 'MX', 'es', 'es', 'Reforma judicial', '',
                   ?, 'feed', ?, ?)""",
                [i, f"{day}T00:00:00+00:00", f"{day}T00:00:00+00:00", str(i)],
            )
    settings = Settings(db=str(path)).replace(translation__engine="none")
    assert ids(db, settings, "reforma") == [2, 3, 1]
    db.close()


def test_hit_carries_every_field(sdb, plain) -> None:
    hit = search(sdb, plain, parse_query("sovereignty"), now=NOW).hits[0]
    assert (hit.id, hit.outlet, hit.outlet_name, hit.country, hit.language) == (1, "la-jornada", "La Jornada", "MX", "es")
    assert hit.url == "https://la-jornada.example/1"
    assert hit.title.startswith("Sheinbaum rechaza")
    assert hit.title_translated.startswith("Sheinbaum rejects") and hit.translation_language == "en"
    assert hit.translation_engine == "argos" and hit.translation_rough is False
    assert (hit.top_frame, hit.frames, hit.relevant, hit.relevance) == ("sovereignty", ["sovereignty", "military"], True, 4.5)
    assert (hit.story, hit.story_label_en) == (7, "cartels strikes drones")
    assert hit.published == hit.first_seen == "2026-11-20T14:00:00+00:00"
    assert hit.score > 0
    assert snippet_text(hit.snippet) == "The president said national [sovereignty] is not negotiable."


def test_rough_translation_is_flagged(sdb, plain) -> None:
    hit = search(sdb, plain, parse_query("ohio"), now=NOW).hits[0]
    assert hit.id == 3 and hit.translation_rough is True and hit.translation_engine == "apertium"


def test_snippet_of_hostile_headline_is_safe_html(sdb, plain) -> None:
    hit = search(sdb, plain, parse_query("zacatecas"), now=NOW).hits[0]
    html = snippet_html(hit.snippet)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<mark>Zacatecas</mark>" in html
    assert MARK_START not in html and MARK_END not in html


def test_filter_only_listing_is_newest_first(sdb, plain) -> None:
    result = search(sdb, plain, parse_query("country:US"), now=NOW)
    assert [h.id for h in result.hits] == [7, 2, 3, 9, 6]
    assert all(h.matched_in == "filters" and h.snippet for h in result.hits)


# --------------------------------------------------------------------------- raw, limits, hostile input


def test_raw_fts_semantics(sdb, plain) -> None:
    assert set(ids(sdb, plain, "drones NOT record", raw=True)) == {1, 2}
    assert set(ids(sdb, plain, "title:drone", raw=True)) == {1, 7}  # 1 through its English translation


@pytest.mark.parametrize("bad", ['cartel"', "AND", "NEAR(", "nosuchcolumn:x", "*p", "(cartel"])
def test_raw_errors_become_a_hint(sdb, plain, bad: str) -> None:
    with pytest.raises(QueryError, match="try without --raw"):
        search(sdb, plain, parse_query(bad, raw=True))


def test_time_limit_stops_a_broad_query_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "big.db"
    db = open_db(path)
    words = ["cartel", "drones", "frontera", "soberanía", "aranceles", "fentanyl", "strikes", "border"]
    rng = random.Random(1)
    with write_transaction(db):
        db.execute("INSERT INTO outlets (id, name, country, language) VALUES ('o', 'O', 'MX', 'es')")
        db.conn.executemany(
            """INSERT INTO articles (outlet, country, language, outlet_language, title, summary, published, date_source,
               first_seen, content_hash) VALUES ('o', 'MX', 'es', 'es', ?, '', '2026-11-01T00:00:00+00:00', 'feed',
               '2026-11-01T00:00:00+00:00', ?)""",
            [(" ".join(rng.choice(words) for _ in range(8)), str(i)) for i in range(20_000)],
        )
    settings = Settings(db=str(path)).replace(translation__engine="none")
    with pytest.raises(SearchTimeout, match="add words or filters"):
        search(db, settings, parse_query("ca*"), time_limit_ms=0.001)
    # the handler is removed afterwards: the same connection searches normally
    assert search(db, settings, parse_query("cartel"), limit=5).hits
    db.close()


def test_hostile_and_random_queries_never_raise_anything_but_query_error(sdb, plain) -> None:
    rng = random.Random(6)
    for text in HOSTILE + [_random_query(rng) for _ in range(250)]:
        for raw in (False, True):
            try:
                q = parse_query(text, raw=raw, now=NOW)
                search(sdb, plain, q, limit=5, now=NOW)
            except QueryError as exc:
                assert "\n" not in str(exc), repr(text)


# --------------------------------------------------------------------------- one article


def test_get_article_in_full(sdb) -> None:
    a = get_article(sdb, 2)
    assert a is not None and a.title.startswith("Pentagon")
    assert a.translations[0]["language"] == "es" and a.translations[0]["rough"] is False
    assert a.analysis["top_frame"] == "military"
    assert [f["frame"] for f in a.frames] == ["military", "security"]
    assert a.frames[0]["evidence"][0]["sentence"] == "evidence for military"
    assert a.story["id"] == 7 and [m["id"] for m in a.story["articles"]] == [1, 2]
    assert [m["this"] for m in a.story["articles"]] == [False, True]
    assert get_article(sdb, 12345) is None


def test_get_article_without_analysis(sdb) -> None:
    a = get_article(sdb, 9)
    assert a.translations == [] and a.frames == [] and a.analysis is None and a.story is None


# --------------------------------------------------------------------------- the whole pipeline's database


def test_demo_database_is_searchable_across_languages(demo_db: Path) -> None:
    """On the database the pipeline built from the demo feeds: a word that exists only in an
    English article's Spanish translation finds that article, and variants of México agree."""
    db = open_db(demo_db, readonly=True)
    try:
        settings = Settings(db=str(demo_db)).replace(translation__engine="none")
        rows = db.execute(
            """SELECT a.id, a.title, a.summary, t.title FROM articles a JOIN article_translations t ON t.article = a.id
               WHERE a.language = 'en' AND t.language = 'es' ORDER BY a.id"""
        ).fetchall()
        assert rows, "the demo pipeline stored Spanish translations of English articles"
        checked = 0
        for article, title, summary, translated in rows:
            original = {w.lower() for w in (title + " " + summary).split()}
            words = [w for w in translated.split() if len(w) > 6 and w.isalpha() and w.lower() not in original]
            if not words:
                continue
            result = search(db, settings, parse_query(f'"{words[0]}"'), limit=200)
            assert article in [h.id for h in result.hits], (words[0], translated)
            checked += 1
            if checked == 5:
                break
        assert checked
        sets = [{h.id for h in search(db, settings, parse_query(v), limit=500).hits} for v in ("méxico", "Mexico", "MÉXICO")]
        assert sets[0] and sets[0] == sets[1] == sets[2]
        both = search(db, settings, parse_query("mexico"), limit=500).hits
        assert {h.country for h in both} == {"US", "MX"}
    finally:
        db.close()


# --------------------------------------------------------------------------- cached schema, snippet pre-check


def test_story_tables_created_after_a_first_search_are_used_by_the_next(search_db_path: Path, tmp_path: Path) -> None:  # noqa: F811
    """The table list is cached per connection; a migration in another process must still be seen."""
    path = tmp_path / "copy.db"
    shutil.copy(search_db_path, path)
    writer = open_db(path)
    schema = [
        r[0]
        for r in writer.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('stories', 'story_articles') AND sql IS NOT NULL"
            " ORDER BY type DESC"  # tables before their indexes
        ).fetchall()
    ]
    rows = writer.execute("SELECT story, article, joined_at FROM story_articles").fetchall()
    stories = writer.execute("SELECT * FROM stories").fetchall()
    writer.execute("PRAGMA foreign_keys=OFF")  # other tables refer to stories; this only simulates a later migration
    with write_transaction(writer):
        writer.execute("DROP TABLE story_articles")
        writer.execute("DROP TABLE stories")
    reader = open_db(path, readonly=True)
    plain = Settings(db=str(path)).replace(translation__engine="none")
    try:
        result = search(reader, plain, parse_query("story:7"), now=NOW)
        assert result.hits == [] and any("no analysis or stories" in n for n in result.notes)
        with write_transaction(writer):
            for sql in schema:
                writer.execute(sql)
            writer.conn.executemany(f"INSERT INTO stories VALUES ({', '.join('?' for _ in stories[0])})", stories)
            writer.conn.executemany("INSERT INTO story_articles (story, article, joined_at) VALUES (?, ?, ?)", rows)
        result = search(reader, plain, parse_query("story:7 drones"), now=NOW)
        assert {h.id for h in result.hits} == {1, 2}
        assert {h.story for h in result.hits} == {7} and result.hits[0].story_label_en == "cartels strikes drones"
    finally:
        reader.close()
        writer.close()


def _snippet_by_tokens(words: list[tuple[str, bool]], text: str) -> bool:
    """Reference: does any token of `text` match, checked token by token (no substring pre-check)?"""
    from monitor.search.engine import _TOKEN_RE, Highlighter

    highlighter = Highlighter(words)
    return any(highlighter.matches(tok) for tok in _TOKEN_RE.findall(text))


SNIPPET_TEXTS = [
    "Sheinbaum rechaza la intervención militar de Estados Unidos en México",
    "SHEINBAUM RECHAZA LA INTERVENCIÓN — «soberanía» ¿qué sigue? ¡Ya!",
    "Cárteles y narcotráfico: la Secretaría de la Defensa Nacional (Sedena) informó…",
    "Mexico’s president said “no” to U.S. drones over Sinaloa",
    "Decomposed accents: Me\u0301xico, intervencio\u0301n, n\u0303andu\u0301",
    "Ligatures and width: ﬁnanciamiento ＭＥＸＩＣＯ ﬂota",
    "Greek final sigma ΟΔΟΣ and German Straße, Turkish İstanbul",
    "digits 2026 and mixed drones2 cartel_sinaloa",
]


def test_snippet_precheck_never_drops_a_match() -> None:
    """The substring pre-check that skips texts without a match agrees with token-by-token matching."""
    from monitor.analysis.textnorm import fold
    from monitor.search.engine import Highlighter

    for text in SNIPPET_TEXTS:
        tokens = re.findall(r"[^\W_]+", text)
        cases: list[list[tuple[str, bool]]] = [[(tok, False)] for tok in tokens]
        cases += [[(tok[:3], True)] for tok in tokens if len(tok) >= 3]
        cases += [[(tok.upper(), False)] for tok in tokens] + [[("ausente", False), ("absent", True)]]
        for words in cases:
            expected = _snippet_by_tokens(words, text)
            snippet = Highlighter(words).snippet(text)
            assert (snippet is not None) == expected, (words, text, fold(text))
            if expected:
                assert MARK_START in snippet and MARK_END in snippet
