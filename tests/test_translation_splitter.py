"""The MiniSBD sentence-splitter path, offline, with a real (rule-based) MiniSBD ONNX model.

The test packages from `argos_splitter_files` carry `minisbd/<source>.onnx`; `es.onnx`/`en.onnx`
also exist alone, as a user would copy them for `monitor models install --from es.onnx`. The
model cuts after `.`, `!`, `?` followed by a space or the end (`rule_sentences()` computes the
same independently). The texts below are chosen so that MiniSBD and the built-in rules disagree
("EE. UU." is cut by the model only, "¡Votó en contra! fin" likewise), so the sentence counts the
engine decodes show which splitter really ran.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.translation import get_translator, packages
from monitor.translation import translate as stage
from monitor.translation.argos import ArgosTranslator
from monitor.translation.sentences import builtin_split, minisbd_splitter, split_paragraphs
from tests.fixtures_argos import add_article, add_articles, rule_sentences

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

SPANISH = [
    ("Los EE. UU. y México firman un acuerdo", "El Senado aprobó la reforma a las 3.30 horas. ¿Y la oposición? ¡Votó en contra! fin"),
    ("La Marina detuvo a un operador", "El operativo ocurrió en Culiacán. Hubo tres detenidos.\nLa Fiscalía abrió una carpeta."),
    ("Sheinbaum rechaza la intervención", ""),
]
ENGLISH = [
    ("Pentagon weighs strikes on cartel targets", "Officials said plans were drawn up. no decision yet! Talks continue."),
    ("White House threatens tariffs", "The U.S. administration wants more. Mexico says it does enough."),
]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def unique_sentences(texts: list[str], split: Any) -> set[str]:
    return {s for t in texts for p in split_paragraphs(t) for s in split(p)}


def expected_counts(split: Any, batch_size: int) -> tuple[int, int]:
    """(distinct sentences decoded, batches) the engine should report when every text is new."""
    per_pair = [unique_sentences([x for pair in items for x in pair if x], split) for items in (SPANISH, ENGLISH)]
    return sum(len(s) for s in per_pair), sum(math.ceil(len(s) / batch_size) for s in per_pair)


def install(*files: Path) -> None:
    args = [a for f in files for a in ("--from", str(f))]
    code, out = invoke("models", "install", *args)
    assert code == 0, out


def test_rule_model_is_a_real_minisbd_model(argos_splitter_files: dict[str, Path], no_network: list[str]) -> None:
    split = minisbd_splitter(argos_splitter_files["es.onnx"])
    text = "El Senado aprobó la reforma a las 3.30 horas. ¿Y la oposición? ¡Votó en contra! Fin"
    assert split(text) == ["El Senado aprobó la reforma a las 3.30 horas.", "¿Y la oposición?", "¡Votó en contra!", "Fin"]
    assert split("Los EE. UU. y México. fin") == ["Los EE.", "UU.", "y México.", "fin"]
    assert split("Sin puntuación") == ["Sin puntuación"]
    for paragraph in [s for pair in SPANISH + ENGLISH for s in pair if s]:
        for line in split_paragraphs(paragraph):
            assert split(line) == rule_sentences(line)
    # the texts really tell the two splitters apart
    assert expected_counts(rule_sentences, 1)[0] != expected_counts(builtin_split, 1)[0]
    assert no_network == []


@pytest.mark.parametrize("mode", ["minisbd", "auto"])
def test_stage_splits_with_the_bundled_minisbd_model_offline(
    mode: str, argos_splitter_files: dict[str, Path], settings: Settings, db: Any, no_network: list[str]
) -> None:
    install(argos_splitter_files["es-en"], argos_splitter_files["en-es"])
    configured = settings.replace(translation__splitter=mode, translation__batch_size=2)
    ids = add_articles(db, SPANISH, ENGLISH)
    translator = get_translator(configured)
    assert isinstance(translator, ArgosTranslator)
    report = stage.run(db, configured, now=NOW, translator=translator)
    assert report.engine == "argos" and report.translated == len(ids) and report.engine_calls == 2
    sentences, batches = expected_counts(rule_sentences, 2)
    assert (translator.stats.sentences, translator.stats.batches) == (sentences, batches)
    assert sentences != expected_counts(builtin_split, 2)[0]
    rows = db.execute("SELECT article, summary FROM article_translations ORDER BY article").fetchall()
    assert [r[0] for r in rows] == ids
    multi = rows[1][1]  # two paragraphs in, two paragraphs out
    assert multi.count("\n") == 1
    # a re-run decodes nothing and loads no splitter work
    again = stage.run(db, configured, now=NOW, translator=translator)
    assert again.translated == 0 and translator.stats.sentences == sentences
    assert no_network == []


def test_builtin_mode_ignores_the_bundled_model(argos_splitter_files: dict[str, Path], settings: Settings, db: Any) -> None:
    install(argos_splitter_files["es-en"], argos_splitter_files["en-es"])
    configured = settings.replace(translation__splitter="builtin", translation__batch_size=2)
    add_articles(db, SPANISH, ENGLISH)
    translator = ArgosTranslator(configured.translation)
    stage.run(db, configured, now=NOW, translator=translator)
    assert (translator.stats.sentences, translator.stats.batches) == expected_counts(builtin_split, 2)


def test_stage_report_counts_the_sentences_the_splitter_made(argos_splitter_files: dict[str, Path], settings: Settings, db: Any) -> None:
    install(argos_splitter_files["es-en"], argos_splitter_files["en-es"])
    configured = settings.replace(translation__splitter="minisbd")
    add_articles(db, SPANISH, ENGLISH)
    report = stage.run(db, configured, now=NOW)
    texts = [x for pair in SPANISH + ENGLISH for x in pair if x]
    assert report.sentences == sum(len(rule_sentences(p)) for t in texts for p in split_paragraphs(t))


def test_models_list_reports_the_bundled_splitter(
    argos_splitter_files: dict[str, Path], settings: Settings, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    install(argos_splitter_files["es-en"], argos_splitter_files["en-es"])
    monkeypatch.setenv("MONITOR_TRANSLATION_SPLITTER", "minisbd")
    code, out = invoke("models", "list", "--json")
    assert code == 0, out
    state = json.loads(out)
    assert state["splitter"] == "minisbd"
    assert {p["from"]: p["splitter"] for p in state["packages"]} == {
        "es": "MiniSBD es.onnx (in package)",
        "en": "MiniSBD en.onnx (in package)",
    }
    assert state["engines"]["argos"]["available"] is True and state["auto"]["engine"] == "argos"
    # a model pre-seeded in the data dir does not override the package's own
    install(argos_splitter_files["es.onnx"])
    assert (packages.splitter_dir() / "es.onnx").is_file()
    state = json.loads(invoke("models", "list", "--json")[1])
    assert {p["from"]: p["splitter"] for p in state["packages"]}["es"] == "MiniSBD es.onnx (in package)"
    code, text = invoke("models", "list")
    assert code == 0 and "splitter: MiniSBD en.onnx (in package)" in text
    assert no_network == []


def test_install_splitter_models_into_a_fresh_data_dir_then_translate_offline(
    argos_model_files: dict[str, Path],
    argos_splitter_files: dict[str, Path],
    settings: Settings,
    db: Any,
    monkeypatch: pytest.MonkeyPatch,
    no_network: list[str],
) -> None:
    assert not packages.argos_home().exists()  # a fresh data dir
    install(argos_model_files["es-en"], argos_model_files["en-es"])  # packages without a splitter
    monkeypatch.setenv("MONITOR_TRANSLATION_SPLITTER", "minisbd")
    state = json.loads(invoke("models", "list", "--json")[1])
    assert state["engines"]["argos"]["available"] is False
    assert "es.onnx" in state["engines"]["argos"]["detail"]

    code, out = invoke("models", "install", "--from", str(argos_splitter_files["es.onnx"]), "--from", str(argos_splitter_files["en.onnx"]))
    assert code == 0, out
    assert "sentence splitter es" in out and "sentence splitter en" in out
    state = json.loads(invoke("models", "list", "--json")[1])
    assert {p["from"]: p["splitter"] for p in state["packages"]} == {
        "es": "MiniSBD es.onnx (installed)",
        "en": "MiniSBD en.onnx (installed)",
    }
    assert state["engines"]["argos"]["available"] is True

    configured = settings.replace(translation__splitter="minisbd", translation__batch_size=2)
    ids = add_articles(db, SPANISH, ENGLISH)
    translator = get_translator(configured)
    assert isinstance(translator, ArgosTranslator)
    report = stage.run(db, configured, now=NOW, translator=translator)
    assert report.translated == len(ids)
    assert (translator.stats.sentences, translator.stats.batches) == expected_counts(rule_sentences, 2)

    # and the CLI end to end on a new article
    add_article(db, "milenio", "Nuevo titular. otra frase", "")
    db.close()
    result = CliRunner().invoke(cli, ["--db", str(settings.db_path), "translate", "--json"])
    assert result.exit_code == 0, result.output
    cli_report = json.loads(result.stdout)  # the log line goes to stderr
    assert cli_report["engine"] == "argos" and cli_report["translated"] == 1
    assert no_network == []


def test_a_corrupt_splitter_model_is_one_clear_error_and_writes_nothing(
    argos_model_files: dict[str, Path], settings: Settings, db: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: list[str]
) -> None:
    install(argos_model_files["es-en"], argos_model_files["en-es"])
    # `models install` refuses a bad .onnx, so corrupt the installed files in place (a bad disk, a manual copy)
    from monitor.translation import packages

    packages.splitter_dir().mkdir(parents=True, exist_ok=True)
    (packages.splitter_dir() / "es.onnx").write_bytes(b"\x08\x07truncated download")
    (packages.splitter_dir() / "en.onnx").write_bytes(b"")
    add_articles(db, SPANISH, ENGLISH)
    db.close()
    monkeypatch.setenv("MONITOR_TRANSLATION_SPLITTER", "minisbd")
    result = CliRunner().invoke(cli, ["--db", str(settings.db_path), "translate"])
    assert result.exit_code != 0
    assert "not a usable MiniSBD sentence splitter model" in result.output
    assert "monitor models install --from" in result.output and "Traceback" not in result.output
    from monitor.store.db import open_db

    check = open_db(settings.db_path)
    assert check.execute("SELECT count(*) FROM article_translations").fetchone()[0] == 0
    check.close()
    assert no_network == []
