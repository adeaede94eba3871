"""The trained layer over the debate file: a logistic model that refines relevance and ranks frames.

The debate file stays the definition: its patterns find the evidence sentences and their scores are
inputs here. On top, two linear models (logistic regression, trained by `python -m
monitor.analysis.train` on the DEV split of the labelled corpus only) read, per article:

- its stems, of the original and of its translation ("es:soberan", "en:sovereignti"): the words the
  debate file does not list but the labelled press uses;
- the debate file's readings: the relevance score and each frame's score;
- its multilingual embedding (the vector the embed stage stored), centred on the training mean;
  zeros when the article has no vector of the model's embedding engine;
- how near that embedding is to each frame of the debate file, by the frame's label and definition
  embedded as a search query (the frame prototypes, stored in the model file).

`relevance` gives P(relevant); `frames` gives P(primary frame = f) for each frame. The model file is
small JSON (monitor/analysis/models/<debate id>.json) and is used only for the debate it was trained
for: another debate runs on its own file alone. Pure functions; nothing here reads the database.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import ConfigError

MODEL_DIR = Path(__file__).resolve().parent / "models"
FORMAT = 1
MAX_TERMS = 5
# An article whose debate-file terms were found only in its rough translation needs this P(relevant)
# too: machine translation adds false matches ("Europa soberana", "EU" for the European Union).
TRANSLATION_ONLY_MIN = 0.5
# An article with context words of the debate file only (Trump, tariffs, Sheinbaum) needs this.
# (Defaults: a model file states its own floors, chosen by event-grouped cross-validation on dev.)
CONTEXT_ONLY_MIN = 0.6


class ModelError(ConfigError):
    """The model file is unreadable or does not fit this code."""


@dataclass(frozen=True)
class Inputs:
    """What the models read of one article."""

    stems: dict[str, str]  # "lang:stem" -> the word as written (for evidence)
    lexicon: dict[str, float]  # debate-file readings by feature name
    vector: np.ndarray | None  # the article's embedding of the model's engine, if any


@dataclass(frozen=True)
class Featurizer:
    """Turns Inputs into one row of the design matrix: [lexicon features | stems | embedding | frame
    prototypes]."""

    lexicon: tuple[str, ...]
    vocab: tuple[str, ...]
    dim: int
    mean: np.ndarray  # (dim,) embedding mean of the training items
    emb_scale: float
    # The debate file's frames in the embedding's own space: each frame's label and definition embedded
    # as a search query is (one row per text, the language axis taken out). The article's cosine with
    # its frame's nearest text, less the mean over the frames, times proto_scale, is one column per frame.
    prototypes: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (texts, dim)
    proto_frames: tuple[str, ...] = ()  # the frame of each prototype row
    proto_scale: float = 0.0

    @property
    def proto_names(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.proto_frames))

    @property
    def embedding_end(self) -> int:
        """Where the prototype columns begin."""
        return len(self.lexicon) + len(self.vocab) + self.dim

    @property
    def width(self) -> int:
        return self.embedding_end + len(self.proto_names)

    @property
    def columns(self) -> dict[str, int]:
        return _columns(self.vocab, len(self.lexicon))

    def row(self, inputs: Inputs) -> np.ndarray:
        x = np.zeros(self.width, dtype=np.float64)
        for i, name in enumerate(self.lexicon):
            x[i] = inputs.lexicon.get(name, 0.0)
        cols = self.columns
        for key in inputs.stems:
            j = cols.get(key)
            if j is not None:
                x[j] = 1.0
        v = inputs.vector
        if self.dim and v is not None and v.shape == (self.dim,):
            x[len(self.lexicon) + len(self.vocab) : self.embedding_end] = (v.astype(np.float64) - self.mean) * self.emb_scale
            if self.proto_frames:
                x[self.embedding_end :] = self.prototype_scores(v)
        return x

    def prototype_scores(self, v: np.ndarray) -> np.ndarray:
        """Per frame (proto_names order): the cosine with its nearest prototype, less the mean over frames, scaled."""
        sims = self.prototypes @ v.astype(np.float64)
        names = self.proto_names
        best = np.array([max(s for s, f in zip(sims, self.proto_frames, strict=True) if f == name) for name in names])
        return (best - best.mean()) * self.proto_scale


@lru_cache(maxsize=8)
def _columns(vocab: tuple[str, ...], offset: int) -> dict[str, int]:
    return {k: offset + i for i, k in enumerate(vocab)}


@dataclass(frozen=True)
class Model:
    debate: str  # the debate id it was trained for
    debate_sha256: str  # the debate file (bytes) it was trained with: an edited file runs alone until retrained
    embedding_model: str  # the embed stage's model name whose vectors it reads
    features: Featurizer
    relevance_coef: np.ndarray  # (width,)
    relevance_intercept: float
    threshold: float  # P(relevant) at or above which an article is relevant
    frame_classes: tuple[str, ...]
    frame_coef: np.ndarray  # (classes, width)
    frame_intercept: np.ndarray  # (classes,)
    frame_min: float  # a frame other than the top one is listed when its blended score >= this
    frame_blend: float  # the frame ranking adds this x log(1 + the debate file's frame score) to P
    digest: str  # sha256 of the file: stored with each analysis, so a new model re-analyses
    trained_on: dict[str, Any]
    translation_min: float = TRANSLATION_ONLY_MIN
    context_min: float = CONTEXT_ONLY_MIN
    # The word model: P(relevant) from the article's stems and embedding alone (no debate-file
    # reading), for an article with no core term of the file: a new event's own words. None: absent.
    fallback_coef: np.ndarray | None = None
    fallback_intercept: float = 0.0
    fallback_threshold: float = 2.0

    def applies_to(self, debate_id: str, debate_hash: str) -> bool:
        return self.debate == debate_id and self.debate_sha256 == debate_hash


@dataclass(frozen=True)
class Prediction:
    probability: float
    terms: list[tuple[str, str]]  # (feature key, word) pushing most towards "relevant"
    frames: list[tuple[str, float]]  # (frame, probability), best first
    frame_terms: dict[str, list[tuple[str, str]]]  # frame -> (feature key, word) pushing most towards it
    fallback: float | None = None  # the word model's P(relevant), when the file has one
    fallback_terms: list[tuple[str, str]] = field(default_factory=list)  # its words pushing most towards relevant


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _top_terms(coef: np.ndarray, x: np.ndarray, inputs: Inputs, f: Featurizer) -> list[tuple[str, str]]:
    cols = f.columns
    scored = [(coef[cols[k]] * x[cols[k]], k) for k in inputs.stems if k in cols]
    scored = [(c, k) for c, k in scored if c > 0]
    scored.sort(key=lambda ck: (-ck[0], ck[1]))
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for _, k in scored:
        word = inputs.stems[k]
        if word.lower() not in seen:
            seen.add(word.lower())
            out.append((k, word))
        if len(out) == MAX_TERMS:
            break
    return out


def predict(model: Model, inputs: Inputs) -> Prediction:
    f = model.features
    x = f.row(inputs)
    p = _sigmoid(float(model.relevance_coef @ x) + model.relevance_intercept)
    z = model.frame_coef @ x + model.frame_intercept
    z = np.exp(z - z.max())
    probs = z / z.sum()
    order = sorted(range(len(model.frame_classes)), key=lambda i: (-probs[i], i))
    frames = [(model.frame_classes[i], round(float(probs[i]), 4)) for i in order]
    frame_terms = {
        model.frame_classes[i]: _top_terms(model.frame_coef[i], x, inputs, f) for i in order[:3]
    }
    fallback, fallback_terms = None, []
    if model.fallback_coef is not None:
        fallback = round(_sigmoid(float(model.fallback_coef @ x) + model.fallback_intercept), 4)
        fallback_terms = _top_terms(model.fallback_coef, x, inputs, f)
    return Prediction(
        round(p, 4), _top_terms(model.relevance_coef, x, inputs, f), frames, frame_terms, fallback, fallback_terms
    )


MAX_FRAMES = 4  # the primary frame and up to three secondary ones (the Media Frames Corpus codebook)


def blend(probability: float, lexicon_score: float, weight: float) -> float:
    """A frame's ranking score: the model's P plus `weight` x log(1 + the debate file's score), so a
    frame the file finds strongly (the War Powers Resolution for legality) is not lost on a frame the
    model saw rarely in training."""
    return probability + weight * math.log1p(max(lexicon_score, 0.0))


def rank_frames(model: Model, pred: Prediction, lexicon: dict[str, float]) -> list[tuple[str, float]]:
    """Every frame the model or the debate file has, by blended score, best first (ties: model order)."""
    probs = dict(pred.frames)
    ids = list(dict.fromkeys([f for f, _ in pred.frames] + sorted(lexicon)))
    scored = [(f, round(blend(probs.get(f, 0.0), lexicon.get(f, 0.0), model.frame_blend), 4)) for f in ids]
    return sorted(scored, key=lambda fs: -fs[1])


def decide(
    probability: float, threshold: float, core_original: bool, core_translated: bool, any_term: bool, *,
    translation_min: float = TRANSLATION_ONLY_MIN, context_min: float = CONTEXT_ONLY_MIN,
    fallback: float | None = None, fallback_threshold: float = 2.0,
) -> bool:
    """Relevant or not: the model's P(relevant) over `threshold`, for an article in which the debate
    file found a term (its evidence). A core term found only in translation needs `translation_min`
    too, context words alone `context_min`. An article with no core term is also relevant when the
    word model's P (`fallback`, stems and embedding alone) reaches `fallback_threshold`, a floor set
    for high precision; its words are then the evidence. Otherwise, with no term, never."""
    if core_original:
        return probability >= threshold
    if core_translated:
        return probability >= max(threshold, translation_min)
    if fallback is not None and fallback >= fallback_threshold:
        return True
    if any_term:
        return probability >= max(threshold, context_min)
    return False


# --- the file ---------------------------------------------------------------------------------


def model_path(debate_id: str) -> Path:
    return MODEL_DIR / f"{debate_id}.json"


def _floats(values: Any, where: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"model file: '{where}' is not a list of numbers") from None


def parse_model(raw: bytes) -> Model:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model file is not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelError(f"model file format {data.get('format') if isinstance(data, dict) else '?'} is not {FORMAT}")
    try:
        feats = data["features"]
        dim = int(feats["dim"])
        featurizer = Featurizer(
            lexicon=tuple(feats["lexicon"]),
            vocab=tuple(feats["vocab"]),
            dim=dim,
            mean=_floats(feats["mean"], "features.mean") if dim else np.zeros(0),
            emb_scale=float(feats["emb_scale"]),
        )
        protos = feats.get("prototypes")
        if protos:
            featurizer = replace(
                featurizer, prototypes=_floats(protos["vectors"], "features.prototypes.vectors"),
                proto_frames=tuple(protos["frames"]), proto_scale=float(protos["scale"]),
            )
            if featurizer.prototypes.shape != (len(featurizer.proto_frames), dim):
                raise ModelError("model file: the frame prototypes do not match the embedding")
        rel, fr = data["relevance"], data["frames"]
        model = Model(
            debate=str(data["debate"]),
            debate_sha256=str(data["debate_sha256"]),
            embedding_model=str(data["embedding_model"]),
            features=featurizer,
            relevance_coef=_floats(rel["coef"], "relevance.coef"),
            relevance_intercept=float(rel["intercept"]),
            threshold=float(rel["threshold"]),
            frame_classes=tuple(fr["classes"]),
            frame_coef=_floats(fr["coef"], "frames.coef"),
            frame_intercept=_floats(fr["intercept"], "frames.intercept"),
            frame_min=float(fr["min_probability"]),
            frame_blend=float(fr["lexicon_blend"]),
            digest=hashlib.sha256(raw).hexdigest(),
            trained_on=dict(data.get("trained_on", {})),
            translation_min=float(rel.get("translation_min", TRANSLATION_ONLY_MIN)),
            context_min=float(rel.get("context_min", CONTEXT_ONLY_MIN)),
        )
        fb = data.get("fallback")
        if fb is not None:
            model = replace(
                model, fallback_coef=_floats(fb["coef"], "fallback.coef"),
                fallback_intercept=float(fb["intercept"]), fallback_threshold=float(fb["threshold"]),
            )
    except (KeyError, TypeError) as exc:
        raise ModelError(f"model file lacks {exc}") from None
    width = featurizer.width
    if model.relevance_coef.shape != (width,) or model.frame_coef.shape != (len(model.frame_classes), width):
        raise ModelError("model file: coefficient shapes do not match its features")
    if model.fallback_coef is not None and model.fallback_coef.shape != (width,):
        raise ModelError("model file: the word model's coefficients do not match its features")
    if model.frame_intercept.shape != (len(model.frame_classes),) or featurizer.mean.shape != (dim,):
        raise ModelError("model file: intercepts or mean have the wrong length")
    return model


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> Model:
    return parse_model(Path(path).read_bytes())


def load_model(debate_id: str, debate_hash: str, path: Path | None = None) -> Model | None:
    """The trained model for this debate file (None when the package has none for it, or the file was
    edited since the model was trained: the debate file then decides alone until `python -m
    monitor.analysis.train` is run again)."""
    p = path or model_path(debate_id)
    if not p.is_file():
        return None
    st = p.stat()
    model = _load(str(p), st.st_mtime_ns, st.st_size)
    return model if model.applies_to(debate_id, debate_hash) else None


def model_json(payload: dict[str, Any]) -> str:
    """The file's text: sorted keys, fixed float precision, one line per top-level list row; stable bytes."""
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
