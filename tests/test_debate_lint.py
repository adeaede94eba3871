"""`monitor debate check`: a one-word pattern whose stem also catches other words is listed, with
the words it caught in the stored articles; word beginnings, phrases and own forms are not."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.analysis.analyze import ArticleText
from monitor.analysis.debate import load_debate
from monitor.analysis.debate_lint import (
    is_own_form,
    lower_case_words,
    pattern_words,
    stem_collisions,
    translation_only_terms,
    word_forms,
)
from monitor.cli.main import cli
from monitor.store.db import open_db
from tests.fixtures_analysis import add_article, add_outlets

DEBATE = """
[debate]
id = "lint-test"
name_en = "Lint test"
name_es = "Prueba"

[relevance]
threshold = 4.0

[[relevance.terms]]
weight = 4.0
en = ["cartel"]
es = ["cártel"]

[frames]
threshold = 1.5

[[frames.frame]]
id = "drugs_health"
label_en = "Drugs"
label_es = "Drogas"
definition = "The drug crisis."
mfc = 9
en = ["relatives", "fentanyl"]
es = ["aseguramiento", "decomiso*", "salud pública"]

[[frames.frame]]
id = "legality"
label_en = "Legality"
label_es = "Legalidad"
definition = "Whether it is lawful."
mfc = 5
en = ["authorization*", "court"]
es = ["aseguramiento ~ fallo"]

[[actors]]
id = "sheinbaum"
kind = "person"
names = ["Sheinbaum"]
"""

SPANISH = [
    ("Sheinbaum aseguró que no habrá intervención", "La presidenta aseguró que México no lo aceptará."),
    ("Marina asegura un cargamento", "El aseguramiento de 300 kilos de cocaína; otros aseguramientos siguen."),
    ("El gobierno asegura que coopera", "Harfuch aseguró que hay coordinación."),
]
ENGLISH = [
    ("US-Mexico relations strained", "Relations between the two countries and related talks; relatives of the victims wait."),
]


def _debate(tmp_path: Path) -> Path:
    path = tmp_path / "lint.toml"
    path.write_text(DEBATE, encoding="utf-8")
    return path


def _texts() -> list[tuple[str, str]]:
    return [("es", f"{t}. {s}") for t, s in SPANISH] + [("en", f"{t}. {s}") for t, s in ENGLISH]


def test_only_one_word_patterns_are_read(tmp_path: Path) -> None:
    words = {(pw.language, pw.word) for pw in pattern_words(load_debate(_debate(tmp_path)))}
    # word beginnings ("decomiso*", "authorization*"), phrases and "~" patterns are left out
    assert words == {("en", "cartel"), ("es", "cartel"), ("en", "relatives"), ("en", "fentanyl"), ("es", "aseguramiento"), ("en", "court")}


def test_a_stem_that_joins_other_words_is_listed_with_them(tmp_path: Path) -> None:
    found = {(c.language, c.word): c for c in stem_collisions(load_debate(_debate(tmp_path)), word_forms(_texts()), min_count=2)}
    seizure = found[("es", "aseguramiento")]
    assert dict(seizure.others) == {"aseguro": 3, "asegura": 2}  # "he said", "ensures": not a drug seizure
    assert seizure.other_count == 5 and seizure.own == 2  # "aseguramiento", "aseguramientos" are its own forms
    assert seizure.used_in == ("frame 'drugs_health'",)
    assert dict(found[("en", "relatives")].others) == {"relations": 2, "related": 1}
    assert ("en", "fentanyl") not in found and ("en", "cartel") not in found  # no other word shares their stems
    # the most other matches first
    ordered = stem_collisions(load_debate(_debate(tmp_path)), word_forms(_texts()), min_count=2)
    assert [c.word for c in ordered] == ["aseguramiento", "relatives"]


def test_min_count_holds_back_rare_collisions(tmp_path: Path) -> None:
    collisions = stem_collisions(load_debate(_debate(tmp_path)), word_forms(_texts()), min_count=4)
    assert [c.word for c in collisions] == ["aseguramiento"]


def test_own_forms() -> None:
    assert is_own_form("cartel", "carteles") and is_own_form("aseguramiento", "aseguramientos")
    assert not is_own_form("aseguramiento", "aseguro") and not is_own_form("relatives", "relations")


def _stored(tmp_path: Path, spanish: list[tuple[str, str]], english: list[tuple[str, str]]) -> Path:
    """A database holding these (title, summary) articles of a Mexican and a US outlet."""
    db_path = tmp_path / "m.db"
    db = open_db(db_path)
    try:
        add_outlets(db)
        for k, (title, summary) in enumerate(spanish):
            add_article(db, "jornada", title, summary, hours=k)
        for k, (title, summary) in enumerate(english):
            add_article(db, "nyt", title, summary, hours=k)
    finally:
        db.close()
    return db_path


def test_cli_lists_the_collisions_of_the_stored_articles(tmp_path: Path) -> None:
    db_path = _stored(tmp_path, SPANISH, ENGLISH)
    runner = CliRunner()
    args = ["--db", str(db_path), "--debate", str(_debate(tmp_path)), "debate", "check", "--min-count", "2"]
    text = runner.invoke(cli, args)
    assert text.exit_code == 0, text.output
    assert "valid: debate lint-test" in text.output
    line = next(x for x in text.output.splitlines() if '"aseguramiento"' in x)
    assert "aseguro 3" in line and "asegura 2" in line and "drugs_health" in line
    assert '"aseguramiento*"' in text.output  # the advice names the fix
    as_json = runner.invoke(cli, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["valid"] and data["debate"] == "lint-test" and data["frames"] == 2
    assert [c["word"] for c in data["stem_collisions"]] == ["aseguramiento", "relatives"]
    # --limit reads only the most recent articles: the English one was stored last
    recent = json.loads(runner.invoke(cli, [*args, "--json", "--limit", "1"]).output)
    assert [c["word"] for c in recent["stem_collisions"]] == ["relatives"]


def test_cli_without_a_database_validates_and_creates_nothing(tmp_path: Path) -> None:
    db_path = tmp_path / "none.db"
    result = CliRunner().invoke(cli, ["--db", str(db_path), "--debate", str(_debate(tmp_path)), "debate", "check"])
    assert result.exit_code == 0 and "valid: debate lint-test" in result.output and "no database" in result.output
    assert not db_path.exists()


def test_cli_names_the_fault_of_an_invalid_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(DEBATE.replace('mfc = 9', 'mfc = "nine"'), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "--debate", str(bad), "debate", "check"])
    assert result.exit_code == 2 and "drugs_health" in result.output and "mfc" in result.output


UNTRANSLATED_ES = [
    ("Decomisan fentanilo en Sinaloa", "Los narcotraficantes llevaban fentanilo en una lancha; el 40 por ciento era fentanilo puro."),
    ("Más fentanilo", "Detienen a narcotraficantes con una lancha y un 10 por ciento de la carga."),
    ("Otra lancha", "Los narcotraficantes huyeron en una lancha, dijo la Marina; el 5 por ciento escapó."),
]
UNTRANSLATED_EN = [
    ("FAA closes airspace", "The airspace over El Paso was closed; airspace rules changed."),
    ("Airspace reopened", "Officials said the airspace reopened after the drone scare."),
]


@pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium not installed (.ci/run installs it)")
def test_cli_lists_the_words_apertium_leaves_as_written_that_the_glossary_does_not_cover(tmp_path: Path) -> None:
    db_path = _stored(tmp_path, UNTRANSLATED_ES, UNTRANSLATED_EN)
    debate = tmp_path / "glossary.toml"
    debate.write_text(DEBATE + '\n[glossary.es-en]\n"narcotraficantes" = "drug traffickers"\n', encoding="utf-8")
    args = ["--db", str(db_path), "--debate", str(debate), "debate", "check"]
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    listed = {(u["language"], u["word"]): u["count"] for u in data["untranslated"]}
    assert listed[("es", "fentanilo")] == 4 and listed[("en", "airspace")] == 4
    assert ("es", "narcotraficantes") not in listed  # the glossary translates it
    assert ("es", "lancha") not in listed  # apertium knows it (as "launch": the glossary's job, not this list's)
    assert ("es", "ciento") not in listed  # unknown alone, known in "por ciento"
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0 and "es: fentanilo 4" in text.output and "en: airspace 4" in text.output


def test_lower_case_words_leave_out_names_contractions_and_stopwords() -> None:
    words = lower_case_words([("en", "Sheinbaum didn't say. The airspace closed; Mexico's airspace reopened.")])
    assert words.counts["en"] == {"airspace": 2, "closed": 1, "reopened": 1}
    assert words.examples[("en", "airspace")] == "The airspace closed; Mexico's airspace reopened."


# "sovereignty ~ mexic*" has no Spanish equivalent in this file: a Spanish article about Mexico's
# sovereignty is found only through its translation; "mexico" is a context word, never a core term.
ONE_SIDED = DEBATE + """
[[relevance.terms]]
weight = 4.0
en = ["sovereignty ~ mexic*"]
es = ["intervención militar"]

[[relevance.terms]]
weight = 1.0
context = true
en = ["mexico", "senate"]
es = ["méxico", "senado"]

[[relevance.exclude]]
why = "the telenovela sense"
penalty = 8.0
en = ["telenovela"]
es = ["telenovela"]
"""

# (title, summary, translation's title, translation's summary, found relevant)
ONE_SIDED_ES = [
    ("Senado aprueba reforma sobre soberanía nacional", "La reforma protege el territorio.",
     "Senate approves reform on the national sovereignty of Mexico", "The reform protects the territory.", True),
    ("Diputados discuten la soberanía", "Debate sobre el territorio nacional.",
     "Deputies discuss sovereignty", "Debate on the sovereignty of Mexico.", False),
    # the original holds a core term of its own: not listed, whatever its translation matched
    ("Detienen a líder del cártel", "El líder del cártel fue detenido.",
     "Cartel leader arrested", "Mexico's sovereignty was invoked.", True),
    # only context words in the translation: not listed
    ("El Senado sesiona", "Sesión ordinaria.", "The Senate meets", "Mexico's senate in an ordinary session.", False),
    # the translation's term is cancelled by an exclusion: not listed
    ("Estreno de la telenovela", "La soberanía en pantalla.",
     "Telenovela premiere", "Mexico's sovereignty on screen, a telenovela.", False),
]
ONE_SIDED_EN = [
    ("Drug gang boss held", "A military intervention was ruled out.",
     "Detienen a jefe de banda", "Se descartó una intervención militar y el cártel sigue.", True),
]


def _one_sided(tmp_path: Path) -> Path:
    path = tmp_path / "one-sided.toml"
    path.write_text(ONE_SIDED, encoding="utf-8")
    return path


def _articles(rows: list[tuple[str, str, str, str, bool]], language: str, first: int) -> list[tuple[ArticleText, bool]]:
    other = "en" if language == "es" else "es"
    return [
        (ArticleText(first + k, language, t, s, "", {other: (tt, ts, "")}), relevant)
        for k, (t, s, tt, ts, relevant) in enumerate(rows)
    ]


def test_a_core_term_found_only_in_the_translation_is_listed_per_article_language(tmp_path: Path) -> None:
    debate = load_debate(_one_sided(tmp_path))
    articles = _articles(ONE_SIDED_ES, "es", 1) + _articles(ONE_SIDED_EN, "en", 10)
    found = {(t.language, t.term): t for t in translation_only_terms(debate, articles)}
    assert set(found) == {("es", "sovereignty ~ mexic*"), ("en", "cártel"), ("en", "intervención militar")}
    sovereignty = found[("es", "sovereignty ~ mexic*")]
    assert (sovereignty.articles, sovereignty.relevant, sovereignty.term_language) == (2, 1, "en")
    assert sovereignty.example == "Senado aprueba reforma sobre soberanía nacional"
    assert (found[("en", "cártel")].articles, found[("en", "cártel")].relevant) == (1, 1)
    # an article without a translation, or one whose translation is empty, is not read
    bare = [(ArticleText(20, "es", "Senado aprueba reforma sobre soberanía nacional", "", ""), True)]
    assert translation_only_terms(debate, bare) == []


def test_translation_only_terms_are_ordered_by_relevant_articles_and_held_back_below_min_count(tmp_path: Path) -> None:
    debate = load_debate(_one_sided(tmp_path))
    articles = _articles(ONE_SIDED_ES, "es", 1) + _articles(ONE_SIDED_EN, "en", 10)
    listed = translation_only_terms(debate, articles)
    assert [(t.language, t.term) for t in listed] == [("en", "cártel"), ("en", "intervención militar"), ("es", "sovereignty ~ mexic*")]
    assert [t.term for t in translation_only_terms(debate, articles, min_count=2)] == ["sovereignty ~ mexic*"]
    assert [t.term for t in translation_only_terms(debate, articles, top=1)] == ["cártel", "sovereignty ~ mexic*"]


def test_cli_lists_the_core_terms_found_only_through_a_stored_translation(tmp_path: Path) -> None:
    db_path = tmp_path / "m.db"
    db = open_db(db_path)
    try:
        add_outlets(db)
        ids = [add_article(db, "jornada", t, s, hours=k, translation=(tt, ts)) for k, (t, s, tt, ts, _) in enumerate(ONE_SIDED_ES)]
        add_article(db, "jornada", "Senado aprueba reforma sobre soberanía", "Sin traducción.", hours=9)
        # the stored decisions: the first article found relevant, the second not
        for aid, relevant in ((ids[0], 1), (ids[1], 0)):
            db.execute(
                "INSERT INTO analyses (article, debate_hash, content_hash, relevant, relevance, analyzed_at) VALUES (?, 'h', 'h', ?, 5.0, '2026-01-01')",
                [aid, relevant],
            )
        db.conn.commit()
    finally:
        db.close()
    args = ["--db", str(db_path), "--debate", str(_one_sided(tmp_path)), "debate", "check"]
    text = CliRunner().invoke(cli, args)
    assert text.exit_code == 0, text.output
    line = next(x for x in text.output.splitlines() if "sovereignty ~ mexic*" in x)
    # of the two, the stored analysis found one relevant
    assert line.startswith("  es articles:") and "2× (1 relevant)" in line and "Senado aprueba reforma sobre soberanía nacional" in line
    data = json.loads(CliRunner().invoke(cli, [*args, "--json"]).output)
    assert [(t["language"], t["term"], t["articles"], t["relevant"]) for t in data["translation_only"]] == [("es", "sovereignty ~ mexic*", 2, 1)]
    # with only the article that has no translation read, nothing is listed, and the check says so
    recent = CliRunner().invoke(cli, [*args, "--limit", "1"])
    assert "no stored article was found through a core term of its translation alone" in recent.output
