"""Search articles in either language: run a parsed `Query` against the FTS5 indexes of the
originals (articles_fts) and of their translations (article_translations_fts).

How one query finds articles in both languages: the query's language is detected and its words
are translated with the configured engine (the one that translated the articles). Each index is
searched for "all the original words" OR "all the translated words", so a Spanish query finds
Spanish originals, English originals through their Spanish translation, and English originals
directly through the translated words. Every article appears once, ranked by bm25 (titles weigh
more than summaries, summaries more than bodies) combined with recency, or by date.

Used by `monitor search`, the web page's search box and alert rules:

    from monitor.search.query import parse_query
    from monitor.search.engine import search, get_article
    result = search(db, settings, parse_query('cártel* country:US since:7d'), limit=20)
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlite_utils

from monitor.analysis.analyze import frames_json_sql
from monitor.analysis.textnorm import fold
from monitor.config.settings import Settings
from monitor.search.forms import LANGUAGES
from monitor.search.query import (
    STOPWORDS,
    Clause,
    FormsOf,
    Query,
    QueryError,
    SearchTimeout,
    Term,
    any_expression,
    clauses_expression,
    expanded_forms,
)
from monitor.search.vocab import present_words
from monitor.store.db import translate_error

TIME_LIMIT_MS = 3000  # a search is stopped after this long (a very broad prefix on a large database)
MARK_START = "\ue000"  # snippet highlight markers: private-use characters, never in article text
MARK_END = "\ue001"
TITLE_WEIGHT, SUMMARY_WEIGHT, BODY_WEIGHT = 3.0, 1.0, 0.5  # bm25 column weights: title > summary > body
RECENCY_DAYS = 7.0  # an article this many days old gets half the recency boost of a fresh one
CANDIDATES = 200  # best matches taken from each index before merging and re-ranking by recency
DETECT_CONFIDENCE = 0.9  # below this, the query is translated from every language into every other
SORTS = ("relevance", "date")
SEARCH_CACHE_KIB = 32 * 1024  # page cache (KiB) of a connection that searches; never lowered, only raised


@dataclass
class Hit:
    """One article found, with everything a result list shows. Plain data (JSON-able)."""

    id: int
    outlet: str
    outlet_name: str
    country: str
    language: str  # the article's own language
    url: str | None
    title: str
    summary: str
    published: str  # UTC ISO-8601
    first_seen: str
    title_translated: str | None = None  # in translation_language; None when not translated
    summary_translated: str | None = None
    translation_language: str | None = None
    translation_engine: str | None = None
    translation_rough: bool = False  # word-for-word engine: show marked as rough
    top_frame: str | None = None
    frames: list[str] = field(default_factory=list)
    story: int | None = None
    story_label_en: str | None = None  # the story's keywords (a secondary line; the title comes first)
    story_label_es: str | None = None
    story_title: str | None = None  # the story's headline title in the reader's language (monitor/analysis/titles.py)
    story_title_language: str | None = None  # language of story_title
    story_title_translated: bool = False  # story_title is a machine translation of story_title_original: mark it
    story_title_rough: bool = False  # ... by a word-for-word engine: mark it as rough
    story_title_original: str | None = None  # the titling article's own headline
    relevant: bool | None = None  # None: not analysed
    relevance: float | None = None
    snippet: str = ""  # text around the match; matched words between MARK_START and MARK_END
    snippet_language: str | None = None  # language of the snippet text
    matched_in: str = ""  # original | translation | both | filters
    score: float = 0.0  # higher is better (bm25 x recency); 0 for filter-only listings


@dataclass
class SearchResult:
    query: str  # the query as searched (normalised)
    hits: list[Hit]
    total_estimate: int  # matching articles; a lower bound when total_exact is False
    total_exact: bool
    query_languages: list[str]  # languages the query was read as
    translated_query: dict[str, str]  # target language -> the translated words searched
    notes: list[str]  # e.g. "query translated with apertium (rough)"
    sort: str = "relevance"
    elapsed_ms: float = 0.0
    translation_busy: bool = False  # the query translator was busy: the words were searched as typed only


@dataclass
class ArticleDetail:
    """One article in full, for `monitor show` and the web article page."""

    id: int
    outlet: str
    outlet_name: str
    country: str
    language: str
    url: str | None
    link: str | None
    title: str
    summary: str
    content_text: str | None
    authors: list[str]
    tags: list[str]
    published: str
    first_seen: str
    date_flag: str | None
    translations: list[dict[str, Any]]  # {language, title, summary, content, engine, model, rough, translated_at}
    analysis: dict[str, Any] | None  # {relevant, relevance, top_frame, frames, actors, keywords, analyzed_at}
    frames: list[dict[str, Any]]  # {frame, score, evidence: [...]}, best first
    story: dict[str, Any] | None  # {id, label_en, label_es, title_en, title_es, size, articles: [{id, outlet, ...}]}


# ------------------------------------------------------------------------------- helpers


_TABLES: weakref.WeakKeyDictionary[sqlite_utils.Database, tuple[int, frozenset[str]]] = weakref.WeakKeyDictionary()


def _tables(db: sqlite_utils.Database) -> frozenset[str]:
    """The database's tables, re-read only when its schema changed (a migration in another process)."""
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    cached = _TABLES.get(db)
    if cached is not None and cached[0] == version:
        return cached[1]
    if cached is None:
        _size_page_cache(db)
    tables = frozenset(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall())
    _TABLES[db] = (version, tables)
    return tables


def _size_page_cache(db: sqlite_utils.Database) -> None:
    """Give a connection that searches a page cache of at least SEARCH_CACHE_KIB: with SQLite's
    default 2 MB, the detail lookups evict the FTS pages one search needs and the next re-reads them."""
    size = db.execute("PRAGMA cache_size").fetchone()[0]
    current_kib = -size if size < 0 else size * db.execute("PRAGMA page_size").fetchone()[0] // 1024
    if current_kib < SEARCH_CACHE_KIB:
        db.execute(f"PRAGMA cache_size = -{SEARCH_CACHE_KIB}")


def _loads(value: str | None, default: Any) -> Any:
    if not value:
        return default
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return default


@contextmanager
def time_limit(db: sqlite_utils.Database, ms: float) -> Iterator[None]:
    """Interrupt any statement running past `ms` milliseconds (SQLite progress handler)."""
    if ms <= 0:
        yield
        return
    deadline = time.monotonic() + ms / 1000.0
    db.conn.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 2000)
    try:
        yield
    finally:
        db.conn.set_progress_handler(None, 0)


def _is_fts_syntax_error(msg: str) -> bool:
    return any(
        s in msg
        for s in ("fts5:", "syntax error", "unterminated string", "no such column", "unknown special query", "no such cursor", "malformed MATCH")
    )


# ------------------------------------------------------------------------------- query translation

QUERY_TRANSLATION_BUDGET_S = 3.0  # the web page waits this long for a query's translation, then searches as typed
BUSY_NOTE = "searched untranslated: translation was busy (the words were searched as typed; try again shortly)"
_CACHE_SIZE = 512
_ENGINE_MARKS = re.compile(r"(?<!\w)[*#@](?=\w)")  # apertium marks unknown (*), untranslatable (#) words

CacheKey = tuple[str, str, str, str]  # (engine, source, target, text)


class _TranslationCache:
    """Least-recently-used translations of query texts, shared by every thread of the process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[CacheKey, str] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: Sequence[CacheKey]) -> dict[CacheKey, str]:
        with self._lock:
            found: dict[CacheKey, str] = {}
            for key in keys:
                if key in self._data:
                    self._data.move_to_end(key)
                    found[key] = self._data[key]
            return found

    def put_many(self, items: dict[CacheKey, str]) -> None:
        with self._lock:
            for key, value in items.items():
                self._data[key] = value
                self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_TRANSLATION_CACHE = _TranslationCache(_CACHE_SIZE)


def _get_pool(settings: Settings) -> tuple[Any | None, str | None]:
    """The process's shared query-translation pool for the configured engine (the engine is loaded
    once, under a lock), or (None, note saying why not)."""
    key = settings.translation.engine
    try:
        from monitor.translation import get_translator
        from monitor.translation.pool import shared_pool
    except ImportError:
        return None, "query not translated: the translation module is not installed; searched as typed"
    try:
        return shared_pool(key, lambda: get_translator(settings)), None
    except Exception as exc:  # an engine failing to load must not stop the search (retried next search)
        return None, f"query not translated ({exc}); searched as typed"


def _translate_texts(pool: Any, texts: list[str], source: str, target: str, budget_s: float | None) -> list[str]:
    """Translations of `texts`, from the cache or one pooled engine call for the missing ones.
    Raises TranslationBusy when the pool cannot translate them within `budget_s`."""
    engine = pool.engine
    keys = [(engine, source, target, t) for t in texts]
    found = _TRANSLATION_CACHE.get_many(keys)
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
    if missing:
        out = pool.translate(missing, source, target, budget_s=budget_s)
        fresh = {
            (engine, source, target, text): _ENGINE_MARKS.sub("", translated or "").strip()
            for text, translated in zip(missing, out, strict=True)
        }
        _TRANSLATION_CACHE.put_many(fresh)
        found.update(fresh)  # read back from this call's own results: the cache may have evicted them
    return [found[k] for k in keys]


def translate_clauses(
    pool: Any,
    clauses: Sequence[Clause],
    excluded: Sequence[Term],
    source: str,
    target: str,
    budget_s: float | None = None,
) -> tuple[list[Clause], list[Term]]:
    """Translate a query's terms: runs of plain words together (so "Estados Unidos" becomes
    "United States", then one clause per word), phrases as phrases, OR alternatives and
    exclusions one by one, prefixes by their stem. One engine call for the whole query."""
    texts: list[str] = []
    plan: list[tuple[str, Any]] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            plan.append(("run", len(texts)))
            texts.append(" ".join(run))
            run.clear()

    for clause in clauses:
        if len(clause) == 1 and clause[0].plain:
            run.append(clause[0].text)
            continue
        flush()
        plan.append(("clause", [(len(texts) + i, t) for i, t in enumerate(clause)]))
        texts += [t.text for t in clause]
    flush()
    excl_start = len(texts)
    texts += [t.text for t in excluded]
    out = _translate_texts(pool, texts, source, target, budget_s) if texts else []

    def term_from(text: str, like: Term) -> Term | None:
        text = text.replace('"', " ").strip()
        if not re.search(r"[^\W_]", text):
            return None
        return Term(text=text, phrase=like.phrase or (len(text.split()) > 1 and not like.plain), prefix=like.prefix)

    new_clauses: list[Clause] = []
    for kind, data in plan:
        if kind == "run":
            words = [w for w in out[data].split() if re.search(r"[^\W_]", w)]
            kept = [w for w in words if w.lower() not in STOPWORDS] or words
            for w in kept:
                t = term_from(w, Term(text=w))
                if t is not None and (t,) not in new_clauses:
                    new_clauses.append((t,))
        else:
            terms = [term_from(out[i], t) for i, t in data]
            group = tuple(dict.fromkeys(t for t in terms if t is not None))
            if group:
                new_clauses.append(group)
    new_excluded = [t for t in (term_from(out[excl_start + i], e) for i, e in enumerate(excluded)) if t is not None]
    return new_clauses, new_excluded


def _languages(db: sqlite_utils.Database, tables: frozenset[str]) -> list[str]:
    """Languages of the outlets and of the stored translations (an index skip-scan, not a table scan)."""
    langs: set[str] = set()
    if "outlets" in tables:
        langs |= {r[0] for r in db.execute("SELECT DISTINCT language FROM outlets").fetchall() if r[0]}
    if "article_translations" in tables:
        rows = db.execute(
            """WITH RECURSIVE l(x) AS (
                   SELECT min(language) FROM article_translations
                   UNION ALL
                   SELECT (SELECT min(language) FROM article_translations WHERE language > l.x) FROM l WHERE l.x IS NOT NULL
               ) SELECT x FROM l WHERE x IS NOT NULL LIMIT 32"""
        ).fetchall()
        langs |= {r[0] for r in rows}
    return sorted(langs) or ["en", "es"]


def _detect(text: str, languages: list[str]) -> tuple[str | None, float]:
    try:
        from monitor.translation.language import detect
    except ImportError:
        return None, 0.0
    try:
        lang, confidence = detect(text, prior=None, languages=tuple(languages))
    except Exception:  # detection is a hint; never fail a search on it
        return None, 0.0
    return lang, float(confidence or 0.0)


@dataclass
class _Plan:
    match: str  # FTS5 expression for the words, '' for a filter-only listing
    exclude: str  # FTS5 expression of excluded terms, '' for none
    query_languages: list[str]
    translated: dict[str, str]
    notes: list[str]
    highlight: list[tuple[str, bool]] = field(default_factory=list)  # (word, is_prefix) to mark in snippets
    translation_busy: bool = False


def _highlight_words(clauses: Sequence[Clause], forms: FormsOf | None) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for clause in clauses:
        for term in clause:
            words = term.words
            if term.plain and forms is not None:
                out += [(w, False) for w in forms(words[0])]
            elif term.prefix:
                out += [(w, False) for w in words[:-1]] + [(words[-1], True)]
            else:
                out += [(w, False) for w in words]
    return out


_RAW_OPERATORS = {"AND", "OR", "NOT", "NEAR"}


def _raw_highlight_words(raw: str) -> list[tuple[str, bool]]:
    """Words of a raw FTS5 expression (operators and column names left out) for snippets."""
    out: list[tuple[str, bool]] = []
    for m in re.finditer(r"([^\W_]+)(\*?)(:?)", raw):
        word, star, colon = m.groups()
        if colon or word in _RAW_OPERATORS:
            continue
        out.append((word, bool(star)))
    return out


def plan_query(
    db: sqlite_utils.Database,
    settings: Settings,
    query: Query,
    translate: bool,
    forms: bool = True,
    translation_budget_s: float | None = None,
) -> _Plan:
    """Decide what to match: the words as typed, plus their translations into the other languages.

    The translation goes through the process's shared, bounded pool; with a budget, a busy pool
    leaves the words as typed and the plan says so (`translation_busy`)."""
    notes = list(query.notes)
    if query.ignored:
        notes.append("common words ignored: " + ", ".join(query.ignored) + ' (quote them to search for them: "de")')
    if query.raw:
        return _Plan(
            query.raw, "", [], {}, [*notes, "raw FTS5 query: searched as written, not translated"], _raw_highlight_words(query.raw)
        )
    word_text = query.words_text() or " ".join(t.text for t in query.excluded)
    translated: dict[str, str] = {}
    sources: list[str] = []
    busy = False
    done: dict[tuple[str, str], tuple[list[Clause], list[Term]]] = {}
    if translate and word_text:
        pool, why_not = _get_pool(settings)
        if why_not:
            notes.append(why_not)
        elif pool is None or pool.engine == "none":
            notes.append("query not translated (translation engine: none); searched as typed in both indexes")
        else:
            languages = _languages(db, _tables(db))
            lang, confidence = _detect(word_text, languages)
            sources = [lang] if lang in languages and confidence >= DETECT_CONFIDENCE else list(languages)
            pairs = [(s, t) for s in sources for t in languages if t != s and _supports(pool.translator, s, t)]
            done, busy = _translate_pairs(pool, query, pairs, translation_budget_s, notes)
            if done:
                rough = " (rough, word for word)" if getattr(pool.translator, "rough", False) else ""
                notes.append(f"query translated with {pool.engine}{rough}: " + ", ".join(f"{a}->{b}" for a, b in done))
    # the words as typed take the forms of the language they were read as (both when unsure)
    typed_forms = _forms_in(db, tuple(sources) if len(sources) == 1 else LANGUAGES) if forms else None
    matches = [clauses_expression(query.clauses, typed_forms or False)] if query.clauses else []
    excludes = [any_expression(query.excluded, typed_forms or False)] if query.excluded else []
    highlight = _highlight_words(query.clauses, typed_forms)
    for pair, (clauses, excluded) in done.items():
        target_forms = _forms_in(db, (pair[1],)) if forms else None  # translated words: the target's forms
        highlight += _highlight_words(clauses, target_forms)
        expr = clauses_expression(clauses, target_forms or False)
        if expr and expr not in matches:
            matches.append(expr)
        ex = any_expression(excluded, target_forms or False) if excluded else ""
        if ex and ex not in excludes:
            excludes.append(ex)
        shown = " ".join(" OR ".join(t.display() for t in c) for c in clauses)
        if shown:
            translated[pair[1] if len(sources) == 1 else f"{pair[0]}->{pair[1]}"] = shown
    match = " OR ".join(f"({m})" for m in matches) if len(matches) > 1 else (matches[0] if matches else "")
    exclude = " OR ".join(f"({e})" for e in excludes) if len(excludes) > 1 else (excludes[0] if excludes else "")
    return _Plan(match, exclude, sources, translated, notes, highlight, busy)


def _forms_in(db: sqlite_utils.Database, languages: tuple[str, ...]) -> FormsOf:
    """A word's forms in these languages (monitor.search.forms), kept only where some article has them."""
    tables = _tables(db)

    def forms_of(word: str) -> tuple[str, ...]:
        candidates = expanded_forms(word, languages)
        if len(candidates) == 1:
            return candidates
        present = present_words(db, tables, candidates[1:])
        return (candidates[0], *(c for c in candidates[1:] if _fold(c) in present))

    return forms_of


def _translate_pairs(
    pool: Any, query: Query, pairs: list[tuple[str, str]], budget_s: float | None, notes: list[str]
) -> tuple[dict[tuple[str, str], tuple[list[Clause], list[Term]]], bool]:
    """The query's clauses translated for each (source, target) pair, all within one budget; and
    whether the pool was busy (the remaining pairs are then skipped and the note says so)."""
    from monitor.translation.pool import TranslationBusy, monotonic_deadline

    remaining = monotonic_deadline(budget_s)
    done: dict[tuple[str, str], tuple[list[Clause], list[Term]]] = {}
    for source, target in pairs:
        try:
            done[(source, target)] = translate_clauses(pool, query.clauses, query.excluded, source, target, remaining())
        except TranslationBusy:
            notes.append(BUSY_NOTE)
            return done, True
        except Exception as exc:  # an engine failure leaves the search on the words as typed
            notes.append(f"query not translated {source}->{target} ({exc}); searched as typed")
    return done, False


def _supports(translator: Any, source: str, target: str) -> bool:
    supports = getattr(translator, "supports", None)
    try:
        return bool(supports(source, target)) if callable(supports) else True
    except Exception:
        return False


# ------------------------------------------------------------------------------- filters


def _filter_sql(db: sqlite_utils.Database, query: Query, tables: frozenset[str]) -> tuple[list[str], list[Any]] | None:
    """WHERE conditions on `a` (articles) for the query's filters; None when they cannot match."""
    where: list[str] = []
    params: list[Any] = []

    def among(column: str, values: Sequence[Any]) -> None:
        where.append(f"{column} IN ({', '.join('?' for _ in values)})")
        params.extend(values)

    if query.countries:
        among("a.country", query.countries)
    if query.outlets:
        among("a.outlet", query.outlets)
    if query.languages:
        among("a.language", query.languages)
    if query.since:
        where.append("a.published >= ?")
        params.append(query.since)
    if query.until:
        where.append("a.published < ?")
        params.append(query.until)
    if query.frames:
        if "article_frames" not in tables:
            return None
        marks = ", ".join("?" for _ in query.frames)
        where.append(f"a.id IN (SELECT article FROM article_frames WHERE over_threshold = 1 AND frame IN ({marks}))")
        params.extend(query.frames)
    if query.stories:
        if "story_articles" not in tables:
            return None
        ids = _resolve_stories(db, query.stories, tables)
        marks = ", ".join("?" for _ in ids)
        where.append(f"a.id IN (SELECT article FROM story_articles WHERE story IN ({marks}))")
        params.extend(ids)
    return where, params


def _resolve_stories(db: sqlite_utils.Database, ids: Sequence[int], tables: frozenset[str]) -> list[int]:
    """Story ids plus the stories they were merged into (a merged story's articles moved there)."""
    out = list(ids)
    if "stories" not in tables:
        return out
    frontier = list(ids)
    for _ in range(16):
        if not frontier:
            break
        marks = ", ".join("?" for _ in frontier)
        rows = db.execute(
            f"SELECT merged_into FROM stories WHERE id IN ({marks}) AND merged_into IS NOT NULL", frontier
        ).fetchall()
        frontier = [r[0] for r in rows if r[0] not in out]
        out += frontier
    return out


# ------------------------------------------------------------------------------- search


@lru_cache(maxsize=16384)
def _published_at(published: str | None) -> datetime | None:
    """A stored timestamp parsed (cached: the same candidates come back across searches)."""
    try:
        dt = datetime.fromisoformat(published or "")
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _recency(published: str | None, now: datetime) -> float:
    dt = _published_at(published)
    if dt is None:
        return 0.0
    age_days = max(0.0, (now - dt).total_seconds() / 86400.0)
    return 1.0 / (1.0 + age_days / RECENCY_DAYS)


def search(
    db: sqlite_utils.Database,
    settings: Settings,
    query: Query,
    *,
    limit: int = 20,
    sort: str = "relevance",
    translate: bool = True,
    time_limit_ms: float = TIME_LIMIT_MS,
    forms: bool = True,
    now: datetime | None = None,
    translation_budget_s: float | None = None,
    title_language: str | None = None,
) -> SearchResult:
    """Find articles matching `query` in originals and translations; each article once.

    Each hit carries its story's headline title (`story_title`) in `title_language` (en | es);
    default: `reader_language(query, settings)`.

    The query is translated through the process's shared, bounded pool. With `translation_budget_s`
    (the web page: QUERY_TRANSLATION_BUDGET_S), a translation not done in time (or a full queue) is
    skipped: the words are searched as typed, a note says so and `translation_busy` is set.
    Without it, the search waits for its translation (the CLI, alert rules).

    Raises QueryError (a --raw expression FTS5 rejects), SearchTimeout (past `time_limit_ms`),
    or a StorageError; never a bare sqlite3 error.
    """
    if sort not in SORTS:
        raise QueryError(f"unknown sort {sort!r}; use one of: {', '.join(SORTS)}")
    check_title_language(title_language)
    limit = max(1, min(int(limit), 1000))
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    try:
        plan = plan_query(db, settings, query, translate, forms, translation_budget_s)  # outside the time limit
        with time_limit(db, time_limit_ms):
            result = _search(db, query, plan, limit, sort, now, title_language or reader_language(query, settings))
    except sqlite3.OperationalError as exc:
        msg = str(exc)
        if "interrupted" in msg:
            raise SearchTimeout(
                f"the search was stopped after {time_limit_ms / 1000:g}s; the query matches too much "
                "(a short prefix*, or very common words): add words or filters such as country: or since:"
            ) from None
        if query.raw and _is_fts_syntax_error(msg):
            raise QueryError(f"invalid FTS5 query ({msg}); fix the syntax or try without --raw") from None
        raise translate_error(exc) from exc
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc
    result.elapsed_ms = (time.perf_counter() - started) * 1000.0
    return result


def exclusion_sql(tables: frozenset[str], expr: str) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) that leaves out every article whose text or translation
    matches the FTS5 expression `expr` (a query's -exclusions)."""
    excl = ["SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"]
    params: list[Any] = [expr]
    if "article_translations_fts" in tables:
        excl.append(
            "SELECT t.article FROM article_translations_fts JOIN article_translations t "
            "ON t.id = article_translations_fts.rowid WHERE article_translations_fts MATCH ?"
        )
        params.append(expr)
    return f"a.id NOT IN ({' UNION '.join(excl)})", params


def _search(
    db: sqlite_utils.Database, query: Query, plan: _Plan, limit: int, sort: str, now: datetime, title_language: str
) -> SearchResult:
    tables = _tables(db)
    base = SearchResult(
        query=query.describe(),
        hits=[],
        total_estimate=0,
        total_exact=True,
        query_languages=plan.query_languages,
        translated_query=plan.translated,
        notes=plan.notes,
        sort=sort,
        translation_busy=plan.translation_busy,
    )
    filters = _filter_sql(db, query, tables)
    if filters is None:
        base.notes.append("no analysis or stories yet: frame: and story: filters match nothing")
        return base
    where, params = filters
    if plan.exclude:
        clause, more = exclusion_sql(tables, plan.exclude)
        where, params = [*where, clause], [*params, *more]
    cond = (" AND " + " AND ".join(where)) if where else ""
    k = limit if sort == "date" else max(CANDIDATES, limit * 5)

    found: dict[int, dict[str, Any]] = {}  # article -> {rank, published, via}
    saturated = False
    if not plan.match:
        rows = db.execute(
            f"SELECT a.id, a.published FROM articles a WHERE 1 = 1{cond} ORDER BY a.published DESC, a.id DESC LIMIT ?",
            [*params, limit + 1],
        ).fetchall()
        saturated = len(rows) > limit
        for article, published in rows[:limit]:
            found[article] = {"rank": 0.0, "published": published, "via": {"filters"}}
    else:
        order = "a.published DESC, a.id DESC" if sort == "date" else "r"
        fast = not cond and sort != "date"  # nothing to join: take the best-ranked rowids straight from FTS5
        for via, sql in _source_sql(tables, fast, cond, order):
            rows = db.execute(sql, [plan.match, *params, k]).fetchall()
            saturated = saturated or len(rows) >= k
            for article, rank, published in rows:
                entry = found.setdefault(article, {"rank": rank, "published": published, "via": set()})
                entry["rank"] = min(entry["rank"], rank)
                entry["via"].add(via)

    if plan.match:  # bm25 (lower is better) boosted by recency, computed once per candidate
        for entry in found.values():
            entry["score"] = -float(entry["rank"]) * (1.0 + _recency(entry["published"], now))
    if sort == "date" or not plan.match:
        ordered = sorted(found.items(), key=lambda kv: (kv[1]["published"] or "", kv[0]), reverse=True)
    else:
        ordered = sorted(found.items(), key=lambda kv: (kv[1]["score"], kv[1]["published"] or ""), reverse=True)
    chosen = ordered[:limit]
    base.total_estimate = len(found) if plan.match else len(chosen) + (1 if saturated else 0)
    base.total_exact = not saturated
    details = _details(db, [a for a, _ in chosen], tables, title_language)
    highlighter = Highlighter(plan.highlight)
    for article, entry in chosen:
        hit = details.get(article)
        if hit is None:
            continue
        via = entry["via"]
        hit.matched_in = "both" if {"original", "translation"} <= via else next(iter(via))
        hit.score = round(entry["score"], 4) if plan.match else 0.0
        hit.snippet, hit.snippet_language = _snippet_for(hit, highlighter)
        if plan.match and MARK_START not in hit.snippet:  # matched in the body only: show that passage
            hit.snippet, hit.snippet_language = _body_snippet(db, hit, highlighter, tables) or (
                hit.snippet, hit.snippet_language
            )
        base.hits.append(hit)
    return base


def _bm25(table: str) -> str:
    return f"bm25({table}, {TITLE_WEIGHT}, {SUMMARY_WEIGHT}, {BODY_WEIGHT})"


@lru_cache(maxsize=64)
def _source_sql(tables: frozenset[str], fast: bool, cond: str, order: str) -> tuple[tuple[str, str], ...]:
    """(via, SELECT) per FTS index: (article id, bm25, published) of the best K matches.

    bm25() is called as a function rather than through the `rank` column: reading `rank` makes
    FTS5 (3.40) evaluate the ranking function a second time for every row, doubling the cost
    of a broad query."""
    out = []
    for via, fts, to_article in (
        ("original", "articles_fts", "JOIN articles a ON a.id = {rowid}"),
        (
            "translation",
            "article_translations_fts",
            "JOIN article_translations t ON t.id = {rowid} JOIN articles a ON a.id = t.article",
        ),
    ):
        if fts not in tables:
            continue
        if fast:  # the best K from the index alone, then only K primary-key lookups, in the index's order
            best = f"SELECT rowid AS id, {_bm25(fts)} AS r FROM {fts} WHERE {fts} MATCH ? ORDER BY r LIMIT ?"
            lookups = to_article.format(rowid="s.id").replace("JOIN", "CROSS JOIN")  # keep the planner on this order
            sql = f"SELECT a.id, s.r, a.published FROM ({best}) AS s {lookups}"
        else:
            sql = (
                f"SELECT a.id, {_bm25(fts)} AS r, a.published FROM {fts} {to_article.format(rowid=f'{fts}.rowid')} "
                f"WHERE {fts} MATCH ?{cond} ORDER BY {order} LIMIT ?"
            )
        out.append((via, sql))
    return tuple(out)


# Words of a query and of snippets are folded as analysis folds them (FTS5 unicode61 remove_diacritics 2
# does near enough the same); a word's fold is cached, a whole text's is not.
_fold = lru_cache(maxsize=8192)(fold)


class Highlighter:
    """Marks the words a query matched in a text, for snippets (cheaper than re-running FTS5 snippet())."""

    def __init__(self, words: Sequence[tuple[str, bool]]):
        self.exact = {_fold(w) for w, prefix in words if not prefix}
        self.prefixes = tuple(_fold(w) for w, prefix in words if prefix)

    def matches(self, word: str) -> bool:
        folded = _fold(word)
        return folded in self.exact or (bool(self.prefixes) and folded.startswith(self.prefixes))

    def could_match(self, text: str) -> bool:
        """False when no word of `text` can match (a substring test on the folded text, no tokenizing)."""
        folded = fold(text)
        return any(w in folded for w in self.exact) or any(p in folded for p in self.prefixes)

    def snippet(self, text: str, words: int = 32) -> str | None:
        """About `words` words of `text` around its first match, matches marked; None without a match."""
        text = text.replace(MARK_START, "").replace(MARK_END, "")
        if not self.could_match(text):
            return None
        tokens = _TOKEN_RE.findall(text)
        exact, prefixes = self.exact, self.prefixes
        hits = [
            i for i, tok in enumerate(tokens) if (f := _fold(tok)) in exact or (prefixes and f.startswith(prefixes))
        ]
        if not hits:
            return None
        spans = [m.span() for m in _TOKEN_RE.finditer(text)]
        first = max(0, min(hits[0] - words // 4, len(spans) - words))
        last = min(len(spans), first + words)
        start = spans[first][0] if first > 0 else 0
        end = spans[last - 1][1] if last < len(spans) else len(text)
        out, pos = [], start
        for i in hits:
            if first <= i < last:
                a, b = spans[i]
                out += [text[pos:a], MARK_START, text[a:b], MARK_END]
                pos = b
        out.append(text[pos:end])
        return ("…" if start > 0 else "") + "".join(out).strip() + ("…" if end < len(text) else "")


_TOKEN_RE = re.compile(r"[^\W_]+")


def _snippet_for(hit: Hit, highlighter: Highlighter) -> tuple[str, str | None]:
    """The passage to show: the first text with a match, originals before translations."""
    candidates = [(hit.summary, hit.language), (hit.title, hit.language)]
    if hit.title_translated is not None:
        candidates += [(hit.summary_translated or "", hit.translation_language), (hit.title_translated, hit.translation_language)]
    for text, lang in candidates:
        if text:
            snip = highlighter.snippet(text)
            if snip:
                return snip, lang
    return _plain_snippet(hit.summary or hit.title), hit.language


BODY_SNIPPET_CHARS = 20_000  # how much of a body is scanned for a passage to show


def _body_snippet(
    db: sqlite_utils.Database, hit: Hit, highlighter: Highlighter, tables: frozenset[str]
) -> tuple[str, str | None] | None:
    """The passage of the article's body (original, then translated) with a match; None without one."""
    texts = [
        (row[0], hit.language)
        for row in db.execute(
            "SELECT substr(content_text, 1, ?) FROM articles WHERE id = ? AND content_text IS NOT NULL",
            [BODY_SNIPPET_CHARS, hit.id],
        ).fetchall()
    ]
    if "article_translations" in tables:
        texts += db.execute(
            "SELECT substr(content, 1, ?), language FROM article_translations"
            " WHERE article = ? AND content IS NOT NULL ORDER BY id",
            [BODY_SNIPPET_CHARS, hit.id],
        ).fetchall()
    for text, lang in texts:
        snip = highlighter.snippet(str(text or ""))
        if snip:
            return snip, lang
    return None


def _plain_snippet(text: str, words: int = 32) -> str:
    parts = text.replace(MARK_START, "").replace(MARK_END, "").split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _details(
    db: sqlite_utils.Database, ids: list[int], tables: frozenset[str], title_language: str = "en"
) -> dict[int, Hit]:
    """Everything a result shows for these articles, in one statement; then their stories' titles in
    `title_language`, all stories read together."""
    if not ids:
        return {}
    sql, shape = _details_sql(tables, len(ids))
    hits: dict[int, Hit] = {}
    for row in db.execute(sql, ids).fetchall():
        hit = Hit(*row[:10])
        rest = row[10:]
        if "translation" in shape:
            lang, title, summary, engine, rough, rest = *rest[:5], rest[5:]
            if title is not None:
                hit.title_translated, hit.summary_translated = title, summary
                hit.translation_language, hit.translation_engine, hit.translation_rough = lang, engine, bool(rough)
        if "analysis" in shape:
            analysed, relevant, relevance, top_frame, frames, rest = *rest[:5], rest[5:]
            if analysed is not None:
                hit.relevant, hit.relevance, hit.top_frame = bool(relevant), relevance, top_frame
                hit.frames = [str(f) for f in _loads(frames, []) if isinstance(f, str)]
        if "story" in shape:
            in_story, story, label_en, label_es = rest[:4]
            if in_story is not None:
                hit.story, hit.story_label_en, hit.story_label_es = story, label_en, label_es
        hits[hit.id] = hit
    _title_stories(db, list(hits.values()), title_language)
    return hits


def reader_language(query: Query, settings: Settings) -> str:
    """The language a result's story titles are shown in: the query's one `lang:` filter (a reader of
    Spanish articles reads Spanish titles), else `[digest] lang`, as `monitor stories` defaults."""
    if len(query.languages) == 1 and query.languages[0] in ("en", "es"):
        return query.languages[0]
    return settings.digest.lang


def check_title_language(language: str | None) -> None:
    """Raise QueryError unless `language` is None (the default) or a language stories are titled in."""
    if language is not None and language not in ("en", "es"):
        raise QueryError(f"title language must be en or es, not {language!r}")


def _title_stories(db: sqlite_utils.Database, hits: list[Hit], language: str) -> None:
    """Set each hit's story_title* to its story's headline title in `language` (en | es)."""
    stories = sorted({h.story for h in hits if h.story is not None})
    if not stories:
        return
    from monitor.analysis.stories import story_titles

    titles = story_titles(db, stories, (language,))
    for hit in hits:
        title = titles.get(hit.story, {}).get(language) if hit.story is not None else None
        if title is not None:
            hit.story_title, hit.story_title_language = title.headline, title.language
            hit.story_title_translated, hit.story_title_rough = title.translated, title.rough
            hit.story_title_original = title.original


@lru_cache(maxsize=128)
def _details_sql(tables: frozenset[str], count: int) -> tuple[str, tuple[str, ...]]:
    """The details SELECT for `count` ids and which optional parts (translation, analysis, story) it has.
    The translation shown is the first (by id) in a language other than the article's."""
    columns = [
        "a.id, a.outlet, coalesce(o.name, a.outlet), a.country, a.language, a.url, a.title, a.summary, a.published, a.first_seen"
    ]
    joins = ["LEFT JOIN outlets o ON o.id = a.outlet"]
    shape: list[str] = []
    if "article_translations" in tables:
        shape.append("translation")
        columns.append("t.language, t.title, t.summary, t.engine, t.rough")
        joins.append(
            "LEFT JOIN article_translations t ON t.id = (SELECT min(t2.id) FROM article_translations t2 "
            "WHERE t2.article = a.id AND t2.language != a.language)"
        )
    if "analyses" in tables:
        shape.append("analysis")
        columns.append(f"an.article, an.relevant, an.relevance, an.top_frame, {frames_json_sql('a.id')}")
        joins.append("LEFT JOIN analyses an ON an.article = a.id")
    if "story_articles" in tables and "stories" in tables:
        shape.append("story")
        columns.append("sa.article, coalesce(s.id, sa.story), s.label_en, s.label_es")
        joins.append("LEFT JOIN story_articles sa ON sa.article = a.id LEFT JOIN stories s ON s.id = sa.story")
    marks = ", ".join("?" for _ in range(count))
    sql = f"SELECT {', '.join(columns)} FROM articles a {' '.join(joins)} WHERE a.id IN ({marks})"
    return sql, tuple(shape)


def snippet_segments(snippet: str) -> list[tuple[str, bool]]:
    """Split a snippet into (text, highlighted) pieces, for HTML (escape each piece) or a terminal."""
    out: list[tuple[str, bool]] = []
    for i, part in enumerate(re.split(f"[{MARK_START}{MARK_END}]", snippet)):
        if part:
            out.append((part, i % 2 == 1))
    return out


def snippet_html(snippet: str) -> str:
    """The snippet as safe HTML: text escaped, matches in <mark>."""
    from html import escape

    return "".join(f"<mark>{escape(t)}</mark>" if hi else escape(t) for t, hi in snippet_segments(snippet))


def snippet_text(snippet: str, start: str = "[", end: str = "]") -> str:
    """The snippet as plain text with matches bracketed."""
    return "".join(f"{start}{t}{end}" if hi else t for t, hi in snippet_segments(snippet))


# ------------------------------------------------------------------------------- one article


def get_article(db: sqlite_utils.Database, article_id: int) -> ArticleDetail | None:
    """One article in full: original, translations, analysis, frames with evidence, and its story."""
    try:
        return _get_article(db, int(article_id))
    except sqlite3.Error as exc:
        raise translate_error(exc) from exc


def _get_article(db: sqlite_utils.Database, article_id: int) -> ArticleDetail | None:
    tables = _tables(db)
    row = db.execute(
        """SELECT a.id, a.outlet, coalesce(o.name, a.outlet), a.country, a.language, a.url, a.link, a.title, a.summary,
                  a.content_text, a.authors, a.tags, a.published, a.first_seen, a.date_flag
           FROM articles a LEFT JOIN outlets o ON o.id = a.outlet WHERE a.id = ?""",
        [article_id],
    ).fetchone()
    if row is None:
        return None
    translations: list[dict[str, Any]] = []
    if "article_translations" in tables:
        for lang, title, summary, content, engine, model, rough, at in db.execute(
            """SELECT language, title, summary, content, engine, model, rough, translated_at
               FROM article_translations WHERE article = ? ORDER BY language""",
            [article_id],
        ).fetchall():
            translations.append(
                {
                    "language": lang,
                    "title": title,
                    "summary": summary,
                    "content": content,
                    "engine": engine,
                    "model": model,
                    "rough": bool(rough),
                    "translated_at": at,
                }
            )
    analysis = None
    if "analyses" in tables:
        an = db.execute(
            f"SELECT relevant, relevance, top_frame, {frames_json_sql('an.article')}, actors, keywords, analyzed_at,"
            " evidence, probability, model_terms FROM analyses an WHERE an.article = ?",
            [article_id],
        ).fetchone()
        if an:
            analysis = {
                "relevant": bool(an[0]),
                "relevance": an[1],
                "top_frame": an[2],
                "frames": _loads(an[3], []),
                "actors": _loads(an[4], []),
                "keywords": _loads(an[5], []),
                "analyzed_at": an[6],
                "evidence": _loads(an[7], []),  # why relevant (or not): sentences and the terms found there
                "probability": an[8],  # the trained model's P(relevant); None: the debate file decided alone
                "model_terms": _loads(an[9], []),
            }
    frames: list[dict[str, Any]] = []
    if "article_frames" in tables:
        for frame, score, evidence in db.execute(
            "SELECT frame, score, evidence FROM article_frames WHERE article = ? ORDER BY score DESC, frame", [article_id]
        ).fetchall():
            frames.append({"frame": frame, "score": score, "evidence": _loads(evidence, [])})
    story = _story_of(db, article_id, tables)
    return ArticleDetail(
        id=row[0],
        outlet=row[1],
        outlet_name=row[2],
        country=row[3],
        language=row[4],
        url=row[5],
        link=row[6],
        title=row[7],
        summary=row[8],
        content_text=row[9],
        authors=[str(x) for x in _loads(row[10], [])],
        tags=[str(x) for x in _loads(row[11], [])],
        published=row[12],
        first_seen=row[13],
        date_flag=row[14],
        translations=translations,
        analysis=analysis,
        frames=frames,
        story=story,
    )


def _story_of(db: sqlite_utils.Database, article_id: int, tables: frozenset[str]) -> dict[str, Any] | None:
    if not {"story_articles", "stories"} <= tables:
        return None
    row = db.execute("SELECT story FROM story_articles WHERE article = ?", [article_id]).fetchone()
    if row is None:
        return None
    story_id = row[0]
    from monitor.analysis.stories import story_titles

    titles = story_titles(db, [story_id]).get(story_id, {})
    s = db.execute("SELECT id, label_en, label_es, first_seen, last_seen, size FROM stories WHERE id = ?", [story_id]).fetchone()
    has_tr = "article_translations" in tables
    members = db.execute(
        f"""SELECT a.id, a.outlet, coalesce(o.name, a.outlet), a.country, a.language, a.title, a.published,
                   {"(SELECT t.title FROM article_translations t WHERE t.article = a.id AND t.language != a.language ORDER BY t.id LIMIT 1)" if has_tr else "NULL"}
            FROM story_articles sa JOIN articles a ON a.id = sa.article LEFT JOIN outlets o ON o.id = a.outlet
            WHERE sa.story = ? ORDER BY a.published, a.id""",
        [story_id],
    ).fetchall()
    return {
        "id": story_id,
        "label_en": s[1] if s else "",
        "label_es": s[2] if s else "",
        "title_en": titles.get("en"),  # StoryTitle: the story's headline title for an English reader (or None)
        "title_es": titles.get("es"),
        "first_seen": s[3] if s else None,
        "last_seen": s[4] if s else None,
        "size": len(members),
        "articles": [
            {
                "id": m[0],
                "outlet": m[1],
                "outlet_name": m[2],
                "country": m[3],
                "language": m[4],
                "title": m[5],
                "published": m[6],
                "title_translated": m[7],
                "this": m[0] == article_id,
            }
            for m in members
        ],
    }


__all__ = [
    "MARK_END",
    "MARK_START",
    "QUERY_TRANSLATION_BUDGET_S",
    "ArticleDetail",
    "Hit",
    "QueryError",
    "SearchResult",
    "SearchTimeout",
    "get_article",
    "plan_query",
    "reader_language",
    "search",
    "snippet_html",
    "snippet_segments",
    "snippet_text",
]
