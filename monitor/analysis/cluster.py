"""Stage `cluster`: relevant articles of both countries and languages about one event become a story.

Each relevant article is read as (monitor.analysis.linkage does the clustering, pure):
- its sentence embedding (the `embed` stage's vector of its ORIGINAL headline + lede, no
  translation needed), of the model `embedding.engine` chose, with the pair weights fitted for that
  model (linkage.weights_for); without one (engine none, or not yet embedded), the TF-IDF keyword
  vector of its texts (original + translation) stands in, with weights fitted for keywords alone;
- its names and figures (monitor.analysis.entities: "Caro Quintero", "CJNG", "29", "10 mil" =
  "10,000"), its debate actors (from `monitor analyze`) and bilingual concepts (monitor.analysis.concepts),
  all read from the original text;
- its publication time; an article whose feed gave no date (date_source 'fetched') has an unknown
  time: it is compared with the stories of the last `cluster.undated_days` days, without time evidence.
New articles join the story they are most alike on average (average linkage over the story's members
in their `cluster.window_h` window, mean pair score >= `cluster.join`), else start one; stories a new
article found close merge when their average linkage reaches `cluster.merge` (the older id stays).

Incremental and stable: stored assignments never move (except by a merge), story ids are never
reused, a re-run with nothing new does no work, and everything a run decides is written in one
transaction at its end (a killed run leaves the stories as they were; the next run redoes it).
Each touched story gets its labels (top keywords in English and Spanish), first-seen per country,
outlets, frame mix per country and actors (the db/010 tables).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import numpy as np
import sqlite_utils

from monitor.analysis import concepts, entities, linkage
from monitor.analysis.frame_mix import frame_shares
from monitor.analysis.textnorm import is_stopword, tokens
from monitor.config.settings import Settings
from monitor.embedding import from_blob
from monitor.models import Progress, StageReport, track
from monitor.store.db import iso, parse_iso, write_transaction

ACTOR_REPEAT = 2  # keyword vector: an actor counts like a word said twice
TITLE_REPEAT = 3  # keyword vector: headline words count three times, they name the event
CONCEPT_REPEAT = 3  # keyword vector: a concept of the original counts like a headline word
LABEL_TERMS = 4
MAX_CONTENT_CHARS = 1500
ENTITY_LEDE_CHARS = 600  # names and figures are read from the headline and this much of the lede


@dataclass
class ClusterReport(StageReport):
    stage: ClassVar[str] = "cluster"
    new_articles: int = 0
    joined: int = 0  # joined an existing story
    new_stories: int = 0
    merged: int = 0
    removed: int = 0  # articles no longer relevant, taken out of their story
    stories_updated: int = 0
    with_vectors: int = 0  # new articles compared by their embedding (the rest by keywords)

    @property
    def changed(self) -> int:
        return self.new_articles + self.removed

    def describe(self) -> str:
        return (
            f"{self.new_articles} new articles ({self.with_vectors} with embeddings), {self.joined} joined stories, "
            f"{self.new_stories} new stories, {self.merged} merged, {self.removed} removed"
        )


def doc_terms(
    text_en: str,
    language: str,
    actors: Iterable[str],
    title: str = "",
    title_es: str = "",
    text_es: str = "",
    original: str | None = None,
) -> list[str]:
    """Keyword-vector terms of one article (used when it has no embedding): stems of its English pivot
    text and, when there is one, of its Spanish reading (prefixed "es:"; titles count more), actors
    ("@id"), numbers ("#6") and concepts ("~boat") read from the reading in the article's own language
    (`original`, default `language`)."""
    out: list[str] = []
    original = original or language
    readings = [(title, text_en, language, "")]
    if title_es or text_es:
        readings.append((title_es, text_es, "es", "es:"))
    numbers: set[str] = set()
    for head, body, lang, prefix in readings:
        for part, repeat in ((head, TITLE_REPEAT), (body, 1)):
            for n in concepts.numbers(part, lang):
                if n not in numbers:
                    numbers.add(n)
                    out.extend(["#" + n] * repeat)
            for t in tokens(part, lang):
                if len(t.folded) >= 3 and not t.folded.isdigit() and not is_stopword(t.folded, lang):
                    out.extend([prefix + t.stem] * repeat)
            if lang == original:
                for c in concepts.concepts(part, lang):
                    out.extend(["~" + c] * (repeat * CONCEPT_REPEAT))
    for a in actors:
        out.extend(["@" + a] * ACTOR_REPEAT)
    return out


# --- reading and writing ------------------------------------------------------------------------


@dataclass
class _Row:
    article: int
    time: float  # published, POSIX seconds
    undated: bool  # the feed gave no date: `time` is when it was first seen
    language: str
    title: str  # the English pivot (the original, or its English translation)
    text: str
    actors: list[str]
    original_title: str = ""
    original_text: str = ""
    title_es: str = ""
    text_es: str = ""
    story: int | None = None
    order: str = ""  # the article's URL (else guid): ties in time are taken in this order, not by row id
    pivot_language: str = "en"
    vector: np.ndarray | None = field(default=None, repr=False)

    def doc(self) -> linkage.Doc:
        ents = entities.read(self.original_title, self.original_text[:ENTITY_LEDE_CHARS], self.language)
        original = f"{self.original_title}. {self.original_text[:ENTITY_LEDE_CHARS]}"
        return linkage.Doc(
            article=self.article,
            time=None if self.undated else self.time,
            vector=self.vector,
            features={
                "names": ents.names,
                "numbers": ents.numbers,
                "actors": frozenset(self.actors),
                "concepts": frozenset(concepts.concepts(original, self.language)),
            },
            keywords=doc_terms(
                self.text, self.pivot_language, self.actors, self.title, self.title_es, self.text_es, original=self.language
            ),
            language=self.language,
            story=self.story,
            order=self.order,
        )


def vector_model(db: sqlite_utils.Database, settings: Settings, articles: list[int]) -> str | None:
    """The embedding model whose vectors clustering reads: none with `embedding.engine = none`, else
    the model most of these articles have a vector of (the engine's own model once it has run)."""
    if settings.embedding.engine == "none" or not articles:
        return None
    counts: Counter[str] = Counter()
    for start in range(0, len(articles), 500):
        chunk = articles[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for model, n in db.execute(
            f"SELECT model, count(*) FROM article_embeddings WHERE article_id IN ({marks}) GROUP BY model", chunk
        ).fetchall():
            counts[str(model)] += int(n)
    wanted = settings.embedding.engine
    preferred = [m for m in counts if wanted == "auto" or f"({wanted}" in m or m.startswith(wanted)]
    if not preferred:
        return None
    return max(preferred, key=lambda m: (counts[m], m))


def _load_rows(db: sqlite_utils.Database, where: str, params: list[object]) -> list[_Row]:
    t_en = (
        "(SELECT title FROM article_translations WHERE article = a.id AND language = 'en'),"
        "(SELECT summary || ' ' || COALESCE(content, '') FROM article_translations WHERE article = a.id AND language = 'en'),"
        "(SELECT title FROM article_translations WHERE article = a.id AND language = 'es'),"
        "(SELECT summary || ' ' || COALESCE(content, '') FROM article_translations WHERE article = a.id AND language = 'es')"
    )
    sql = f"""SELECT a.id, a.published, a.language, a.title, a.summary || ' ' || COALESCE(a.content_text, ''), an.actors,
                     sa.story, a.date_source, {t_en}, COALESCE(a.url, a.guid, '')
              FROM articles a JOIN analyses an ON an.article = a.id
              LEFT JOIN story_articles sa ON sa.article = a.id
              WHERE {where}"""
    out = []
    for r in db.execute(sql, params).fetchall():
        lang = str(r[2])
        original_text = str(r[4] or "")[:MAX_CONTENT_CHARS]
        row = _Row(
            article=int(r[0]),
            time=parse_iso(str(r[1])).timestamp(),
            undated=r[7] == "fetched",
            language=lang,
            title=str(r[3]),
            text=original_text,
            actors=json.loads(r[5] or "[]"),
            original_title=str(r[3]),
            original_text=original_text,
            story=int(r[6]) if r[6] is not None else None,
            order=str(r[12]),
        )
        if lang != "en" and r[8]:
            row.title, row.text = str(r[8]), str(r[9] or "")[:MAX_CONTENT_CHARS]
            row.pivot_language = "en"
        else:
            row.pivot_language = lang
        if lang == "es":
            row.title_es, row.text_es = str(r[3]), original_text
        elif r[10]:
            row.title_es, row.text_es = str(r[10]), str(r[11] or "")[:MAX_CONTENT_CHARS]
        out.append(row)
    return out


def _attach_vectors(db: sqlite_utils.Database, rows: list[_Row], model: str | None) -> None:
    if model is None:
        return
    by_id = {r.article: r for r in rows}
    ids = sorted(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for art, blob in db.execute(
            f"SELECT article_id, vector FROM article_embeddings WHERE model = ? AND article_id IN ({marks})", [model, *chunk]
        ).fetchall():
            by_id[int(art)].vector = from_blob(blob)


def _label(rows: list[_Row], language: str) -> str:
    """Top keywords of a story's articles in one language: frequent in many of its articles."""
    df: Counter[str] = Counter()
    surface: dict[str, Counter[str]] = {}
    for r in rows:
        if language == "en":
            title, text, lang = r.title, r.text, r.pivot_language
        else:
            title, text, lang = r.title_es, r.text_es, "es"
        if not title and not text:
            continue
        seen: set[str] = set()
        for part, w in ((title, 3), (text[:600], 1)):
            for t in tokens(part, lang):
                if len(t.folded) < 3 or t.folded.isdigit() or is_stopword(t.folded, lang):
                    continue
                df[t.stem] += w if t.stem not in seen else 0
                seen.add(t.stem)
                surface.setdefault(t.stem, Counter())[t.raw] += 1
    words = []
    for s, _ in df.most_common(LABEL_TERMS * 2):
        forms = surface[s]
        best = max(forms.items(), key=lambda kv: (kv[1], kv[0][:1].isupper()))[0]
        if best.lower() not in {w.lower() for w in words}:
            words.append(best if best[:1].isupper() and not best.isupper() else best.lower() if not best.isupper() else best)
        if len(words) == LABEL_TERMS:
            break
    return " · ".join(words)


STORY_TABLES = ("story_countries", "story_outlets", "story_frames", "story_actors")  # db/010: a story's summary


def clear_story(db: sqlite_utils.Database, story: int) -> None:
    """Remove a story's summary rows (a merged or emptied story has none)."""
    for table in STORY_TABLES:
        db.execute(f"DELETE FROM {table} WHERE story = ?", [story])


def refresh_story(db: sqlite_utils.Database, story: int, now: str) -> None:
    """Recompute a story's summary (dates, size, and its per-country, outlet, frame and actor rows)
    from its articles (call inside a write transaction)."""
    rows = db.execute(
        """SELECT a.id, a.country, a.outlet, a.published, an.top_frame, an.actors
           FROM story_articles sa JOIN articles a ON a.id = sa.article LEFT JOIN analyses an ON an.article = a.id
           WHERE sa.story = ? ORDER BY a.published""",
        [story],
    ).fetchall()
    clear_story(db, story)
    if not rows:
        db.execute("UPDATE stories SET size = 0, updated_at = ? WHERE id = ?", [now, story])
        return
    first_by_country: dict[str, str] = {}
    by_country: Counter[str] = Counter()
    outlets: Counter[str] = Counter()
    frames: dict[str, Counter[str]] = {}
    actors: Counter[str] = Counter()
    for _aid, country, outlet, published, top_frame, actor_json in rows:
        first_by_country.setdefault(country, published)
        by_country[country] += 1
        outlets[outlet] += 1
        if top_frame:
            frames.setdefault(country, Counter())[top_frame] += 1
        actors.update(set(json.loads(actor_json or "[]")))
    db.execute(
        "UPDATE stories SET first_seen = ?, last_seen = ?, size = ?, updated_at = ? WHERE id = ?",
        [rows[0][3], rows[-1][3], len(rows), now, story],
    )
    db.conn.executemany(
        "INSERT INTO story_countries (story, country, first_seen, articles) VALUES (?, ?, ?, ?)",
        [(story, c, first, by_country[c]) for c, first in sorted(first_by_country.items())],
    )
    db.conn.executemany(
        "INSERT INTO story_outlets (story, outlet, articles) VALUES (?, ?, ?)",
        [(story, o, n) for o, n in sorted(outlets.items())],
    )
    db.conn.executemany(
        "INSERT INTO story_frames (story, country, frame, share) VALUES (?, ?, ?, ?)",
        [
            (story, c, f, round(share, 3))
            for c, cnt in sorted(frames.items())
            for f, _, share in frame_shares(cnt)
        ],
    )
    db.conn.executemany(
        "INSERT INTO story_actors (story, actor, articles) VALUES (?, ?, ?)",
        [(story, a, n) for a, n in sorted(actors.items())],
    )


def run(
    db: sqlite_utils.Database, settings: Settings, *, now: datetime, progress: Progress | None = None
) -> ClusterReport:
    """Place every relevant article not yet in a story; update the stories touched (stamped `now`)."""
    report = ClusterReport()
    stamp = iso(now)
    cfg = settings.cluster
    window_s = cfg.window_h * 3600.0
    stale = db.execute(
        """SELECT sa.article, sa.story FROM story_articles sa LEFT JOIN analyses an ON an.article = sa.article
           WHERE an.article IS NULL OR an.relevant = 0"""
    ).fetchall()
    new_rows = _load_rows(db, "an.relevant = 1 AND sa.article IS NULL ORDER BY a.published, a.id", [])
    if not new_rows and not stale:
        return report
    touched: set[int] = {int(s) for _, s in stale}
    report.removed = len(stale)
    existing: list[_Row] = []
    if new_rows:
        dated = [r.time for r in new_rows if not r.undated]
        spans: list[tuple[str, str]] = []
        if dated:
            spans.append((iso_from_ts(min(dated) - window_s), iso_from_ts(max(dated) + window_s)))
        if any(r.undated for r in new_rows):  # an undated article may belong to any recent story
            spans.append((iso(now - timedelta(days=cfg.undated_days)), iso(now + timedelta(days=1))))
        seen: set[int] = set()
        for lo, hi in spans:
            for row in _load_rows(
                db,
                "an.relevant = 1 AND sa.article IS NOT NULL AND a.published >= ? AND a.published <= ?"
                " AND sa.story IN (SELECT id FROM stories WHERE merged_into IS NULL)",
                [lo, hi],
            ):
                if row.article not in seen:
                    seen.add(row.article)
                    existing.append(row)
    rows = new_rows + existing
    model = vector_model(db, settings, [r.article for r in new_rows])
    _attach_vectors(db, rows, model)
    rows_by_article = {r.article: r for r in rows}
    report.new_articles = len(new_rows)
    report.with_vectors = sum(1 for r in new_rows if r.vector is not None)
    # one BLAS thread: the products are small (a window at a time), and threads made them 3x slower
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    with track(progress, "cluster", len(new_rows)) as advance, threadpool_limits(1, "blas"):
        result = linkage.assign(
            [r.doc() for r in rows], linkage.weights_for(model), window_s, cfg.join, cfg.merge, lambda n: advance(n)
        )
    with write_transaction(db):
        for aid, _story in stale:
            db.execute("DELETE FROM story_articles WHERE article = ?", [aid])
        real: dict[int, int] = {}
        for temp in result.new_stories:
            cur = db.execute("INSERT INTO stories (updated_at) VALUES (?)", [stamp])
            real[temp] = int(cur.lastrowid or 0)
        report.new_stories = len(result.new_stories)

        def resolve(s: int) -> int:
            while s in result.merges:
                s = result.merges[s]
            return real.get(s, s)

        for aid, story in result.story_of.items():
            target = resolve(story)
            if story > 0:
                report.joined += 1
            db.execute("INSERT INTO story_articles (story, article, joined_at) VALUES (?, ?, ?)", [target, aid, stamp])
            touched.add(target)
        for src in result.merges:
            src_id, dst_id = real.get(src, src), resolve(src)
            if src_id == dst_id:
                continue
            db.execute("UPDATE story_articles SET story = ? WHERE story = ?", [dst_id, src_id])
            db.execute("UPDATE stories SET merged_into = ?, size = 0, updated_at = ? WHERE id = ?", [dst_id, stamp, src_id])
            clear_story(db, src_id)
            db.execute("UPDATE stories SET merged_into = ? WHERE merged_into = ?", [dst_id, src_id])
            touched.discard(src_id)
            touched.add(dst_id)
            report.merged += 1
        report.new_stories -= sum(1 for s in result.merges if s < 0)
        for story in sorted(touched):
            refresh_story(db, story, stamp)
            members = [int(r[0]) for r in db.execute("SELECT article FROM story_articles WHERE story = ?", [story]).fetchall()]
            label_rows = [rows_by_article[m] for m in members if m in rows_by_article]
            if label_rows:
                db.execute(
                    "UPDATE stories SET label_en = ?, label_es = ? WHERE id = ?",
                    [_label(label_rows, "en"), _label(label_rows, "es") or _label(label_rows, "en"), story],
                )
        report.stories_updated = len(touched)
    return report


def iso_from_ts(ts: float) -> str:
    return iso(datetime.fromtimestamp(ts, UTC))
