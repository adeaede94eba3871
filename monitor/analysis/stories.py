"""Stories for display: the read side of `monitor cluster`, used by the digest, the web page and the CLI.

`list_stories(db, start, end)` returns the stories that have articles published in [start, end),
ranked by how much coverage they have across both countries (stories both presses covered first,
then by articles and outlets in the range); `get_story(db, id)` returns one story with all its
articles. Merged stories (stories.merged_into set) are never shown: their articles belong to the
story they merged into. Every field is plain data, JSON-able with `monitor.store.db.to_jsonable`.

Each story is titled by a real headline in English and in Spanish (`title_en`, `title_es`, see
monitor/analysis/titles.py), computed here at read time from the articles listed, their stored
embeddings (the model most of them have), keywords and translations; the keyword labels stay as a
secondary line.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import sqlite_utils

from monitor.analysis.textnorm import is_stopword, sentences, tokens
from monitor.analysis.titles import StoryTitle, TitleArticle, story_title
from monitor.embedding.base import from_blob
from monitor.store.db import has_table, iso, parse_iso


@dataclass
class StoryArticle:
    """One article of a story, with what a reader needs to show it in either language."""

    id: int  # articles.id
    outlet: str  # outlet id (slug)
    outlet_name: str  # the outlet's display name
    country: str  # the outlet's country: US | MX
    language: str  # the article's own language: en | es
    url: str | None  # canonical URL (None when the feed gave no http(s) link)
    title: str  # headline in the article's own language
    title_translated: str | None  # headline in the other language (en<->es), None when not translated yet
    translated_language: str | None  # language of title_translated
    title_en: str  # headline in English: the original for English articles, else the translation or the original
    title_es: str  # headline in Spanish: the original for Spanish articles, else the translation or the original
    published: str  # UTC ISO-8601
    top_frame: str | None  # the article's top frame id, or None
    relevance: float  # the article's relevance score
    translation_rough: bool = False  # title_translated comes from a word-for-word engine (show it marked)
    keywords: list[str] = field(default_factory=list, repr=False)  # the analysis' keywords (English pivot forms)


@dataclass
class StoryView:
    """A story with its articles, grouped per country.

    Counts (size, size_by_country, outlets) are over the articles listed, i.e. those published in the
    requested range for `list_stories`, or all of them for `get_story`; `total_size` is the whole story.
    """

    id: int  # stories.id, stable across runs
    label_en: str  # top keywords, English
    label_es: str  # top keywords, Spanish
    size: int  # articles listed
    total_size: int  # all articles of the story, whatever their date
    size_by_country: dict[str, int]  # {"US": 3, "MX": 2} over the articles listed
    outlets: list[str]  # outlet ids of the articles listed, most articles first
    countries: list[str]  # countries with articles listed, sorted
    first_seen: str | None  # earliest published of the whole story (UTC ISO)
    last_seen: str | None  # latest published of the whole story (UTC ISO)
    first_seen_by_country: dict[str, str]  # {"US": iso, "MX": iso} over the whole story
    frames_by_country: dict[str, dict[str, float]]  # {country: {frame id: share of that country's articles}}
    articles_by_country: dict[str, list[StoryArticle]] = field(default_factory=dict)  # newest first per country
    title_en: StoryTitle | None = None  # the central headline for an English reader (None: no headline at all)
    title_es: StoryTitle | None = None  # ... for a Spanish reader

    @property
    def both_countries(self) -> bool:
        return len(self.countries) > 1

    def title(self, language: str) -> StoryTitle | None:
        """The title for a reader of `language` (en | es)."""
        return self.title_es if language == "es" else self.title_en


def _translations(db: sqlite_utils.Database, ids: list[int]) -> dict[tuple[int, str], tuple[str, bool]]:
    """{(article, language): (translated title, rough)} for the given articles."""
    if not ids or not has_table(db, "article_translations"):  # read-only open of a pre-002 database: see below
        return {}
    out: dict[tuple[int, str], tuple[str, bool]] = {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        marks = ",".join("?" * len(chunk))
        for art, lang, title, rough in db.execute(
            f"SELECT article, language, title, rough FROM article_translations WHERE article IN ({marks})", chunk
        ).fetchall():
            if title:
                out[(int(art), str(lang))] = (str(title), bool(rough))
    return out


_ARTICLE_SQL = """
SELECT a.id, a.outlet, COALESCE(o.name, a.outlet), a.country, a.language, a.url, a.title, a.published,
       an.top_frame, COALESCE(an.relevance, 0), sa.story, an.keywords
FROM story_articles sa
JOIN articles a ON a.id = sa.article
LEFT JOIN outlets o ON o.id = a.outlet
LEFT JOIN analyses an ON an.article = a.id
"""


def _articles(db: sqlite_utils.Database, where: str, params: list[Any]) -> dict[int, list[StoryArticle]]:
    rows = db.execute(_ARTICLE_SQL + " WHERE " + where + " ORDER BY a.published DESC, a.id", params).fetchall()
    trans = _translations(db, [int(r[0]) for r in rows])
    out: dict[int, list[StoryArticle]] = {}
    for r in rows:
        aid, lang, title = int(r[0]), str(r[4]), str(r[6])
        other = "es" if lang == "en" else "en"
        translated, rough = trans.get((aid, other), (None, False))
        out.setdefault(int(r[10]), []).append(
            StoryArticle(
                id=aid,
                outlet=str(r[1]),
                outlet_name=str(r[2]),
                country=str(r[3]),
                language=lang,
                url=r[5],
                title=title,
                title_translated=translated,
                translated_language=other if translated else None,
                title_en=title if lang == "en" else trans.get((aid, "en"), (title, False))[0],
                title_es=title if lang == "es" else trans.get((aid, "es"), (title, False))[0],
                published=str(r[7]),
                top_frame=r[8],
                relevance=float(r[9]),
                translation_rough=rough,
                keywords=_keywords(r[11]),
            )
        )
    return out


def _keywords(raw: Any) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except (TypeError, ValueError):
        return []
    return [str(k).lower() for k in value if isinstance(k, str) and k.strip()] if isinstance(value, list) else []


def _vectors(db: sqlite_utils.Database, ids: list[int]) -> dict[int, dict[str, np.ndarray]]:
    """{article: {model: vector}} of the stored embeddings of the given articles."""
    if not ids or not has_table(db, "article_embeddings"):  # read-only open of a pre-008 database
        return {}
    out: dict[int, dict[str, np.ndarray]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for art, model, blob in db.execute(
            f"SELECT article_id, model, vector FROM article_embeddings WHERE article_id IN ({marks})", chunk
        ).fetchall():
            out.setdefault(int(art), {})[str(model)] = from_blob(blob)
    return out


Lede = tuple[str, dict[str, tuple[str, bool]]]  # (first sentence, {language: (translated sentence, rough)})


def _first_sentence(text: str | None) -> str:
    found = sentences(" ".join((text or "").split()))
    return found[0] if found else ""


def _ledes(db: sqlite_utils.Database, arts: list[StoryArticle]) -> dict[int, Lede]:
    """The first lede sentence (and its translations) of the articles without a headline: they title
    a story, or a side of it, that has no headline at all (labelled corpora often carry only ledes)."""
    ids = [a.id for a in arts if not a.title.strip()]
    out: dict[int, Lede] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for aid, summary in db.execute(f"SELECT id, summary FROM articles WHERE id IN ({marks})", chunk).fetchall():
            out[int(aid)] = (_first_sentence(summary), {})
        if has_table(db, "article_translations"):
            for aid, lang, summary, rough in db.execute(
                f"SELECT article, language, summary, rough FROM article_translations WHERE article IN ({marks})", chunk
            ).fetchall():
                if (sentence := _first_sentence(summary)) and int(aid) in out:
                    out[int(aid)][1][str(lang)] = (sentence, bool(rough))
    return out


def _title_articles(
    arts: list[StoryArticle], vectors: dict[int, dict[str, np.ndarray]], ledes: dict[int, Lede]
) -> list[TitleArticle]:
    """The story's articles as titles.py takes them, with the vectors of the model most of them have."""
    models = Counter(m for a in arts for m in vectors.get(a.id, {}))
    model = min(models, key=lambda m: (-models[m], m)) if models else None
    out: list[TitleArticle] = []
    for a in arts:
        translations: dict[str, tuple[str, bool]] = {}
        if a.title_translated and a.translated_language:
            translations[a.translated_language] = (a.title_translated, a.translation_rough)
        # keywords when analysed; otherwise the English headline's word stems, so the fallback still compares
        terms = a.keywords or [t.stem for t in tokens(a.title_en, "en") if not is_stopword(t.folded, "en")]
        out.append(
            TitleArticle(
                id=a.id, country=a.country, language=a.language, title=a.title, published=a.published,
                outlet=a.outlet_name, url=a.url, translations=translations,
                vector=vectors.get(a.id, {}).get(model) if model else None, terms=frozenset(terms),
                lede=ledes.get(a.id, ("", {}))[0], lede_translations=ledes.get(a.id, ("", {}))[1],
            )
        )
    return out


def _view(
    row: tuple[Any, ...],
    arts: list[StoryArticle],
    summary: _Summary,
    vectors: dict[int, dict[str, np.ndarray]],
    ledes: dict[int, Lede],
) -> StoryView:
    (sid, label_en, label_es, first_seen, last_seen, size) = row
    by_country: dict[str, list[StoryArticle]] = {}
    outlet_counts: dict[str, int] = {}
    titled = _title_articles(arts, vectors, ledes)
    for a in arts:
        by_country.setdefault(a.country, []).append(a)
        outlet_counts[a.outlet] = outlet_counts.get(a.outlet, 0) + 1
    return StoryView(
        id=int(sid),
        label_en=label_en or "",
        label_es=label_es or "",
        size=len(arts),
        total_size=int(size or 0),
        size_by_country={c: len(v) for c, v in sorted(by_country.items())},
        outlets=sorted(outlet_counts, key=lambda o: (-outlet_counts[o], o)),
        countries=sorted(by_country),
        first_seen=first_seen,
        last_seen=last_seen,
        first_seen_by_country=summary.first_seen_by_country.get(int(sid), {}),
        frames_by_country=summary.frames_by_country.get(int(sid), {}),
        articles_by_country=dict(sorted(by_country.items())),
        title_en=story_title(titled, "en"),
        title_es=story_title(titled, "es"),
    )


@dataclass
class _Summary:
    """The per-country rows of some stories (story_countries, story_frames), keyed by story id."""

    first_seen_by_country: dict[int, dict[str, str]] = field(default_factory=dict)
    frames_by_country: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)


def _summaries(db: sqlite_utils.Database, ids: list[int]) -> _Summary:
    out = _Summary()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for story, country, first in db.execute(
            f"SELECT story, country, first_seen FROM story_countries WHERE story IN ({marks}) ORDER BY story, country",
            chunk,
        ).fetchall():
            out.first_seen_by_country.setdefault(int(story), {})[str(country)] = str(first)
        for story, country, frame, share in db.execute(
            f"SELECT story, country, frame, share FROM story_frames WHERE story IN ({marks})"
            " ORDER BY story, country, share DESC, frame",
            chunk,
        ).fetchall():
            out.frames_by_country.setdefault(int(story), {}).setdefault(str(country), {})[str(frame)] = float(share)
    return out


_STORY_COLS = "id, label_en, label_es, first_seen, last_seen, size"


def coverage_rank(view: StoryView) -> tuple[int, int, int, int, float]:
    """Sort key, best first: covered by more countries, then more articles in the smaller country,
    more articles, more outlets, most recent."""
    smallest = min(view.size_by_country.values()) if len(view.size_by_country) > 1 else 0
    newest = -parse_iso(view.last_seen).timestamp() if view.last_seen else 0.0
    return (-len(view.countries), -smallest, -view.size, -len(view.outlets), newest)


def list_stories(db: sqlite_utils.Database, start: datetime, end: datetime, limit: int | None = None) -> list[StoryView]:
    """Stories with articles published in [start, end), ranked by coverage across both countries."""
    # The web app reads with open_db(readonly=True), which cannot migrate: `monitor serve` migrates
    # first, but create_app() used on its own may read a database from before db/003 (no stories).
    if not has_table(db, "stories"):
        return []
    arts = _articles(db, "a.published >= ? AND a.published < ?", [iso(start), iso(end)])
    if not arts:
        return []
    ids = sorted(arts)
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        rows += db.execute(
            f"SELECT {_STORY_COLS} FROM stories WHERE merged_into IS NULL AND id IN ({marks})", chunk
        ).fetchall()
    summary = _summaries(db, [int(r[0]) for r in rows])
    listed = [a for r in rows for a in arts[int(r[0])]]
    vectors, ledes = _vectors(db, [a.id for a in listed]), _ledes(db, listed)
    views = [_view(r, arts[int(r[0])], summary, vectors, ledes) for r in rows]
    views.sort(key=lambda v: (coverage_rank(v), v.id))
    return views[:limit] if limit is not None else views


def get_story(db: sqlite_utils.Database, story_id: int) -> StoryView | None:
    """One story with all its articles; follows merges (a merged id returns the story it merged into)."""
    if not has_table(db, "stories"):  # a read-only open of a pre-003 database: see list_stories
        return None
    seen: set[int] = set()
    sid = story_id
    while True:
        row = db.execute(f"SELECT {_STORY_COLS}, merged_into FROM stories WHERE id = ?", [sid]).fetchone()
        if row is None:
            return None
        if row[-1] is None or sid in seen:
            break
        seen.add(sid)
        sid = int(row[-1])
    arts = _articles(db, "sa.story = ?", [sid]).get(sid, [])
    return _view(tuple(row[:-1]), arts, _summaries(db, [sid]), _vectors(db, [a.id for a in arts]), _ledes(db, arts))


def story_titles(
    db: sqlite_utils.Database, story_ids: list[int], languages: tuple[str, ...] = ("en", "es")
) -> dict[int, dict[str, StoryTitle | None]]:
    """{story id: {language: title}} for these stories, titled as `get_story` titles them (all their
    articles), read together: one articles query per 500 stories, not one per story (search results
    title the stories of all their hits at once). A story with no articles is left out."""
    ids = sorted({int(i) for i in story_ids})
    if not ids or not has_table(db, "stories"):
        return {}
    arts: dict[int, list[StoryArticle]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        arts.update(_articles(db, f"sa.story IN ({','.join('?' * len(chunk))})", chunk))
    listed = [a for members in arts.values() for a in members]
    vectors, ledes = _vectors(db, [a.id for a in listed]), _ledes(db, listed)
    out: dict[int, dict[str, StoryTitle | None]] = {}
    for sid, members in arts.items():
        titled = _title_articles(members, vectors, ledes)
        out[sid] = {lang: story_title(titled, lang) for lang in languages}
    return out
