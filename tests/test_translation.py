"""The argos path end to end on real (tiny, random-weight) Argos packages, offline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.errors import TranslationError
from monitor.translation import get_translator, packages
from monitor.translation import translate as stage
from monitor.translation.argos import ArgosTranslator
from tests.fixtures_argos import add_article, add_articles, add_outlets

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

SPANISH = [
    ("Sheinbaum rechaza cualquier intervención militar", "La presidenta dijo que México no aceptará tropas extranjeras."),
    ("La Marina detuvo a un operador del Cártel de Sinaloa", "El operativo ocurrió en Culiacán. Hubo tres detenidos."),
    ("Legisladores de Morena proponen reformar la Constitución", ""),
]
ENGLISH = [
    ("Pentagon weighs strikes on cartel targets inside Mexico", "Officials said plans were drawn up."),
    ("White House threatens new tariffs", "The administration wants Mexico to do more. Talks continue."),
]


class Counting:
    """A real translator that counts calls and can be told to fail after some calls (an interruption)."""

    def __init__(self, inner: Any, fail_after: int | None = None):
        self.inner, self.fail_after, self.calls, self.texts = inner, fail_after, 0, 0
        self.seen: list[str] = []  # every text sent to the engine
        self.engine, self.model, self.rough = inner.engine, inner.model, inner.rough

    def supports(self, s: str, t: str) -> bool:
        return bool(self.inner.supports(s, t))

    def model_for(self, s: str, t: str) -> str:
        return str(self.inner.model_for(s, t))

    def translate(self, texts: list[str], s: str, t: str) -> list[str]:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise KeyboardInterrupt
        self.calls += 1
        self.texts += len(texts)
        self.seen.extend(texts)
        return list(self.inner.translate(texts, s, t))


def test_stage_writes_one_row_per_article_offline_and_rerun_does_nothing(argos_installed: Settings, db: Any, no_network: list[str]) -> None:
    ids = add_articles(db, SPANISH, ENGLISH)
    report = stage.run(db, argos_installed, now=NOW)
    assert report.engine == "argos"
    rows = db.execute("SELECT article, language, title, engine, rough, model FROM article_translations ORDER BY article").fetchall()
    assert [r[0] for r in rows] == ids
    by_id = {r[0]: r for r in rows}
    for i in ids[:3]:
        assert by_id[i][1] == "en" and by_id[i][4] == 0 and by_id[i][5] == "translate-es_en 1.0"
    for i in ids[3:]:
        assert by_id[i][1] == "es" and by_id[i][5] == "translate-en_es 1.0"
    # gibberish from random weights (a single "▁" piece decodes to ""), but a string for every row
    assert all(isinstance(r[2], str) for r in rows) and any(r[2] for r in rows)
    assert {r[3] for r in rows} == {"argos"}
    assert report.translated == 5 and report.engine_calls == 2  # one engine call per language pair
    # the summary "" of one article is not sent; content NULL where there was none
    assert db.execute("SELECT summary, content FROM article_translations WHERE article = ?", [ids[2]]).fetchone() == ("", None)

    before = db.execute("SELECT * FROM article_translations ORDER BY id").fetchall()
    counting = Counting(get_translator(argos_installed))
    again = stage.run(db, argos_installed, now=NOW, translator=counting)
    assert counting.calls == 0 and again.translated == 0 and again.pending == 0
    assert db.execute("SELECT * FROM article_translations ORDER BY id").fetchall() == before
    assert no_network == []


def test_identical_texts_are_translated_once_and_changed_articles_again(argos_installed: Settings, db: Any) -> None:
    a = add_article(db, "milenio", "Sheinbaum rechaza la intervención", "Resumen idéntico.")
    counting = Counting(get_translator(argos_installed))
    stage.run(db, argos_installed, now=NOW, translator=counting)
    assert counting.texts == 2
    # the same texts in another outlet's article (a re-poll, a wire story) come from the cache
    b = add_article(db, "milenio", "Sheinbaum rechaza la intervención", "Resumen idéntico.")
    report = stage.run(db, argos_installed, now=NOW, translator=counting)
    assert counting.calls == 1 and report.cache_hits == 2 and report.translated == 1
    rows = dict(db.execute("SELECT article, title FROM article_translations").fetchall())
    assert rows[a] == rows[b]
    # an edited article is retranslated (only its new text reaches the engine)
    db.conn.execute("UPDATE articles SET summary = 'Resumen nuevo.', content_hash = 'changed' WHERE id = ?", [b])
    db.conn.commit()
    report = stage.run(db, argos_installed, now=NOW, translator=counting)
    assert report.translated == 1 and counting.calls == 2 and counting.texts == 3


def test_clip_cuts_at_a_sentence_or_word_end() -> None:
    assert stage.clip(None, 100) == "" and stage.clip("  a  b\tc ", 100) == "a b c"
    assert stage.clip(" Uno.\n\nDos  tres. ", 100) == "Uno.\n\nDos  tres."  # paragraphs kept as they are
    text = "Primera frase larga aquí. Segunda frase que no cabe entera"
    assert stage.clip(text, 40) == "Primera frase larga aquí."
    assert stage.clip("palabra " * 10, 30) == "palabra palabra palabra"
    assert stage.clip("x" * 50, 20) == "x" * 20


def test_content_is_clipped_and_a_new_limit_retranslates(argos_installed: Settings, db: Any) -> None:
    content = "El operativo ocurrió en Culiacán. " * 20
    art = add_article(db, "milenio", "Titular", "", content)
    small = argos_installed.replace(translation__max_content_chars=100)
    counting = Counting(get_translator(small))
    assert stage.run(db, small, now=NOW, translator=counting).translated == 1
    clipped = stage.clip(content, 100)
    assert clipped in counting.seen and len(clipped) <= 100 and content.strip() not in counting.seen
    assert stage.run(db, small, now=NOW, translator=counting).translated == 0
    bigger = argos_installed.replace(translation__max_content_chars=300)
    assert stage.run(db, bigger, now=NOW, translator=counting).translated == 1  # source_hash covers the limit
    assert stage.clip(content, 300) in counting.seen
    assert db.execute("SELECT count(*) FROM article_translations WHERE article = ?", [art]).fetchone()[0] == 1


def test_batches_and_runaway_guard(argos_installed: Settings) -> None:
    settings = argos_installed.replace(translation__batch_size=2)
    translator = ArgosTranslator(settings.translation)
    sentences = [f"Frase número {i} sobre el cártel." for i in range(7)]
    out = translator.translate([" ".join(sentences), "Otra frase."], "es", "en")
    assert len(out) == 2 and out[0]
    assert translator.stats.sentences == 8 and translator.stats.batches == 4  # ceil(8 / 2)
    longest = max(len(translator._pairs[("es", "en")].tokenizer.encode(s)) for s in [*sentences, "Otra frase."])
    for piece in out[0].split(" "):
        assert len(piece) < 10 * translator.decoding_limit(longest)


def test_interrupted_run_resumes_where_it_stopped(argos_installed: Settings, db: Any) -> None:
    settings = argos_installed.replace(translation__commit_every=2)
    ids = [add_article(db, "milenio", f"Titular distinto número {i}", f"Resumen {i}.") for i in range(6)]
    inner = get_translator(settings)
    with pytest.raises(KeyboardInterrupt):
        stage.run(db, settings, now=NOW, translator=Counting(inner, fail_after=2))
    kept = [r[0] for r in db.execute("SELECT article FROM article_translations ORDER BY article")]
    assert kept == ids[:4]  # two committed batches of two articles survive
    counting = Counting(inner)
    report = stage.run(db, settings, now=NOW, translator=counting)
    assert report.translated == 2 and counting.texts == 4
    assert db.execute("SELECT count(*) FROM article_translations").fetchone()[0] == 6

    # --limit N then the rest
    more = [add_article(db, "nyt", f"Headline number {i}", "") for i in range(3)]
    assert stage.run(db, settings, now=NOW, limit=1).translated == 1
    assert stage.run(db, settings, now=NOW).translated == 2
    assert {r[0] for r in db.execute("SELECT article FROM article_translations")} >= set(more)


def test_refresh_replaces_rough_rows_with_argos(argos_installed: Settings, db: Any) -> None:
    ids = add_articles(db, SPANISH, ENGLISH)
    stage.run(db, argos_installed, now=NOW, engine="apertium")
    assert {r[0] for r in db.execute("SELECT engine FROM article_translations")} == {"apertium"}
    assert stage.run(db, argos_installed, now=NOW).translated == 0  # plain re-run keeps them
    report = stage.run(db, argos_installed, now=NOW, refresh=True)
    assert report.translated == len(ids)
    assert {r[0] for r in db.execute("SELECT engine FROM article_translations")} == {"argos"}
    assert db.execute("SELECT sum(rough) FROM article_translations").fetchone()[0] == 0


def test_translations_are_searchable(argos_installed: Settings, db: Any) -> None:
    add_outlets(db)
    art = add_article(db, "nyt", "Pentagon weighs strikes", "")
    stage.run(db, argos_installed, now=NOW, engine="apertium")
    hits = db.execute(
        "SELECT t.article FROM article_translations_fts f JOIN article_translations t ON t.id = f.rowid "
        "WHERE article_translations_fts MATCH 'pentagono'"
    ).fetchall()
    assert hits == [(art,)]  # 'Pentágono' in the Spanish translation, found without the accent


def test_package_without_splitter_is_a_clear_error_without_network(argos_installed: Settings, no_network: list[str]) -> None:
    strict = argos_installed.replace(translation__splitter="minisbd")
    with pytest.raises(TranslationError, match=r"no offline sentence splitter.*models install --from es\.onnx"):
        get_translator(strict, "argos")
    with pytest.raises(TranslationError, match="no offline sentence splitter"):
        ArgosTranslator(strict.translation)
    # auto then falls back to the next engine with one line saying why
    from monitor.translation import choose_engine

    assert choose_engine(strict).engine == "apertium"
    assert "sentence splitter" in choose_engine(strict).reason
    assert no_network == []


def test_stray_folder_in_packages_dir_does_not_break_lookup(argos_installed: Settings) -> None:
    (packages.packages_dir() / "not-a-package").mkdir()
    (packages.packages_dir() / "not-a-package" / "notes.txt").write_text("x")
    assert {(p.from_code, p.to_code) for p in packages.installed_packages()} == {("es", "en"), ("en", "es")}
    assert get_translator(argos_installed).engine == "argos"


def test_newest_installed_version_is_loaded_and_its_splitter_checked(
    argos_installed: Settings, argos_model_files: dict[str, Path], tmp_path: Path
) -> None:
    from tests.fixtures_argos import build_argos_package

    newer = build_argos_package(tmp_path, "es", "en", version="10.0", splitter=True)  # sorts before 1_0 by folder name
    assert CliRunner().invoke(cli, ["models", "install", "--from", str(newer)]).exit_code == 0
    assert len(packages.installed_packages()) == 3  # 1.0 and 10.0 of es->en side by side
    assert packages.newest_packages()[("es", "en")].version == "10.0"
    translator = ArgosTranslator(argos_installed.translation)
    assert translator.model_for("es", "en") == "translate-es_en 10.0"
    # the splitter check looks at 10.0 (which has one), not 1.0: only en->es lacks it
    strict = argos_installed.replace(translation__splitter="minisbd")
    from monitor.translation.argos import availability

    state = availability(strict.translation)
    assert not state.usable and "en.onnx" in state.reason and "es.onnx" not in state.reason


def test_no_engine_one_message_and_the_run_completes(settings: Settings, db: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no apertium on PATH, no argos packages
    add_articles(db, SPANISH, ENGLISH)
    db.close()
    result = CliRunner().invoke(cli, ["--db", str(settings.db_path), "translate"])
    assert result.exit_code == 0, result.output
    assert "no translation engine" in result.output and "monitor models install" in result.output
    lines = [ln for ln in result.output.splitlines() if "no translation engine" in ln]
    assert len(lines) == 2  # the log line at the start and the summary
    from monitor.store.db import open_db

    check = open_db(settings.db_path)
    assert check.execute("SELECT count(*) FROM article_translations").fetchone()[0] == 0
    assert check.execute("SELECT count(*) FROM articles WHERE detected_language IS NOT NULL").fetchone()[0] == 5
    check.close()
