"""Stage `cluster`: relevant articles of both countries and languages about one event become a story.

Each article is a TF-IDF keyword vector over its English pivot text (the original, or the English
translation; the original when there is none) and its Spanish reading, plus language-neutral
features read from the original text whatever the translation: the actors and places it mentions
(from `monitor analyze`), the numbers it cites (digits or words) and its concepts (monitor.analysis.concepts:
"lancha", "boat", "embarcación" are one concept). Articles are taken in time
order; a new article joins the story whose recent members (within settings.analysis.window_h of
it) it is most similar to, when that similarity reaches settings.analysis.similarity, else it
starts a story (streaming clustering as in Miranda et al. 2018). Work per article is bounded by the
window, so time grows linearly with the number of articles.

Incremental and stable: stored assignments never move (except by a merge), story ids are never
reused; when an article is close to two stories and their centroids converge
(settings.analysis.merge_similarity), the newer story merges into the older one (merged_into).
Two established stories (ESTABLISHED articles or more each) need ESTABLISHED_MARGIN more to merge,
so separate threads of one day's news that share actors and vocabulary do not chain.
Each touched story gets its labels (top keywords in English and Spanish), first-seen per country,
outlets, and frame mix per country.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

import numpy as np
import sqlite_utils
from scipy import sparse

from monitor.analysis import concepts
from monitor.analysis.compare import top_frame_shares
from monitor.analysis.textnorm import is_stopword, tokens
from monitor.config.settings import Settings
from monitor.models import Progress, StageReport, track
from monitor.store.db import iso, parse_iso, write_transaction

ACTOR_REPEAT = 2  # an actor counts like a word said twice
TITLE_REPEAT = 3  # headline words count three times: they name the event
CONCEPT_REPEAT = 3  # a concept of the original text counts like a headline word: it survives any translation
LABEL_TERMS = 4
MAX_CONTENT_CHARS = 1500
ESTABLISHED = 3  # a story of this many articles is established: merging two of them needs more
ESTABLISHED_MARGIN = 0.1  # extra centroid cosine two established stories need to merge


@dataclass
class Doc:
    """One article as the clusterer sees it."""

    article: int
    time: float  # published, POSIX seconds
    terms: list[str]  # stems of the pivot text + "@actor" + "#number" features
    story: int | None = None  # stored assignment (None: new article)


@dataclass
class Assignment:
    story_of: dict[int, int]  # article -> story (new articles; temporary story ids are negative)
    merges: dict[int, int]  # story -> story it merges into (the older one)
    new_stories: list[int]  # temporary ids of the stories started, in order


@dataclass
class ClusterReport(StageReport):
    stage: ClassVar[str] = "cluster"
    new_articles: int = 0
    joined: int = 0  # joined an existing story
    new_stories: int = 0
    merged: int = 0
    removed: int = 0  # articles no longer relevant, taken out of their story
    stories_updated: int = 0

    @property
    def changed(self) -> int:
        return self.new_articles + self.removed

    def describe(self) -> str:
        return (
            f"{self.new_articles} new articles, {self.joined} joined stories, {self.new_stories} new stories, "
            f"{self.merged} merged, {self.removed} removed"
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
    """Vector features of one article: stems of its English pivot text and, when there is one, of its
    Spanish reading (prefixed "es:"; titles count more), actors ("@id"), numbers ("#6", written-out
    numbers included) and concepts ("~boat") read from the reading in the article's own language
    (`original`, default `language`). Each article is read in both languages, one side original and
    one translated, so two articles in different languages are compared twice: original against
    translation, both ways; concepts and numbers compare the originals, whatever the translation."""
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


def vectorize(docs: list[Doc]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows (sublinear tf) over the docs' terms."""
    if not docs:
        return sparse.csr_matrix((0, 0))
    from sklearn.feature_extraction.text import TfidfVectorizer  # slow to import: only when clustering

    vec = TfidfVectorizer(analyzer=lambda terms: terms, sublinear_tf=True, norm="l2")
    matrix: sparse.csr_matrix = vec.fit_transform([d.terms or ["<empty>"] for d in docs]).tocsr()
    return matrix


class _Merges:
    """Union-find keeping the oldest (lowest, stored before temporary) story as the representative."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, s: int) -> int:
        while self.parent.get(s, s) != s:
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        keep, drop = sorted((ra, rb), key=_age_key)
        self.parent[drop] = keep


def _age_key(story: int) -> tuple[int, int]:
    # stored stories (positive ids) are older than new ones (negative temporary ids, -1 first)
    return (0, story) if story > 0 else (1, -story)


def assign(
    docs: list[Doc],
    window_s: float,
    similarity: float,
    merge_similarity: float,
    advance: Callable[[int], None] | None = None,
) -> Assignment:
    """Give every new doc (story None) a story: the best recent story over `similarity`, else a new one."""
    order = sorted(range(len(docs)), key=lambda i: (docs[i].time, docs[i].article))
    docs = [docs[i] for i in order]
    times = [d.time for d in docs]
    matrix = vectorize(docs)
    columns = matrix.tocsc()  # docs are in time order, so each column's row indices are sorted by time
    columns.sort_indices()
    story_arr = np.array([d.story if d.story is not None else 0 for d in docs], dtype=np.int64)
    members: dict[int, list[int]] = {}
    for i, d in enumerate(docs):
        if d.story is not None:
            members.setdefault(d.story, []).append(i)
    next_temp = -1
    result = Assignment({}, {}, [])
    candidates: set[tuple[int, int]] = set()
    for i, d in enumerate(docs):
        if d.story is not None:
            continue
        lo = bisect.bisect_left(times, d.time - window_s)
        hi = bisect.bisect_right(times, d.time + window_s)
        ranked: list[tuple[float, int]] = []
        if hi > lo:
            sims = _window_sims(matrix, columns, i, lo, hi)
            nz = np.nonzero((sims > 0) & (story_arr[lo:hi] != 0))[0]
            ranked = _story_scores(story_arr[lo:hi][nz], sims[nz])
        if ranked and ranked[0][0] >= similarity:
            story = ranked[0][1]
            if len(ranked) > 1 and ranked[1][0] >= similarity:
                candidates.add((story, ranked[1][1]))
        else:
            story = next_temp
            next_temp -= 1
            result.new_stories.append(story)
        story_arr[i] = story
        members.setdefault(story, []).append(i)
        result.story_of[d.article] = story
        if advance:
            advance(1)
    uf = _Merges()
    for a, b in sorted(candidates):
        ca, cb = _centroid(matrix, members[a]), _centroid(matrix, members[b])
        if float((ca @ cb.T).toarray()[0, 0]) >= merge_bar(len(members[a]), len(members[b]), merge_similarity):
            uf.union(a, b)
    _consolidate(matrix, members, times, {result.story_of[d.article] for d in docs if d.story is None}, window_s, merge_similarity, uf)
    for s in {*members}:
        root = uf.find(s)
        if root != s:
            result.merges[s] = root
    return result


def merge_bar(size_a: int, size_b: int, merge_similarity: float) -> float:
    """Centroid cosine two stories need to merge. A fragment (fewer than ESTABLISHED articles) joins
    at `merge_similarity`; two established stories, each grown on its own from several articles,
    are separate threads of one day's news unless their centroids are much closer (one merge there
    moves many articles, so it must not chain on a shared actor and the same vocabulary of strikes)."""
    if min(size_a, size_b) >= ESTABLISHED:
        return merge_similarity + ESTABLISHED_MARGIN
    return merge_similarity


def _consolidate(
    matrix: sparse.csr_matrix,
    members: dict[int, list[int]],
    times: list[float],
    touched: set[int],
    window_s: float,
    merge_similarity: float,
    uf: _Merges,
) -> None:
    """Merge fragments of one event: a story touched in this run and a story overlapping it in time
    (within the window) whose centroids reach `merge_similarity`. Work is bounded by the window."""
    if not touched:
        return
    ids = sorted(members, key=lambda s: (times[members[s][0]], _age_key(s)))
    starts = [times[members[s][0]] for s in ids]
    ends = [times[members[s][-1]] for s in ids]
    longest = max(e - b for b, e in zip(starts, ends, strict=True))
    # all centroids at once: (stories x docs membership) @ (docs x terms), rows L2-normalised
    rows = [r for s in ids for r in members[s]]
    cols = [k for k, s in enumerate(ids) for _ in members[s]]
    membership = sparse.csr_matrix((np.ones(len(rows)), (cols, rows)), shape=(len(ids), matrix.shape[0]))
    centroids = sparse.csr_matrix(membership @ matrix)
    norms = np.sqrt(np.asarray(centroids.multiply(centroids).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    centroids = sparse.csr_matrix(sparse.diags(1.0 / norms) @ centroids)
    position = {s: k for k, s in enumerate(ids)}
    for s in sorted(touched, key=_age_key):
        k = position[s]
        lo = bisect.bisect_left(starts, starts[k] - window_s - longest)
        hi = bisect.bisect_right(starts, ends[k] + window_s)
        sims = (centroids[lo:hi] @ centroids[k].T).toarray().ravel()
        for j in np.nonzero(sims >= merge_similarity)[0]:
            other = lo + int(j)
            bar = merge_bar(len(members[s]), len(members[ids[other]]), merge_similarity)
            if other != k and ends[other] >= starts[k] - window_s and sims[j] >= bar:
                uf.union(s, ids[other])


def _window_sims(matrix: sparse.csr_matrix, columns: sparse.csc_matrix, i: int, lo: int, hi: int) -> np.ndarray:
    """Cosine of doc i with docs lo..hi-1: per term of doc i, only the window's slice of its column
    (found by binary search), so the cost is bounded by the window, not the corpus."""
    start, end = matrix.indptr[i], matrix.indptr[i + 1]
    rows_parts, weight_parts = [], []
    for term, value in zip(matrix.indices[start:end], matrix.data[start:end], strict=True):
        c0, c1 = columns.indptr[term], columns.indptr[term + 1]
        col_rows = columns.indices[c0:c1]
        a = c0 + int(np.searchsorted(col_rows, lo))
        b = c0 + int(np.searchsorted(col_rows, hi))
        if b > a:
            rows_parts.append(columns.indices[a:b])
            weight_parts.append(columns.data[a:b] * value)
    if not rows_parts:
        return np.zeros(hi - lo)
    return np.bincount(np.concatenate(rows_parts) - lo, weights=np.concatenate(weight_parts), minlength=hi - lo)


def _story_scores(stories: np.ndarray, sims: np.ndarray) -> list[tuple[float, int]]:
    """The two best (score, story) pairs, best first. A story's score is half its best link and half
    the mean of its best three links (robust to one off-topic member, no chaining on one word)."""
    if len(stories) == 0:
        return []
    order = np.lexsort((-sims, stories))
    st, sv = stories[order], sims[order]
    starts = np.flatnonzero(np.r_[True, st[1:] != st[:-1]])
    counts = np.diff(np.r_[starts, len(st)])
    group = np.repeat(np.arange(len(starts)), counts)
    keep = (np.arange(len(st)) - starts[group]) < 3
    top_sum = np.bincount(group[keep], weights=sv[keep], minlength=len(starts))
    top_n = np.bincount(group[keep], minlength=len(starts))
    score = 0.5 * sv[starts] + 0.5 * top_sum / top_n
    best = np.argsort(-score, kind="stable")[:2]
    return [(float(score[b]), int(st[starts[b]])) for b in best]


def _centroid(matrix: sparse.csr_matrix, rows: list[int]) -> sparse.csr_matrix:
    c = sparse.csr_matrix(matrix[rows].sum(axis=0))
    norm = float(np.sqrt(c.multiply(c).sum())) or 1.0
    return c / norm


# --- reading and writing ------------------------------------------------------------------------


@dataclass
class _Row:
    article: int
    time: float
    language: str
    title: str
    text: str
    actors: list[str]
    title_es: str = ""
    text_es: str = ""
    story: int | None = None
    pivot_language: str = "en"


def _load_rows(db: sqlite_utils.Database, where: str, params: list[object]) -> list[_Row]:
    t_en = (
        "(SELECT title FROM article_translations WHERE article = a.id AND language = 'en'),"
        "(SELECT summary || ' ' || COALESCE(content, '') FROM article_translations WHERE article = a.id AND language = 'en'),"
        "(SELECT title FROM article_translations WHERE article = a.id AND language = 'es'),"
        "(SELECT summary || ' ' || COALESCE(content, '') FROM article_translations WHERE article = a.id AND language = 'es')"
    )
    sql = f"""SELECT a.id, a.published, a.language, a.title, a.summary || ' ' || COALESCE(a.content_text, ''), an.actors,
                     sa.story, {t_en}
              FROM articles a JOIN analyses an ON an.article = a.id
              LEFT JOIN story_articles sa ON sa.article = a.id
              WHERE {where}"""
    out = []
    for r in db.execute(sql, params).fetchall():
        lang = str(r[2])
        row = _Row(
            article=int(r[0]),
            time=parse_iso(str(r[1])).timestamp(),
            language=lang,
            title=str(r[3]),
            text=str(r[4] or "")[:MAX_CONTENT_CHARS],
            actors=json.loads(r[5] or "[]"),
            story=int(r[6]) if r[6] is not None else None,
        )
        if lang != "en" and r[7]:
            row.title, row.text = str(r[7]), str(r[8] or "")[:MAX_CONTENT_CHARS]
            row.pivot_language = "en"
        else:
            row.pivot_language = lang
        if lang == "es":
            row.title_es, row.text_es = str(r[3]), str(r[4] or "")[:MAX_CONTENT_CHARS]
        elif r[9]:
            row.title_es, row.text_es = str(r[9]), str(r[10] or "")[:MAX_CONTENT_CHARS]
        out.append(row)
    return out


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
            for f, _, share in top_frame_shares(cnt)
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
    window_s = settings.analysis.window_h * 3600.0
    stale = db.execute(
        """SELECT sa.article, sa.story FROM story_articles sa LEFT JOIN analyses an ON an.article = sa.article
           WHERE an.article IS NULL OR an.relevant = 0"""
    ).fetchall()
    new_rows = _load_rows(db, "an.relevant = 1 AND sa.article IS NULL ORDER BY a.published, a.id", [])
    if not new_rows and not stale:
        return report
    touched: set[int] = {int(s) for _, s in stale}
    report.removed = len(stale)
    rows_by_article: dict[int, _Row] = {r.article: r for r in new_rows}
    existing: list[_Row] = []
    if new_rows:
        lo = iso_from_ts(min(r.time for r in new_rows) - window_s)
        hi = iso_from_ts(max(r.time for r in new_rows) + window_s)
        existing = _load_rows(
            db,
            "an.relevant = 1 AND sa.article IS NOT NULL AND a.published >= ? AND a.published <= ?"
            " AND sa.story IN (SELECT id FROM stories WHERE merged_into IS NULL)",
            [lo, hi],
        )
    rows_by_article.update({r.article: r for r in existing})
    docs = [
        Doc(
            r.article,
            r.time,
            doc_terms(r.text, r.pivot_language, r.actors, r.title, r.title_es, r.text_es, original=r.language),
            r.story,
        )
        for r in new_rows + existing
    ]
    report.new_articles = len(new_rows)
    with track(progress, "cluster", len(new_rows)) as advance:
        result = assign(
            docs, window_s, settings.analysis.similarity, settings.analysis.merge_similarity, lambda n: advance(n)
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
