"""Word forms in both languages: a plain word matches its Snowball word family (real SQLite FTS5, real
apertium for the query translation), only forms the index has are searched, and the vocabulary cache
follows the index."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.config.settings import Settings
from monitor.search import vocab
from monitor.search.engine import plan_query, search
from monitor.search.forms import family
from monitor.search.query import parse_query
from monitor.store.db import open_db
from tests.fixtures_analysis import add_article, add_outlets

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("word", "languages", "has", "lacks"),
    [
        ("soberanía", ("es",), {"soberana", "soberano", "soberanías", "soberanos"}, {"sovereign"}),
        ("soberania", ("es",), {"soberana", "soberanos"}, set()),  # typed without the accent
        ("sovereignty", ("en",), {"sovereign", "sovereigns", "sovereignties"}, {"soberana"}),
        ("police", ("en",), {"policing", "policed"}, {"policy", "policies"}),  # same stem only, not a prefix
        ("strikes", ("en",), {"strike", "striking"}, set()),
        ("ataques", ("es",), {"ataque"}, set()),
        ("property", ("en",), set(), {"proper"}),  # -ty after a short base is not a derivation
        ("luz", ("es",), set(), {"luces"}),  # too short for a family (the plural rules cover it)
    ],
)
def test_family(word: str, languages: tuple[str, ...], has: set[str], lacks: set[str]) -> None:
    forms = set(family(word, languages))
    assert word in forms and has <= forms and not (lacks & forms)


@pytest.fixture
def forms_db(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """Untranslated articles, each with one form of the soberanía / sovereign family, and a distractor."""
    path = tmp_path / "monitor.db"
    db = open_db(path)
    add_outlets(db)
    ids = {
        "soberanía": add_article(db, "jornada", "Defienden la soberanía nacional ante Washington"),
        "soberana": add_article(db, "universal", "Una decisión soberana de México, dice la presidenta"),
        "soberanos": add_article(db, "milenio", "Estados soberanos y cooperación en seguridad"),
        "sovereign": add_article(db, "nyt", "Mexico insists on its sovereign right to decide"),
        "sovereignty": add_article(db, "wapo", "A debate over sovereignty and security"),
        "other": add_article(db, "fox", "Police policy changes in Texas"),
    }
    db.close()
    vocab.clear_cache()
    return path, ids


def _found(path: Path, settings: Settings, text: str, **kw) -> set[int]:
    db = open_db(path, readonly=True)
    try:
        return {h.id for h in search(db, settings, parse_query(text), now=NOW, limit=50, **kw).hits}
    finally:
        db.close()


def test_soberania_finds_soberana_sovereign_and_sovereignty(forms_db) -> None:
    if not shutil.which("apertium"):
        pytest.fail("apertium is a required test dependency (Debian packages apertium, apertium-eng-spa)")
    path, ids = forms_db
    settings = Settings(db=str(path)).replace(translation__engine="apertium")
    # nothing is translated in this database: the Spanish forms come from the Spanish family, the English
    # ones from the family of the translated query word (sovereignty -> sovereign)
    found = _found(path, settings, "soberanía")
    assert {ids["soberanía"], ids["soberana"], ids["soberanos"], ids["sovereign"], ids["sovereignty"]} <= found
    assert ids["other"] not in found
    # quoting keeps exactly that form; forms=False (as typed) too
    assert _found(path, settings, '"soberanía"', translate=False) == {ids["soberanía"]}
    assert _found(path, settings, "soberanía", translate=False, forms=False) == {ids["soberanía"]}


def test_english_word_finds_its_english_family_without_translation(forms_db) -> None:
    path, ids = forms_db
    settings = Settings(db=str(path)).replace(translation__engine="none")
    assert _found(path, settings, "sovereignty") == {ids["sovereign"], ids["sovereignty"]}
    assert _found(path, settings, "police") == {ids["other"]}  # "policy" shares a prefix, not a stem


def test_only_forms_in_the_index_are_searched_and_the_cache_follows_the_index(forms_db) -> None:
    path, _ = forms_db
    settings = Settings(db=str(path)).replace(translation__engine="none")
    db = open_db(path, readonly=True)
    try:
        match = plan_query(db, settings, parse_query("soberanía"), translate=False).match
    finally:
        db.close()
    assert '"soberana"' in match and '"soberanos"' in match  # in the index
    assert '"soberanas"' not in match and '"soberanista"' not in match  # generated, but no article has them
    # a new article with another form: the index changed, so the cached vocabulary answer is not reused
    db = open_db(path)
    add_outlets(db)
    late = add_article(db, "jornada", "Las naciones soberanas responden")
    db.close()
    assert late in _found(path, settings, "soberanía")
