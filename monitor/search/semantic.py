"""Semantic search: rank articles by how close their embedding is to the query's, across languages
with no translation (the multilingual model puts "drone strikes on cartels" and "ataques con drones
contra cárteles" close together), and "more like this" from an article's own vector.

The English-Spanish axis of the model is taken out of the article and query vectors first
(`monitor.embedding.language_axis`): without that a Spanish query's nearest are nearly all Spanish.

Combines with every filter of the query language (country:, lang:, outlet:, since: ...) and with
exclusions (-word). Used by `monitor search --semantic`, `monitor search --like ID`, `monitor similar`
and the web page's search (the "by meaning" toggle, the article page's "More like this"):

    from monitor.search.semantic import semantic_search
    result = semantic_search(db, settings, parse_query("drone strikes country:MX"), limit=20)
    result = semantic_search(db, settings, parse_query("", allow_empty=True), like=1234)
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlite_utils

from monitor.config.settings import Settings
from monitor.embedding import language_axis
from monitor.search import vectors
from monitor.search.engine import (
    SearchResult,
    _details,
    _filter_sql,
    _plain_snippet,
    _tables,
    check_title_language,
    exclusion_sql,
    reader_language,
)
from monitor.search.query import FILTERS, Query, QueryError, any_expression
from monitor.store.db import translate_error

CANDIDATES = 400  # nearest vectors checked against the filters before scanning only the filtered articles
CANDIDATE_FACTOR = 20  # ... or this many per article asked for, when more
EMBED_HINT = "run `monitor embed` (or `monitor run`) to embed the articles first"
_EMBEDDERS: dict[tuple[str, int], Any] = {}
_embedder_lock = threading.Lock()
_embed_lock = threading.Lock()
_FILTER_TOKEN = re.compile(r'(?<!\S)-?(?:' + "|".join((*FILTERS, "language", "from", "to")) + r'):("[^"]*"|\S*)', re.IGNORECASE)
_EXCLUDED = re.compile(r'(?<!\S)(?:-|NOT\s+)("[^"]*"|\S+)')


def semantic_text(query: Query) -> str:
    """What is embedded for a query: the text as typed, without filters, exclusions and operators."""
    text = _FILTER_TOKEN.sub(" ", query.text)
    text = _EXCLUDED.sub(" ", text)
    text = re.sub(r"(?<!\S)(?:OR|AND|\|\||&&)(?!\S)", " ", text)
    return " ".join(text.replace('"', " ").replace("*", " ").split())


def _embedder(settings: Settings) -> Any:
    """The configured embedding engine, loaded once per process; a QueryError when it is `none`."""
    from monitor.embedding import choose_engine, embedder_for
    from monitor.errors import ConfigError

    try:
        choice = choose_engine(settings)
    except ConfigError as exc:
        raise QueryError(f"semantic search needs an embedding engine: {exc}") from None
    if choice.engine == "none":
        raise QueryError(
            f"semantic search needs an embedding engine, and there is none ({choice.reason}); "
            "set [embedding] engine = \"auto\" and run `monitor embed`"
        )
    key = (choice.engine, settings.embedding.threads)
    with _embedder_lock:
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = embedder_for(settings, choice)
        return _EMBEDDERS[key]


def _query_vector(settings: Settings, text: str) -> tuple[np.ndarray, str]:
    embedder = _embedder(settings)
    embed = getattr(embedder, "embed_query", None) or embedder.embed
    with _embed_lock:  # one engine shared by the web server's threads: one query at a time (~20 ms)
        vector = np.asarray(embed([text]), dtype=np.float32).reshape(-1)
    return vector, embedder.model


def _article_vector(db: sqlite_utils.Database, article_id: int) -> tuple[np.ndarray, str]:
    """The article's stored vector (no model is loaded); of the model most articles have when it has several."""
    if db.execute("SELECT 1 FROM articles WHERE id = ?", [article_id]).fetchone() is None:
        raise QueryError(f"no article #{article_id}; find article ids with `monitor search`")
    rows = db.execute("SELECT model, vector FROM article_embeddings WHERE article_id = ?", [article_id]).fetchall()
    if not rows:
        raise QueryError(f"article #{article_id} has no embedding yet: {EMBED_HINT}")
    if len(rows) > 1:
        counts = dict(vectors.models(db))
        rows.sort(key=lambda r: counts.get(r[0], 0), reverse=True)
    model, blob = rows[0]
    return np.frombuffer(blob, dtype="<f4").astype(np.float32), model


def _allowed(db: sqlite_utils.Database, ids: list[int], cond: str, params: list[Any]) -> set[int]:
    """Which of `ids` pass the filters (one statement, the ids through json_each)."""
    import json

    rows = db.execute(
        f"SELECT a.id FROM articles a WHERE a.id IN (SELECT value FROM json_each(?)){cond}", [json.dumps(ids), *params]
    ).fetchall()
    return {r[0] for r in rows}


def semantic_search(
    db: sqlite_utils.Database,
    settings: Settings,
    query: Query,
    *,
    like: int | None = None,
    limit: int = 20,
    sort: str = "relevance",
    now: datetime | None = None,
    title_language: str | None = None,
) -> SearchResult:
    """Articles nearest in meaning to the query's words (or to article `like`), best first, within the
    query's filters. Raises QueryError with a one-line fix when there is nothing to compare with.
    Story titles are in `title_language` (default: `engine.reader_language`), as in `engine.search`."""
    check_title_language(title_language)
    language = title_language or reader_language(query, settings)
    try:
        return _semantic(db, settings, query, like, max(1, min(int(limit), 1000)), sort, now or datetime.now(UTC), language)
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc


def _semantic(
    db: sqlite_utils.Database, settings: Settings, query: Query, like: int | None, limit: int, sort: str, now: datetime,
    title_language: str = "en",
) -> SearchResult:
    started = time.perf_counter()
    tables = _tables(db)
    if "article_embeddings" not in tables:
        raise QueryError(f"no article embeddings in this database: {EMBED_HINT}")
    notes = list(query.notes)
    filters_text = replace(query, clauses=(), excluded=(), raw=None).describe()
    if like is not None:
        qvec, model = _article_vector(db, like)
        described = " ".join(x for x in (f"like:#{like}", filters_text) if x)
        if semantic_text(query):
            notes.append(f"words ignored with like: ({semantic_text(query)}); only filters and -exclusions apply")
    else:
        text = semantic_text(query)
        if not text:
            raise QueryError("no words to search by meaning; type what you are looking for, e.g. drone strikes on cartels")
        qvec, model = _query_vector(settings, text)
        described = " ".join(x for x in (text, filters_text) if x)
        if db.execute("SELECT 1 FROM article_embeddings WHERE model = ? LIMIT 1", [model]).fetchone() is None:
            stored = [m for m, _ in vectors.models(db)]
            other = f" (the stored vectors are of {', '.join(stored)})" if stored else ""
            raise QueryError(f"no article embeddings of {model} yet{other}: {EMBED_HINT}")
    qvec = language_axis.neutral(qvec, language_axis.axis_for(model, qvec.shape[0]))  # as the copy's rows are
    vs = vectors.load(db, model, disk_cache=settings.search.vector_cache)
    if vs is None:
        raise QueryError(f"no article embeddings of {model} yet: {EMBED_HINT}")
    if qvec.shape[0] != vs.dim:
        raise QueryError(f"the query vector has {qvec.shape[0]} values, the stored ones {vs.dim}: {EMBED_HINT} again")
    result = SearchResult(
        query=described, hits=[], total_estimate=0, total_exact=True, query_languages=[], translated_query={},
        notes=notes, sort=sort,
    )
    filters = _filter_sql(db, query, tables)
    if filters is None:
        result.notes.append("no analysis or stories yet: frame: and story: filters match nothing")
        return result
    where, params = filters
    if query.excluded:  # an article whose text or translation has an excluded word is left out, as in search()
        clause, more = exclusion_sql(tables, any_expression(query.excluded))
        where, params = [*where, clause], [*params, *more]
    cond = (" AND " + " AND ".join(where)) if where else ""
    want = limit + (1 if like is not None else 0)
    chosen = _nearest_filtered(db, vs, qvec, want, cond, params)
    chosen = [(a, s) for a, s in chosen if a != like][:limit]
    result.notes.append(
        f"ranked by meaning ({model}, {len(vs):,} articles embedded)" + ("" if like is None else f": articles like #{like}")
    )
    if sort == "date":
        published = dict(db.execute(
            f"SELECT id, published FROM articles WHERE id IN ({', '.join('?' for _ in chosen)})", [a for a, _ in chosen]
        ).fetchall()) if chosen else {}
        chosen.sort(key=lambda kv: (published.get(kv[0]) or "", kv[0]), reverse=True)
    details = _details(db, [a for a, _ in chosen], tables, title_language)
    for article, score in chosen:
        hit = details.get(article)
        if hit is None:
            continue
        hit.matched_in = "meaning"
        hit.score = round(float(score), 4)
        hit.snippet, hit.snippet_language = _plain_snippet(hit.summary or hit.title), hit.language
        result.hits.append(hit)
    result.total_estimate = len(result.hits)  # every embedded article has a similarity: these are the nearest
    result.total_exact = True
    result.elapsed_ms = (time.perf_counter() - started) * 1000.0
    return result


def _nearest_filtered(
    db: sqlite_utils.Database, vs: vectors.VectorSet, qvec: np.ndarray, want: int, cond: str, params: list[Any]
) -> list[tuple[int, float]]:
    """The `want` nearest articles passing the filters: the nearest CANDIDATES checked first; when too
    few pass, the scan is redone over exactly the filtered articles."""
    k = want + vs.tombstones if not cond else max(CANDIDATES, want * CANDIDATE_FACTOR)
    rows, scores = vectors.nearest(vs.matrix, qvec, k)
    ids = [int(vs.ids[r]) for r in rows]
    if not cond:  # id 0: a deleted article's row, left until the copy is rebuilt
        return [(a, s) for a, s in zip(ids, scores.tolist(), strict=True) if a][:want]
    ok = _allowed(db, ids, cond, params)
    kept = [(a, s) for a, s in zip(ids, scores.tolist(), strict=True) if a in ok]
    if len(kept) >= want or len(rows) >= len(vs):
        return kept[:want]
    allowed = np.fromiter(
        (r[0] for r in db.execute(f"SELECT a.id FROM articles a WHERE 1 = 1{cond}", params).fetchall()), dtype=np.int64
    )
    subset = vs.rows_of(allowed)
    if not len(subset):
        return []
    subset.sort()
    sub_rows, sub_scores = vectors.nearest(np.ascontiguousarray(vs.matrix[subset]), qvec, want)
    return [(int(vs.ids[subset[r]]), float(s)) for r, s in zip(sub_rows, sub_scores, strict=True)]


__all__ = ["semantic_search", "semantic_text"]
