"""Which words the full-text indexes contain: expanded word forms are kept only when some article
(original or translation) has them, so a query's FTS5 expression lists a handful of real words
instead of every generated candidate (each extra phrase costs bm25 a little on every matching row).

A word is looked up in an `fts5vocab` table of each index (`instance` type: the lookup stops at the
first occurrence, whatever the word's frequency). Answers are cached per process, keyed by the
indexes' structure records, which change whenever an index is written: a stale answer is never used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import lru_cache

import sqlite_utils

from monitor.analysis.textnorm import fold

INDEXES = ("articles_fts", "article_translations_fts")
_CACHE_WORDS = 50_000
_lock = threading.Lock()
_cache: dict[tuple[str, tuple[bytes, ...]], dict[str, bool]] = {}

_fold = lru_cache(maxsize=16384)(fold)


def _state(db: sqlite_utils.Database, tables: frozenset[str]) -> tuple[str, tuple[bytes, ...]]:
    """(database file, each index's structure record): changes whenever an index is written."""
    path = next((r[2] for r in db.execute("PRAGMA database_list").fetchall() if r[1] == "main"), "") or f"mem:{id(db)}"
    blobs = []
    for index in INDEXES:
        if index in tables:
            row = db.execute(f"SELECT block FROM {index}_data WHERE id = 10").fetchone()
            blobs.append(bytes(row[0]) if row and row[0] is not None else b"")
    return path, tuple(blobs)


def _vocab_tables(db: sqlite_utils.Database, tables: frozenset[str]) -> list[str]:
    """Temporary fts5vocab tables over the indexes (temp schema: works on a read-only connection)."""
    names = []
    for index in INDEXES:
        if index not in tables:
            continue
        name = f"search_vocab_{index}"
        db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{name} USING fts5vocab(main, {index}, instance)")
        names.append(name)
    return names


def present_words(db: sqlite_utils.Database, tables: frozenset[str], words: Iterable[str]) -> set[str]:
    """The folded forms of `words` that occur in at least one index."""
    folded = list(dict.fromkeys(_fold(w) for w in words if w))
    if not folded:
        return set()
    key = _state(db, tables)
    with _lock:
        known = _cache.get(key)
        if known is None:
            for old in [k for k in _cache if k[0] == key[0]]:  # the same database's stale answers
                del _cache[old]
            known = _cache[key] = {}
        missing = [w for w in folded if w not in known]
    found: dict[str, bool] = {}
    if missing:
        vocabs = _vocab_tables(db, tables)
        for word in missing:
            found[word] = any(
                db.execute(f"SELECT 1 FROM temp.{v} WHERE term = ? LIMIT 1", [word]).fetchone() is not None for v in vocabs
            )
        with _lock:
            if len(known) + len(found) > _CACHE_WORDS:
                known.clear()
            known.update(found)
    return {w for w in folded if found.get(w) or known.get(w)}


def clear_cache() -> None:
    with _lock:
        _cache.clear()


__all__ = ["clear_cache", "present_words"]
