"""Scoring the analysis against labels: relevance, frames and same-story pairs, with bootstrap intervals.

Pure functions over dataclasses: `Label` (what a person decided about one item, the corpus schema of
tests/fixtures/eval/CODEBOOK.md) and `Prediction` (what the monitor decided about it). `score()` gives
every figure `monitor eval` prints:

- relevance: precision, recall, F1 and the confusion counts;
- frames, on the items labelled relevant AND found relevant: agreement of the top frame with the labelled
  primary frame, agreement with any labelled frame (primary or secondary), the share given no frame at
  all, and a confusion table (labelled primary frame x predicted top frame);
- frame shares: each frame's share of the labelled primary frames beside its share of the top frames
  of the items found relevant (the bars the comparison and the digest draw), and the total variation
  distance between the two;
- same-story pairs: a labelled pair is two relevant items with the same event id; a placed pair is two
  items the monitor put in one story. Recall = labelled pairs placed together / labelled pairs;
  precision = placed pairs that are right / placed pairs judged. A placed pair with a labelled-irrelevant
  item is wrong; one where a relevant item has no event id cannot be judged and is counted apart
  (`excluded`). For every pair, for cross-country (US<->MX) pairs, and for US<->MX pairs of two items
  that carry a published date (`cross_dated`: the clustering's fair test, since for an undated item
  nobody knows when the monitor would have seen it);
- 95% bootstrap intervals with a fixed seed. The unit resampled is the event (items of one event move
  together; an item without an event is its own unit), so pairs are never split from their event and
  correlated items do not narrow the interval.

>>> labels = [Label("a", "US", "en", True, "sovereignty", (), "e1"), Label("b", "MX", "es", True, "sovereignty", (), "e1")]
>>> preds = {"a": Prediction("a", True, top_frame="sovereignty", story=1), "b": Prediction("b", True, story=1)}
>>> s = score(labels, preds, bootstrap=0)
>>> (s.relevance.recall, s.frames.top_agreement, s.pairs["cross"].recall)
(1.0, 0.5, 1.0)
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from monitor.analysis import frame_mix
from monitor.analysis.frame_mix import TOPS, coverage_shares, method_for

TEST_SHARE = 0.4  # of events (and of event-less items), by hash: the test split
NO_FRAME = "(none)"
NOT_RELEVANT = "(not relevant)"
# cross: the two items come from different countries (US<->MX); cross_dated: the same, both items dated
PAIR_SCOPES = ("cross", "cross_dated", "all")

# The targets, printed beside the figures.
TARGETS: dict[str, str] = {
    "relevance": "R >= 0.95 at P >= 0.90",
    "top_frame": ">= 0.70",
    "unframed": "0 (every relevant item gets a frame)",
    "pairs": "R >= 0.85 at P >= 0.90",
}


@dataclass(frozen=True)
class Label:
    """One labelled item (the corpus schema; see CODEBOOK.md)."""

    id: str
    country: str
    language: str
    relevant: bool
    primary_frame: str | None = None
    secondary_frames: tuple[str, ...] = ()
    event_id: str | None = None
    outlet: str = ""
    title: str | None = None
    lede: str | None = None
    published: str | None = None
    url: str | None = None
    body: str | None = None  # optional article text after the lede (feeds give it; the corpus does not)

    @property
    def unit(self) -> str:
        """What the bootstrap resamples and the split hashes: the event, else the item itself."""
        return self.event_id or self.id


@dataclass(frozen=True)
class Prediction:
    """What the monitor decided about one item."""

    id: str
    relevant: bool
    score: float = 0.0
    top_frame: str | None = None
    frames: tuple[str, ...] = ()  # over threshold, best first
    evidence: tuple[str, ...] = ()  # "frame: [terms] sentence", best frame first
    story: int | None = None
    frame_mix: Mapping[str, float] = field(default_factory=dict)  # the frame shares it counts for (frame_mix.py; {}: its top frame's)


def split_of(item: Label | Mapping[str, Any]) -> str:
    """'dev' or 'test', from a hash of the event id (of the item id when it has none): a pure function
    of the labels, so no event has items on both sides and the split never moves when items are added."""
    key = item.unit if isinstance(item, Label) else (item.get("event_id") or item["id"])
    bucket = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if bucket < TEST_SHARE else "dev"


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


@dataclass
class RelevanceScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else math.nan


@dataclass
class FrameScore:
    items: int = 0  # labelled relevant and found relevant
    top_agree: int = 0  # predicted top frame == labelled primary frame
    any_agree: int = 0  # predicted top frame is one of the labelled frames
    unframed: int = 0  # of `items`, given no frame at all
    predicted_relevant: int = 0  # every item found relevant (labelled relevant or not)
    predicted_unframed: int = 0  # of those, given no frame

    @property
    def top_agreement(self) -> float:
        return _ratio(self.top_agree, self.items)

    @property
    def any_agreement(self) -> float:
        return _ratio(self.any_agree, self.items)

    @property
    def unframed_share(self) -> float:
        return _ratio(self.unframed, self.items)


@dataclass
class PairScore:
    labelled: int = 0  # labelled same-event pairs (both items relevant)
    found: int = 0  # of those, placed in one story
    placed: int = 0  # placed pairs that could be judged
    right: int = 0  # of those, labelled the same event
    excluded: int = 0  # placed pairs with a relevant item that has no event id: not judged

    @property
    def recall(self) -> float:
        return _ratio(self.found, self.labelled)

    @property
    def precision(self) -> float:
        return _ratio(self.right, self.placed)


@dataclass
class FrameShares:
    """Each frame's share of the labelled-relevant items' primary frames, beside its share of the items
    the monitor found relevant: the bars `monitor compare`, the digest and the web page draw (they
    count what the monitor found, misses and false positives included)."""

    labelled: dict[str, float] = field(default_factory=dict)
    found: dict[str, float] = field(default_factory=dict)
    found_by: str = TOPS  # how the found shares were estimated (frame_mix.TOPS or MIXES)

    @property
    def distance(self) -> float:
        """Total variation distance: the share of the bars that would have to move for the found bars
        to match the labelled ones (0 equal, 1 disjoint)."""
        if not self.labelled or not self.found:
            return math.nan
        frames = set(self.labelled) | set(self.found)
        return 0.5 * sum(abs(self.labelled.get(f, 0.0) - self.found.get(f, 0.0)) for f in frames)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass
class Scores:
    items: int
    relevance: RelevanceScore
    frames: FrameScore
    pairs: dict[str, PairScore]
    confusion: dict[str, dict[str, int]]  # labelled primary frame -> predicted top frame (or NO_FRAME / NOT_RELEVANT) -> n
    shares: FrameShares = field(default_factory=FrameShares)
    intervals: dict[str, Interval] = field(default_factory=dict)  # figure name (see figures()) -> 95% interval

    def figures(self) -> dict[str, float]:
        return figures_of(self.relevance, self.frames, self.pairs)


def figures_of(rel: RelevanceScore, fr: FrameScore, pairs: Mapping[str, PairScore]) -> dict[str, float]:
    """The headline figures by name (the names the intervals use)."""
    out = {
        "relevance_precision": rel.precision,
        "relevance_recall": rel.recall,
        "relevance_f1": rel.f1,
        "top_frame": fr.top_agreement,
        "any_frame": fr.any_agreement,
        "unframed": fr.unframed_share,
    }
    for scope, p in pairs.items():
        out[f"pairs_{scope}_recall"] = p.recall
        out[f"pairs_{scope}_precision"] = p.precision
    return out


# --- the point figures --------------------------------------------------------------------------


def _missing(labels: Sequence[Label], preds: Mapping[str, Prediction]) -> list[str]:
    return [lab.id for lab in labels if lab.id not in preds]


def relevance_score(labels: Sequence[Label], preds: Mapping[str, Prediction]) -> RelevanceScore:
    s = RelevanceScore()
    for lab in labels:
        pred = preds[lab.id].relevant
        if lab.relevant and pred:
            s.tp += 1
        elif pred:
            s.fp += 1
        elif lab.relevant:
            s.fn += 1
        else:
            s.tn += 1
    return s


def _frame_flags(lab: Label, pred: Prediction) -> tuple[bool, bool, bool]:
    """(top agrees, any agrees, unframed) for an item labelled and found relevant."""
    top = pred.top_frame
    labelled = {f for f in (lab.primary_frame, *lab.secondary_frames) if f}
    return (top is not None and top == lab.primary_frame, top is not None and top in labelled, top is None)


def frame_score(labels: Sequence[Label], preds: Mapping[str, Prediction]) -> FrameScore:
    s = FrameScore()
    for lab in labels:
        pred = preds[lab.id]
        if pred.relevant:
            s.predicted_relevant += 1
            s.predicted_unframed += pred.top_frame is None
        if lab.relevant and pred.relevant:
            top, any_, none = _frame_flags(lab, pred)
            s.items += 1
            s.top_agree += top
            s.any_agree += any_
            s.unframed += none
    return s


def frame_confusion(labels: Sequence[Label], preds: Mapping[str, Prediction]) -> dict[str, dict[str, int]]:
    """Labelled primary frame -> predicted top frame -> count, over the items labelled relevant (a
    relevant item the monitor missed counts under NOT_RELEVANT, one it found but left unframed under NO_FRAME)."""
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for lab in labels:
        if not lab.relevant:
            continue
        pred = preds[lab.id]
        col = (pred.top_frame or NO_FRAME) if pred.relevant else NOT_RELEVANT
        table[lab.primary_frame or NO_FRAME][col] += 1
    return {k: dict(v.most_common()) for k, v in sorted(table.items())}


def frame_shares(labels: Sequence[Label], preds: Mapping[str, Prediction]) -> FrameShares:
    """Labelled primary-frame shares (items labelled relevant with a frame) and found shares (items found
    relevant with a top frame), the found ones as the comparison, the digest and the web page draw
    them: top frames counted, or, over MIX_MIN_STORIES stories or more, frame mixes summed (frame_mix.py)."""
    labelled = Counter(lab.primary_frame for lab in labels if lab.relevant and lab.primary_frame)
    found = [p for p in (preds[lab.id] for lab in labels) if p.relevant and p.top_frame]
    method = method_for(len({p.story for p in found if p.story is not None}))
    shares = coverage_shares(((p.top_frame, p.frame_mix) for p in found), method)
    return FrameShares(
        {f: share for f, _, share in frame_mix.frame_shares(labelled)}, {f: share for f, _, share in shares}, method
    )


@dataclass(frozen=True)
class _Pair:
    a: int  # index of the first item's unit
    b: int
    cross: bool
    dated: bool  # both items carry a published date
    labelled: bool  # a labelled same-event pair
    placed: bool  # in one story
    judged: bool  # placed and judged (not excluded)
    right: bool  # placed, judged and labelled the same event


def _pairs(labels: Sequence[Label], preds: Mapping[str, Prediction], unit_index: Mapping[str, int]) -> list[_Pair]:
    """Every pair that is labelled same-event or placed in one story (no other pair counts anywhere)."""
    keys: set[tuple[int, int]] = set()
    by_event: dict[str, list[int]] = defaultdict(list)
    by_story: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(labels):
        if lab.relevant and lab.event_id:
            by_event[lab.event_id].append(i)
        story = preds[lab.id].story
        if story is not None:
            by_story[story].append(i)
    for group in (*by_event.values(), *by_story.values()):
        keys.update(combinations(sorted(group), 2))
    out = []
    for i, j in sorted(keys):
        x, y = labels[i], labels[j]
        px, py = preds[x.id], preds[y.id]
        labelled = x.relevant and y.relevant and x.event_id is not None and x.event_id == y.event_id
        placed = px.story is not None and px.story == py.story
        wrong_item = not (x.relevant and y.relevant)
        excluded = placed and not wrong_item and (x.event_id is None or y.event_id is None)
        judged = placed and not excluded
        out.append(
            _Pair(
                unit_index[x.unit], unit_index[y.unit], x.country != y.country, bool(x.published and y.published),
                labelled, placed, judged, judged and labelled,
            )
        )
    return out


def in_scope(pair: _Pair, scope: str) -> bool:
    """Whether `pair` counts in the pair figures of `scope` (one of PAIR_SCOPES)."""
    if scope == "all":
        return True
    return pair.cross and (pair.dated or scope == "cross")


def pair_score(pairs: Iterable[_Pair], scope: str) -> PairScore:
    s = PairScore()
    for p in pairs:
        if not in_scope(p, scope):
            continue
        s.labelled += p.labelled
        s.found += p.labelled and p.placed
        s.placed += p.judged
        s.right += p.right
        s.excluded += p.placed and not p.judged
    return s


# --- the bootstrap ------------------------------------------------------------------------------


def _bootstrap(
    labels: Sequence[Label],
    preds: Mapping[str, Prediction],
    pairs: list[_Pair],
    unit_index: Mapping[str, int],
    rounds: int,
    seed: int,
) -> dict[str, Interval]:
    """95% percentile intervals of every figure over `rounds` resamples of the units (events)."""
    n_units = len(unit_index)
    if rounds <= 0 or n_units == 0:
        return {}
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_units, size=(rounds, n_units))
    mult = np.stack([np.bincount(row, minlength=n_units) for row in draws]).astype(float)  # rounds x units
    item_unit = np.array([unit_index[lab.unit] for lab in labels], dtype=int)
    w = mult[:, item_unit]  # rounds x items: how often each item is drawn

    def col(values: Iterable[bool]) -> np.ndarray:
        return np.fromiter((float(v) for v in values), dtype=float)

    gold = col(lab.relevant for lab in labels)
    pred = col(preds[lab.id].relevant for lab in labels)
    both = gold * pred
    flags = [_frame_flags(lab, preds[lab.id]) if lab.relevant and preds[lab.id].relevant else (False, False, False) for lab in labels]
    tp, fp, fn = w @ both, w @ ((1 - gold) * pred), w @ (gold * (1 - pred))
    items = w @ both
    top, any_, none = (w @ col(f[k] for f in flags) for k in range(3))

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)

    precision, recall = ratio(tp, tp + fp), ratio(tp, tp + fn)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), np.nan)
    series: dict[str, np.ndarray] = {
        "relevance_precision": precision,
        "relevance_recall": recall,
        "relevance_f1": f1,
        "top_frame": ratio(top, items),
        "any_frame": ratio(any_, items),
        "unframed": ratio(none, items),
    }
    if pairs:
        a = np.array([p.a for p in pairs])
        b = np.array([p.b for p in pairs])
        pw = np.where(a == b, mult[:, a], mult[:, a] * mult[:, b])  # rounds x pairs
        for scope in PAIR_SCOPES:
            keep = col(in_scope(p, scope) for p in pairs)
            labelled = pw @ (keep * col(p.labelled for p in pairs))
            found = pw @ (keep * col(p.labelled and p.placed for p in pairs))
            judged = pw @ (keep * col(p.judged for p in pairs))
            right = pw @ (keep * col(p.right for p in pairs))
            series[f"pairs_{scope}_recall"] = ratio(found, labelled)
            series[f"pairs_{scope}_precision"] = ratio(right, judged)
    out = {}
    for name, values in series.items():
        finite = values[~np.isnan(values)]
        if finite.size:
            out[name] = Interval(float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5)))
    return out


# --- everything together ------------------------------------------------------------------------


def score(
    labels: Sequence[Label], preds: Mapping[str, Prediction], *, bootstrap: int = 1000, seed: int = 0
) -> Scores:
    """Every figure for `labels` (each must have a prediction), with `bootstrap` resamples for the
    intervals (0: none). Deterministic: the same labels, predictions and seed give the same intervals."""
    missing = _missing(labels, preds)
    if missing:
        raise ValueError(f"{len(missing)} labelled items have no prediction, e.g. {missing[0]!r}")
    unit_index = {u: i for i, u in enumerate(sorted({lab.unit for lab in labels}))}
    pairs = _pairs(labels, preds, unit_index)
    return Scores(
        items=len(labels),
        relevance=relevance_score(labels, preds),
        frames=frame_score(labels, preds),
        pairs={scope: pair_score(pairs, scope) for scope in PAIR_SCOPES},
        confusion=frame_confusion(labels, preds),
        shares=frame_shares(labels, preds),
        intervals=_bootstrap(labels, preds, pairs, unit_index, bootstrap, seed),
    )


def score_by(
    labels: Sequence[Label],
    preds: Mapping[str, Prediction],
    key: Callable[[Label], str],
    *,
    bootstrap: int = 1000,
    seed: int = 0,
) -> dict[str, Scores]:
    """`score()` of each group of labels (e.g. by country: `key=lambda lab: lab.country`)."""
    groups: dict[str, list[Label]] = defaultdict(list)
    for lab in labels:
        groups[key(lab)].append(lab)
    return {k: score(v, preds, bootstrap=bootstrap, seed=seed) for k, v in sorted(groups.items())}


@dataclass(frozen=True)
class Miss:
    """One disagreement, for a person to read: a relevance error or a wrong/missing frame."""

    kind: str  # "missed" (labelled relevant, not found) | "false positive" | "frame"
    label: Label
    prediction: Prediction


def misses(labels: Sequence[Label], preds: Mapping[str, Prediction]) -> list[Miss]:
    out = []
    for lab in labels:
        pred = preds[lab.id]
        if lab.relevant and not pred.relevant:
            out.append(Miss("missed", lab, pred))
        elif pred.relevant and not lab.relevant:
            out.append(Miss("false positive", lab, pred))
        elif lab.relevant and pred.top_frame != lab.primary_frame:
            out.append(Miss("frame", lab, pred))
    return out
