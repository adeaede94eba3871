"""The apertium engine with real output: rough, but the content words are there and names survive."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.config.settings import Settings
from monitor.translation import get_translator
from monitor.translation import translate as stage
from monitor.translation.apertium import BUILTIN_NAMES, ApertiumTranslator, protected_names
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


def test_items_never_mix_and_empty_items_stay_empty(settings: Settings) -> None:
    translator = get_translator(settings, "apertium")
    texts = ["Pentagon weighs strikes on cartels", "", "Mexico sends troops to the border", "Trump"]
    out = translator.translate(texts, "en", "es")
    assert len(out) == 4 and out[1] == ""
    assert "pentágono" in out[0].lower() and "cárteles" in out[0]
    assert "México" in out[2] and "tropas" in out[2] and "borde" in out[2] and "cártel" not in out[2]
    assert out[3] == "Trump"


def test_stage_with_apertium_marks_rows_rough(settings: Settings, db: Any) -> None:
    art = add_article(db, "milenio", "La Marina detuvo a un jefe del CJNG en Jalisco", "")
    report = stage.run(db, settings, now=NOW, engine="apertium")
    assert report.engine == "apertium" and report.translated == 1
    row = db.execute("SELECT language, title, rough, engine, model FROM article_translations WHERE article = ?", [art]).fetchone()
    assert row[0] == "en" and row[2] == 1 and row[3] == "apertium" and row[4].startswith("apertium-eng-spa")
    assert "CJNG" in row[1] and "Jalisco" in row[1] and "boss" in row[1]
