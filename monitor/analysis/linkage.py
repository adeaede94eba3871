"""Story clustering, the pure part: how alike two articles are, and which story each new one joins.

The evidence that two articles report one event, combined into one pair score (a log-odds; a
weighted sum, `Weights`, fitted on the dev split of the real corpus by benchmarks/cluster_tune.py):
- the cosine of their sentence embeddings (multilingual: an English and a Spanish report of one
  event are close with no translation). e5 cosines are compressed into ~0.75-0.95, so the cosine
  enters calibrated, as (cos - centre); when either article has no vector, the keyword TF-IDF cosine
  of their texts stands in with its own centre and weight;
- the names they share (capitalised words and spans, `monitor.analysis.entities`), the debate
  file's actors, the figures ("29", "10,000" = "10 mil") and the bilingual concepts (boat = lancha):
  each an IDF-weighted cosine, so a shared "Sheinbaum" says little and a shared "Caro Quintero" much;
- time: a penalty per day apart beyond the first; articles further apart than the window are never
  compared. An article whose date is unknown (the feed gave none) is compared with every story,
  with a constant in place of the time evidence.

Linkage: articles are taken in time order (undated ones last); a new article joins the story whose
members in its window it is most alike ON AVERAGE (average linkage: the mean pair score over the
members, not the best one, so one bridging article cannot chain two threads of a day together),
when that mean reaches `join`; else it starts a story. Then stories that a new article found close
merge when the mean score over all their cross pairs reaches `merge` (the same average linkage,
so the merged story stays coherent); the older story keeps its id. A story's time is its dated
members' span: a dated article does not join, and a story does not merge with, a story whose dated
members are all out of the window, whatever its undated members say. Stored assignments never move
except by such a merge. Work per article is bounded by the window: time grows linearly.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

DAY_S = 86400.0
KINDS = ("names", "actors", "numbers", "concepts")  # entity-like features, each an IDF cosine


@dataclass(frozen=True)
class Weights:
    """The pair score: bias + embedding + entities + time (a log-odds that two articles report one event)."""

    bias: float = 0.19  # fitted 0.69; -0.5 so that cluster.join 1.5 / merge 1.0 act as the dev grid's best 2.0 / 1.5 for these weights
    embedding: float = 30.29  # per unit of hub-corrected cosine (CSLS: 2 cos - hub_a - hub_b)
    hub_k: int = 20  # an article's hub value: the mean cosine of its hub_k nearest neighbours ...
    hub_prior: float = 0.88  # ... shrunk towards this with the weight of hub_k neighbours (few articles loaded)
    cross_language: float = 2.98  # an English-Spanish pair: cross-lingual cosines run lower
    keywords: float = 16.3  # keyword TF-IDF cosine, used when an article has no vector ...
    keywords_centre: float = 0.2  # ... as keywords * (cosine - keywords_centre)
    keywords_cross: float = 1.5  # ... plus this for an English-Spanish pair
    names: float = 1.01
    actors: float = 0.36
    numbers: float = 2.25
    concepts: float = 2.2
    per_day: float = 2.23  # penalty per day apart beyond the first
    undated: float = -2.0  # time evidence of a pair with an undated article

    def kind_weight(self, kind: str) -> float:
        return float(getattr(self, kind))


# Fitted per embedding model (benchmarks/cluster_tune.py on the dev split): cosines of different
# models live on different scales. KEYWORDS is for articles without any vector (engine none).
E5 = Weights()
USEM = Weights(
    bias=0.72, embedding=6.3, hub_prior=0.56, cross_language=0.97, names=0.92, actors=0.63, numbers=1.84,
    concepts=2.55, per_day=1.89, keywords_centre=0.2,
)
KEYWORDS = Weights(bias=-2.5, keywords_centre=0.0, names=0.79, actors=0.29, numbers=2.04, concepts=0.0, per_day=1.63)


def weights_for(model: str | None) -> Weights:
    """The pair weights for vectors of `model` (the stored model name), or for keywords alone (None)."""
    if model is None:
        return KEYWORDS
    if model.startswith("use-multilingual"):
        return USEM
    return E5


@dataclass
class Doc:
    """One article as the clusterer sees it."""

    article: int
    time: float | None  # published, POSIX seconds; None: the date is unknown
    vector: np.ndarray | None = None  # L2-normalised sentence embedding of the original headline + lede
    features: dict[str, frozenset[str]] = field(default_factory=dict)  # kind -> values (KINDS)
    keywords: list[str] = field(default_factory=list)  # terms of the keyword TF-IDF vector
    language: str = ""  # the original's language (en, es)
    story: int | None = None  # stored assignment (None: new article)
    order: str = ""  # tie-break among articles of one time (their URL): the result never depends on row ids


@dataclass
class Assignment:
    story_of: dict[int, int]  # article -> story (new articles; temporary story ids are negative)
    merges: dict[int, int]  # story -> story it merges into (the older one)
    new_stories: list[int]  # temporary ids of the stories started, in order


class _Merges:
    """Union-find keeping the oldest (lowest, stored before temporary) story as the representative."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, s: int) -> int:
        while self.parent.get(s, s) != s:
            s = self.parent[s]
        return s

    def union(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        keep, drop = sorted((ra, rb), key=age_key)
        self.parent[drop] = keep
        return keep


def age_key(story: int) -> tuple[int, int]:
    """Stored stories (positive ids) are older than new ones (negative temporary ids, -1 first)."""
    return (0, story) if story > 0 else (1, -story)


def _idf_rows(values: Sequence[frozenset[str]]) -> sparse.csr_matrix:
    """L2-normalised IDF rows (smoothed idf, binary tf) over the docs' values of one kind."""
    df: Counter[str] = Counter(v for vs in values for v in vs)
    col = {v: k for k, v in enumerate(sorted(df))}
    n = len(values)
    rows, cols, data = [], [], []
    for r, vs in enumerate(values):
        ws = [(col[v], math.log((n + 1) / (df[v] + 0.5))) for v in vs]
        norm = math.sqrt(sum(w * w for _, w in ws)) or 1.0
        for c, w in ws:
            rows.append(r)
            cols.append(c)
            data.append(w / norm)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n, max(1, len(col))))


def _tfidf(docs: Sequence[Doc]) -> sparse.csr_matrix:
    """L2-normalised TF-IDF rows (sublinear tf) over the docs' keyword terms."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # slow to import: only when clustering

    vec = TfidfVectorizer(analyzer=lambda terms: terms, sublinear_tf=True, norm="l2")
    matrix: sparse.csr_matrix = vec.fit_transform([d.keywords or ["<empty>"] for d in docs]).tocsr()
    return matrix


class PairScorer:
    """Pair scores of docs (in a fixed order), computed a row block at a time."""

    def __init__(self, docs: Sequence[Doc], weights: Weights) -> None:
        self.w = weights
        n = len(docs)
        dims = {d.vector.shape[0] for d in docs if d.vector is not None}
        dim = max(dims) if len(dims) == 1 else 0  # vectors of two models never mix: then none is used
        self.vectors = np.zeros((n, dim), dtype=np.float32)
        self.has_vector = np.zeros(n, dtype=bool)
        if dim:
            for i, d in enumerate(docs):
                if d.vector is not None:
                    self.vectors[i] = d.vector
                    self.has_vector[i] = True
        self.keywords = _tfidf(docs) if not self.has_vector.all() else None
        # the entity kinds in one matrix, each kind's block scaled by the root of its weight, so one
        # sparse product gives the weighted sum of the per-kind cosines
        blocks = [
            _idf_rows([d.features.get(k, frozenset()) for d in docs]) * math.sqrt(max(0.0, weights.kind_weight(k)))
            for k in KINDS
        ]
        self.entities = sparse.hstack(blocks, format="csr")
        self.times = np.array([d.time if d.time is not None else np.nan for d in docs], dtype=np.float64)
        languages = sorted({d.language for d in docs})
        self.language = np.array([languages.index(d.language) for d in docs], dtype=np.int64)
        self.hubs = np.full(n, weights.hub_prior, dtype=np.float64)

    def set_hubs(self, a: np.ndarray, cols: np.ndarray, valid: np.ndarray) -> None:
        """Hub values of docs `a`: each one's mean cosine with its hub_k nearest docs among `cols`
        where `valid` (|a| x |cols|: its window, not itself), shrunk towards hub_prior when it has
        fewer. A doc close to everything is a hub: its cosines say less (CSLS)."""
        k = self.w.hub_k
        if k <= 0 or not len(a) or not len(cols):
            return
        cos = (self.vectors[a] @ self.vectors[cols].T).astype(np.float64)
        cos[~(valid & self.has_vector[cols][None, :])] = -np.inf
        top = np.partition(cos, cos.shape[1] - k, axis=1)[:, -k:] if cos.shape[1] > k else cos
        found = np.isfinite(top)
        total = np.where(found, top, 0.0).sum(axis=1) + (k - found.sum(axis=1)) * self.w.hub_prior
        self.hubs[a] = np.where(self.has_vector[a], total / k, self.w.hub_prior)

    def block(self, a: Sequence[int] | np.ndarray, b: Sequence[int] | np.ndarray) -> np.ndarray:
        """The |a| x |b| matrix of pair scores."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        w = self.w
        out = _cosines(self.entities, a, b)
        both = self.has_vector[a][:, None] & self.has_vector[b][None, :]
        if both.any():
            csls = 2.0 * (self.vectors[a] @ self.vectors[b].T) - self.hubs[a][:, None] - self.hubs[b][None, :]
            text = w.embedding * csls + w.cross_language * (self.language[a][:, None] != self.language[b][None, :])
        else:
            text = np.zeros(out.shape)
        if not both.all():
            assert self.keywords is not None
            kw = _cosines(self.keywords, a, b)
            cross = self.language[a][:, None] != self.language[b][None, :]
            text = np.where(both, text, w.keywords * (kw - w.keywords_centre) + w.keywords_cross * cross)
        gap = np.abs(self.times[a][:, None] - self.times[b][None, :]) / DAY_S
        time = np.where(np.isnan(gap), w.undated, -w.per_day * np.maximum(0.0, np.nan_to_num(gap) - 1.0))
        out += w.bias + text + time
        return out


CHUNK = 64  # docs scored against their windows in one block


def _cosines(matrix: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Dense |a| x |b| dot products of rows a and b, over only the columns they use (so the cost is
    bounded by their entries, not by the vocabulary of every doc loaded)."""
    ra, rb = matrix[a], matrix[b]
    used = np.union1d(ra.indices, rb.indices)
    if not len(used):
        return np.zeros((len(a), len(b)))

    def compact(m: sparse.csr_matrix) -> sparse.csr_matrix:
        return sparse.csr_matrix((m.data, np.searchsorted(used, m.indices), m.indptr), shape=(m.shape[0], len(used)))

    return np.asarray((compact(ra) @ compact(rb).T).toarray(), dtype=np.float64)


def assign(
    docs: list[Doc],
    weights: Weights,
    window_s: float,
    join: float,
    merge: float,
    advance: Callable[[int], None] | None = None,
) -> Assignment:
    """Give every new doc (story None) a story: the story with the best average pair score over its
    members in the doc's window when that reaches `join`, else a new one; then merge the stories new
    docs found close whose average linkage reaches `merge`."""
    dated = sorted((i for i, d in enumerate(docs) if d.time is not None), key=lambda i: (docs[i].time, docs[i].order, docs[i].article))
    undated = sorted((i for i, d in enumerate(docs) if d.time is None), key=lambda i: (docs[i].order, docs[i].article))
    docs = [docs[i] for i in dated + undated]
    n_dated = len(dated)
    times = [d.time for d in docs[:n_dated]]
    scorer = PairScorer(docs, weights)
    story_arr = np.array([d.story if d.story is not None else 0 for d in docs], dtype=np.int64)
    members: dict[int, list[int]] = {}
    span: dict[int, tuple[float, float]] = {}  # story -> (first, last) time of its dated members

    def widen(story: int, t: float) -> None:
        lo, hi = span.get(story, (t, t))
        span[story] = (min(lo, t), max(hi, t))

    for i, d in enumerate(docs):
        if d.story is not None:
            members.setdefault(d.story, []).append(i)
            if i < n_dated:
                widen(d.story, times[i])
    next_temp = -1
    result = Assignment({}, {}, [])
    close: set[tuple[int, int]] = set()  # (story, other story) a new doc found close to both
    everything = np.arange(len(docs))
    lows = np.array([bisect.bisect_left(times, t - window_s) for t in times], dtype=np.int64)
    highs = np.array([bisect.bisect_right(times, t + window_s) for t in times], dtype=np.int64)

    def columns(chunk: range) -> np.ndarray:
        """The docs any of `chunk` may be compared with: the union of their windows."""
        if chunk.stop > n_dated:
            return everything
        return np.r_[np.arange(lows[chunk.start], highs[chunk.stop - 1]), np.arange(n_dated, len(docs))]

    def own(i: int, cols: np.ndarray) -> np.ndarray:
        """Which of `cols` are in doc i's window (not i itself)."""
        inside = np.ones(len(cols), dtype=bool) if i >= n_dated else (cols >= lows[i]) & (cols < highs[i]) | (cols >= n_dated)
        return inside & (cols != i)

    chunks = [range(c, min(c + CHUNK, n_dated)) for c in range(0, n_dated, CHUNK)]
    chunks += [range(c, min(c + CHUNK, len(docs))) for c in range(n_dated, len(docs), CHUNK)]
    for chunk in chunks:
        cols = columns(chunk)
        # a dated doc's neighbourhood is its window's dated docs: undated ones, compared with
        # everything, would make every dated doc look like a hub
        hood = np.vstack([own(i, cols) & ((cols < n_dated) | (i >= n_dated)) for i in chunk])
        scorer.set_hubs(np.asarray(chunk), cols, hood)
    for chunk in chunks:
        todo = [i for i in chunk if docs[i].story is None]
        if not todo:
            continue
        cols = columns(chunk)
        matrix = scorer.block(todo, cols)
        for row, i in enumerate(todo):
            keep = own(i, cols) & (story_arr[cols] != 0)
            ranked = _mean_by_story(story_arr[cols][keep], matrix[row][keep]) if keep.any() else []
            if i < n_dated:  # a story whose dated members are all out of the window is another event
                ranked = [(m, s) for m, s in ranked if s not in span or span[s][0] - window_s <= times[i] <= span[s][1] + window_s]
            if ranked and ranked[0][0] >= join:
                story = ranked[0][1]
                close.update((story, other) for score, other in ranked[1:] if score >= min(join, merge))
            else:
                story = next_temp
                next_temp -= 1
                result.new_stories.append(story)
                close.update((story, other) for score, other in ranked if score >= min(join, merge))
            story_arr[i] = story
            members.setdefault(story, []).append(i)
            if i < n_dated:
                widen(story, times[i])
            result.story_of[docs[i].article] = story
            if advance:
                advance(1)
    uf = _merge_close(scorer, members, close, merge, window_s)
    for s in members:
        root = uf.find(s)
        if root != s:
            result.merges[s] = root
    return result


def _merge_close(
    scorer: PairScorer, members: dict[int, list[int]], close: set[tuple[int, int]], merge: float, window_s: float
) -> _Merges:
    """Merge pairs of close stories, best average linkage first, while it reaches `merge` (over the
    members of each within the other's time span and window, as a join compares). A pair
    whose stories grew by an earlier merge is scored again before it is used (a lazy heap), so each
    candidate costs one block of pair scores plus one per merge that touched it."""
    uf = _Merges()
    group: dict[int, list[int]] = {s: list(m) for s, m in members.items()}
    heap: list[tuple[float, tuple[int, int], int, int, int, int]] = []

    def near(of: list[int], to: list[int]) -> list[int]:
        """Members of one story within the window of the other's time span (undated ones always)."""
        ts = scorer.times[to]
        if np.isnan(ts).all():
            return of
        lo, hi = np.nanmin(ts) - window_s, np.nanmax(ts) + window_s
        t = scorer.times[of]
        return [m for m, x in zip(of, t, strict=True) if np.isnan(x) or lo <= x <= hi]

    def apart(a: list[int], b: list[int]) -> bool:
        """Whether the dated members of both stories are further apart than the window: then they are
        two events, however alike their undated members are (undated reports of a March hearing and a
        June ruling on one lawsuit would otherwise merge the two)."""
        ta, tb = scorer.times[a], scorer.times[b]
        if np.isnan(ta).all() or np.isnan(tb).all():
            return False
        return bool(np.nanmin(tb) - np.nanmax(ta) > window_s or np.nanmin(ta) - np.nanmax(tb) > window_s)

    def push(a: int, b: int) -> None:
        a, b = sorted((a, b), key=age_key)
        if apart(group[a], group[b]):
            return
        ga, gb = near(group[a], group[b]), near(group[b], group[a])
        if not ga or not gb:
            return
        score = float(scorer.block(ga, gb).mean())
        if score >= merge:
            heapq.heappush(heap, (-score, (age_key(a), age_key(b)), a, b, len(group[a]), len(group[b])))

    for a, b in sorted({tuple(sorted(p, key=age_key)) for p in close if p[0] != p[1]}):
        push(a, b)
    while heap:
        _, _, a, b, size_a, size_b = heapq.heappop(heap)
        ra, rb = uf.find(a), uf.find(b)
        if ra == rb:
            continue
        if (ra, rb) != (a, b) or len(group[ra]) != size_a or len(group[rb]) != size_b:
            push(ra, rb)  # one of them grew since: score it again
            continue
        keep = uf.union(ra, rb)
        drop = rb if keep == ra else ra
        group[keep] = group[keep] + group.pop(drop)
    return uf


def _mean_by_story(stories: np.ndarray, scores: np.ndarray) -> list[tuple[float, int]]:
    """(mean score, story) per story, best first."""
    ids, inverse = np.unique(stories, return_inverse=True)
    means = np.bincount(inverse, weights=scores) / np.bincount(inverse)
    order = np.argsort(-means, kind="stable")
    return [(float(means[k]), int(ids[k])) for k in order]
