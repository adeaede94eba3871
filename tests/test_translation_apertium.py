"""The apertium engine with real output: rough, but the content words are there and names survive."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.config.settings import Settings
from monitor.translation import get_translator
from monitor.translation import translate as stage
from monitor.translation.apertium import BUILTIN_NAMES, ApertiumTranslator, glossary_of, protected_names
from tests.fixtures_argos import add_article

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

pytestmark = pytest.mark.skipif(shutil.which("apertium") is None, reason="apertium not installed (.ci/run installs it)")

HEADLINES = [
    ("Legisladores de Morena rechazan la intervención militar de Estados Unidos contra los cárteles",
     ["Morena", "military intervention", "United States", "cartels"]),
    ("Sheinbaum advierte que un ataque unilateral violaría la soberanía nacional",
     ["Sheinbaum", "unilateral", "attack", "sovereignty"]),
    ("Claudia Sheinbaum y Marco Rubio hablan de seguridad y aranceles",
     ["Claudia Sheinbaum", "Marco Rubio", "security", "tariffs"]),
    ("El Cártel de Sinaloa y el CJNG, en la lista de organizaciones terroristas",
     ["Cártel de Sinaloa", "CJNG", "list", "terrorist"]),
]


def test_spanish_headlines_come_back_in_english_with_debate_names_unchanged(settings: Settings) -> None:
    translator = get_translator(settings, "apertium")
    assert translator.engine == "apertium" and translator.rough
    out = translator.translate([h for h, _ in HEADLINES], "es", "en")
    for (source, words), english in zip(HEADLINES, out, strict=True):
        for word in words:
            assert word in english, (source, english, word)
    assert "Dark" not in out[0]  # what apertium makes of "Morena" unprotected


def test_names_come_from_the_debate_file(settings: Settings) -> None:
    groups = protected_names(settings.debate_path)
    flat = {n for g in groups for n in g}
    assert "Morena" in flat and "Claudia Sheinbaum" in flat
    # read from the file, not the built-in fallback: names only the file has, grouped per actor
    assert "Marcelo Ebrard" in flat and "Marcelo Ebrard" not in BUILTIN_NAMES
    assert ["Marcelo Ebrard", "Ebrard"] in groups
    assert protected_names(settings.debate_path.parent / "missing.toml") == [[n] for n in BUILTIN_NAMES]
    translator = ApertiumTranslator(groups)
    kept = translator.protected_for("spa-eng")
    assert "Morena" in kept  # apertium would turn it into "Dark"
    assert "Estados Unidos" not in kept  # apertium gives "United States", another name of the same actor
    glossary = glossary_of(settings.debate_path)
    assert glossary["spa-eng"]["lancha"] == ("boat", ()) and glossary["eng-spa"]["strikes on"] == ("ataques contra", ())
    assert glossary_of(settings.debate_path.parent / "missing.toml") == {}


def test_items_never_mix_and_empty_items_stay_empty(settings: Settings) -> None:
    translator = get_translator(settings, "apertium")
    texts = ["Pentagon weighs strikes on cartels", "", "Mexico sends troops to the border", "Trump"]
    out = translator.translate(texts, "en", "es")
    assert len(out) == 4 and out[1] == ""
    assert "pentágono" in out[0].lower() and "cárteles" in out[0]
    assert "México" in out[2] and "tropas" in out[2] and "cártel" not in out[2]
    assert "frontera" in out[2] and "borde" not in out[2]  # the debate's glossary: a border is not an edge
    assert out[3] == "Trump"
    # an item is translated as it would be alone: apertium's transfer rules used to reorder words across
    # the blank line between items ("He said no" + "Mexico's president speaks": "Dijo" / "... de núm. habla")
    pair = translator.translate(["He said no", "Mexico's president speaks"], "en", "es")
    assert pair == [translator.translate([t], "en", "es")[0] for t in ("He said no", "Mexico's president speaks")]
    assert "núm" not in pair[1] and pair[0] != "Dijo"


def test_stage_with_apertium_marks_rows_rough(settings: Settings, db: Any) -> None:
    art = add_article(db, "milenio", "La Marina detuvo a un jefe del CJNG en Jalisco", "")
    report = stage.run(db, settings, now=NOW, engine="apertium")
    assert report.engine == "apertium" and report.translated == 1
    row = db.execute("SELECT language, title, rough, engine, model FROM article_translations WHERE article = ?", [art]).fetchone()
    assert row[0] == "en" and row[2] == 1 and row[3] == "apertium" and row[4].startswith("apertium-eng-spa")
    assert "CJNG" in row[1] and "Jalisco" in row[1] and "boss" in row[1]


def test_the_debate_files_glossary_fixes_what_apertium_gets_wrong(settings: Settings) -> None:
    translator = get_translator(settings, "apertium")
    es = translator.translate(
        ["Ataque de EU contra lancha en el Pacífico", "Lanchas de la Marina llegan a El Paso", "Expertos advierten violación al derecho internacional"],
        "es", "en",
    )
    # bare apertium: "Attack of EU against launch in the Pacífico", "Launches of the Marina arrive to The Step", "rape to the international right"
    assert "US" in es[0] and "EU" not in es[0] and "boat" in es[0] and "aunch" not in es[0] and "Pacific" in es[0]
    assert es[1].startswith("Boats ") and "Navy" in es[1] and "El Paso" in es[1] and "Step" not in es[1]
    assert "violation of international law" in es[2] and "rape" not in es[2]
    en = translator.translate(["Pentagon confirms strike on a drug boat", "Trump threatens tariffs", "UAW strike ends"], "en", "es")
    assert "ataque contra" in en[0] and "narcolancha" in en[0] and "huelga" not in en[0]
    assert "amenaza" in en[1] and "acecha" not in en[1].lower()
    assert "huelga" in en[2]  # "strike" is an attack only beside the debate's words: a labour strike stays a strike
    strike = translator.translate(["US strike kills 6 on boat off Guerrero", "Writers strike: studios and union agree"], "en", "es")
    assert "ataque" in strike[0] and "huelga" not in strike[0].lower()
    assert "huelga" in strike[1].lower() and "ataque" not in strike[1]
    more = translator.translate(["Sheinbaum rules out US military action", "Fentanyl declared a weapon of mass destruction"], "en", "es")
    assert "descarta" in more[0] and "Gobierna" not in more[0]  # bare apertium: "Gobierna fuera"
    assert "arma de destrucción masiva" in more[1]  # bare apertium: "destrucción de masa"
    demand = translator.translate(["Corte desestima la demanda contra fabricantes de armas", "La demanda de agua crece"], "es", "en")
    assert "lawsuit" in demand[0] and "lawsuit" not in demand[1] and "demand" in demand[1]


def test_numbers_and_quotes_that_apertium_misreads_are_rewritten_first() -> None:
    engine = ApertiumTranslator([])
    es = engine.translate(["Envían 10 mil soldados y 1.5 mil vehículos; 2 mil millones de dólares"], "es", "en")[0]
    assert "10,000 soldiers" in es and "1.5 thousand" in es and "2 billion" in es and "one thousand" not in es
    texts = ["Sheinbaum calls it a 'sovereign decision'", "Mexico’s president says ‘no’", "Mexicans' rights", "Mexico's president speaks"]
    en = engine.translate(texts, "en", "es")
    assert "soberan" in en[0] and "overeign" not in en[0]  # bare apertium: "'s" + "overeign"
    assert "“" in en[0] and "”" in en[0]  # a pair of single quotes comes out as double quotes
    # bare apertium, once it has met a single quote, reads a later "'s" as one: "México' el presidente"
    assert all("México'" not in t and "presidente" in t for t in (en[1], en[3])), en
    assert "derechos de los mexicanos" in en[2].lower()  # a plural possessive, read as "Mexicans's"
    alone = engine.translate(texts[3:], "en", "es")
    assert en[3] == alone[0]  # each item as it comes out on its own


def test_glossary_case_rules_and_precedence_over_names() -> None:
    translator = ApertiumTranslator(
        [["Comando Sur"]], glossary={"spa-eng": {"lancha": "boat", "EU": "US", "Comando Sur": "Southern Command"}}
    )
    out = translator.translate(["Lancha del EU", "la eu y el Comando Sur"], "es", "en")
    assert out[0].startswith("Boat ") and "US" in out[0]  # lower-case entry: any case, capital kept
    assert "eu" in out[1] and "US" not in out[1]  # an entry with a capital matches only as written
    assert "Southern Command" in out[1]  # the glossary wins over keeping the name as written
    mixed = ApertiumTranslator([], glossary={"eng-spa": {"U.S. strike": "ataque de EE.UU."}})
    title, lower = mixed.translate(["After Latest U.S. Strike", "after the u.s. strike"], "en", "es")
    assert "ataque de EE.UU." in title  # its lower-case word in any case; not capitalised: the entry begins with a capital
    assert "ataque" not in lower  # its capitalised words only as written
    odd = ApertiumTranslator([], glossary={"spa-eng": {"lancha": r"boat \1 \g<0>"}}).translate(["una lancha"], "es", "en")
    assert odd == [r"A boat \1 \g<0>"]  # a translation is put back literally, never read as a pattern


def test_a_changed_glossary_is_a_new_model_so_refresh_redoes_the_rows(settings: Settings, db: Any, tmp_path: Any) -> None:
    boat = ApertiumTranslator([], glossary={"spa-eng": {"lancha": "boat"}})
    ship = ApertiumTranslator([], glossary={"spa-eng": {"lancha": "ship"}})
    plain = ApertiumTranslator([])
    assert len({boat.model_for("es", "en"), ship.model_for("es", "en"), plain.model_for("es", "en")}) == 3
    assert boat.model_for("en", "es") == plain.model_for("en", "es")  # no en-es glossary: the same model

    art = add_article(db, "milenio", "Marina asegura lancha", "")
    assert stage.run(db, settings, now=NOW, engine="apertium").translated == 1
    first = db.execute("SELECT title, model FROM article_translations WHERE article = ?", [art]).fetchone()
    assert "boat" in first[0].lower()
    debate = tmp_path / "debate.toml"
    debate.write_text(settings.debate_path.read_text(encoding="utf-8").replace('"lancha" = "boat"', '"lancha" = "speedboat"'), encoding="utf-8")
    changed = settings.replace(debate=str(debate))
    kept = stage.run(db, changed, now=NOW, engine="apertium")
    assert kept.translated == 0 and kept.outdated == 1  # a plain re-run keeps what it has, and says so
    assert "kept 1 made by another apertium model or glossary" in kept.describe() and "--refresh" in kept.describe()
    assert stage.run(db, changed, now=NOW, engine="apertium", refresh=True).translated == 1
    second = db.execute("SELECT title, model FROM article_translations WHERE article = ?", [art]).fetchone()
    assert "speedboat" in second[0].lower() and second[1] != first[1]
    assert stage.run(db, changed, now=NOW, engine="apertium").outdated == 0


def test_the_comparisons_distinctive_words_use_the_glossary_too(settings: Settings) -> None:
    from monitor.analysis.compare import apertium_words

    assert apertium_words(["drone", "border", "fentanyl"], settings.debate_path) == ["dron", "frontera", "fentanilo"]
    assert apertium_words(["drone", "border"]) == ["drone", "borde"]  # bare apertium, no debate file


def test_a_batch_whose_output_does_not_line_up_is_redone_one_item_at_a_time() -> None:
    engine = ApertiumTranslator([])
    # translate() puts each item on one line; an item holding a blank line splits into two blocks
    items = ["The boat", "The navy\n\nThe army", "The border"]
    assert len(engine._run("eng-spa", items)) == 4  # the batch's blocks no longer line up with its items
    alone = [" ".join(engine._run("eng-spa", [t])) for t in items]
    assert engine._run_aligned("eng-spa", items) == alone
    assert alone[0] == "El bote" and alone[2] == "El borde"  # each item its own translation (apertium alone: no glossary)


def test_general_words_apertium_gets_wrong_in_news_are_fixed_for_every_debate() -> None:
    bare = ApertiumTranslator([])  # no debate glossary: the general list alone
    out = bare.translate(["Trump imposed tariffs on Mexico on Tuesday", "The tariff on steel took effect"], "en", "es")
    assert "aranceles a México el martes" in out[0] and "encima" not in out[0]  # bare apertium: "encima" twice
    assert "arancel al acero" in out[1]  # "a el" contracted, as apertium would have
    mine = ApertiumTranslator([], glossary={"eng-spa": {"tariffs on": "gravámenes a"}})
    assert "gravámenes a México" in mine.translate(["Trump imposed tariffs on Mexico"], "en", "es")[0]  # the debate's wins
    es = bare.translate(["México ante la amenaza de Trump", "Harfuch comparece ante el Senado"], "es", "en")
    assert "in the face of the threat" in es[0] and "in front of" not in es[0]  # bare apertium: "in front of"
    assert "before the Senate" in es[1]  # a body one appears before keeps "before"
    intel = bare.translate(["They gather intelligence on cartels"], "en", "es")[0]
    assert "inteligencia sobre" in intel  # bare apertium: "inteligencia en"


def test_a_sentence_that_begins_with_a_name_keeps_its_next_word_in_lower_case() -> None:
    """Apertium capitalises the first word it knows in a sentence whose first words it does not (the
    placeholders of names and glossary words): "Sheinbaum Refuses military invasion"."""
    engine = ApertiumTranslator([["Sheinbaum"], ["Trump"]], glossary={"spa-eng": {"descarta": "rules out"}})
    es = engine.translate(
        ["Sheinbaum rechaza invasión militar. Trump descarta ataques", "Sheinbaum descarta una invasión", "Sheinbaum y Trump rechazan el plan"],
        "es", "en",
    )
    assert es[0] == "Sheinbaum refuses military invasion. Trump rules out attacks"  # bare: "Refuses", "Attacks"
    assert es[1] == "Sheinbaum rules out an invasion"  # bare: "An invasion"
    assert es[2].startswith("Sheinbaum and Trump")  # bare: "Sheinbaum And Trump"
    en = engine.translate(["Trump order authorizes strikes", "Sheinbaum Mexico deal", "Mexico rejects plan"], "en", "es")
    assert en[0].startswith("Trump el orden")  # bare: "Trump El orden"
    assert "Trato" in en[1]  # the source word after the name had a capital: apertium's is kept
    assert en[2].startswith("México")  # a sentence that begins with a word apertium knows is left alone


def test_dpkg_is_asked_for_the_version_once_until_its_database_changes() -> None:
    from monitor.translation import apertium

    apertium._package_version.cache_clear()
    first = apertium.package_version()
    for _ in range(3):
        ApertiumTranslator([])  # each translator names its model with the version
    assert apertium.package_version() == first and first != ""
    assert apertium._package_version.cache_info().misses == 1  # one dpkg-query for all of them
