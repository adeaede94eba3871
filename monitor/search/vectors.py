"""The article vectors semantic search ranks: one model's vectors as a float16 matrix, kept in step
with `article_embeddings`, and an exact nearest-neighbour scan over it.

Why a copy: reading 1M vectors out of SQLite takes seconds; scanning 1M x 384 float16 values takes
~0.1 s. So the matrix is kept beside the database (`<db>.vectors/`, memory-mapped, half the size of
float32) and in the process (the web server), and brought up to date on each search. Its rows are
the stored vectors with the model's language axis taken out (`monitor.embedding.language_axis`; a
copy made with another axis is rebuilt):
- nothing changed (count, highest row id and the model's rewrite counter: one row kept by migration 013's triggers): used as is;
- only new vectors: appended (rows with a higher id);
- a vector rewritten or deleted: rebuilt.
A database folder that cannot be written keeps the copy in memory only.

The scan is exact (every vector is compared; recall 1.0 apart from float16 rounding) with usearch's
SIMD kernels; without usearch, numpy in float32 chunks (slower: seconds at 1M).
benchmarks/vector_search.py measures both against a brute-force float32 numpy scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sqlite_utils

from monitor.embedding import language_axis

STORE_DTYPE = np.float16
SCAN_THREADS = max(1, min(4, os.cpu_count() or 1))  # like numpy's BLAS, the scan uses the machine's cores
_CHUNK = 65_536  # rows per chunk of the numpy fallback and of a rebuild
_lock = threading.Lock()


@dataclass(frozen=True)
class State:
    """What the copy reflects: the model's vector count, highest row id and rewrite counter."""

    count: int
    max_id: int
    changes: int


@dataclass
class VectorSet:
    model: str
    dim: int
    ids: np.ndarray  # article id of each row (int64)
    matrix: np.ndarray  # (rows, dim) float16, L2-normalised rows
    state: State
    seq: int = 0  # the rewrite log (migration 013) is applied up to this entry

    @property
    def tombstones(self) -> int:
        """Rows of deleted articles (id 0, zero vector) left in place until the next rebuild."""
        return len(self) - self.state.count

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def rows_of(self, article_ids: np.ndarray) -> np.ndarray:
        """Row positions of these article ids (ids without a vector are left out)."""
        order = self._order()
        ids_sorted = self.ids[order]
        pos = np.searchsorted(ids_sorted, article_ids)
        pos = np.clip(pos, 0, max(len(ids_sorted) - 1, 0))
        hit = ids_sorted[pos] == article_ids if len(ids_sorted) else np.zeros(len(article_ids), bool)
        return order[pos[hit]]

    def _order(self) -> np.ndarray:
        cached = self.__dict__.get("_sorted")
        if cached is None or len(cached) != len(self):
            cached = np.argsort(self.ids, kind="stable")
            self._sorted = cached
        return cached


_SETS: dict[tuple[str, str], VectorSet] = {}


def _db_file(db: sqlite_utils.Database) -> str:
    return next((r[2] for r in db.execute("PRAGMA database_list").fetchall() if r[1] == "main"), "") or ""


def models(db: sqlite_utils.Database) -> list[tuple[str, int]]:
    """(model, vectors) stored, most vectors first."""
    return [
        (r[0], int(r[1]))
        for r in db.execute(
            "SELECT model, count(*) FROM article_embeddings GROUP BY model ORDER BY count(*) DESC, model"
        ).fetchall()
    ]


def db_state(db: sqlite_utils.Database, model: str) -> State:
    """The model's vector count, highest row id and rewrite counter: one row kept by migration 013's
    triggers (counting in a database without it: an older one opened read-only)."""
    try:
        row = db.execute("SELECT vectors, max_id, changes FROM embedding_counts WHERE model = ?", [model]).fetchone()
    except sqlite3.OperationalError:  # no such table
        count, max_id = db.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM article_embeddings WHERE model = ?", [model]
        ).fetchone()
        return State(int(count), int(max_id), 0)
    return State(int(row[0]), int(row[1]), int(row[2])) if row else State(0, 0, 0)


def _read_rows(db: sqlite_utils.Database, model: str, after_id: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Vectors of `model` with row id > after_id, in id order: (article ids, float16 matrix, dim)."""
    ids: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    dim = 0
    cursor = db.execute(
        # in row id order straight from the table: through the (model, article_id) index SQLite would sort 1M rows
        "SELECT article_id, dim, vector FROM article_embeddings NOT INDEXED WHERE id > ? AND model = ? ORDER BY id",
        [after_id, model],
    )
    while True:
        rows = cursor.fetchmany(_CHUNK)
        if not rows:
            break
        dim = dim or int(rows[0][1])
        rows = [r for r in rows if int(r[1]) == dim]
        ids.append(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)))
        flat = np.frombuffer(b"".join(r[2] for r in rows), dtype="<f4")
        blocks.append(language_axis.neutral(flat.reshape(len(rows), dim), language_axis.axis_for(model, dim)).astype(STORE_DTYPE))
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, dim), STORE_DTYPE), dim
    return np.concatenate(ids), np.concatenate(blocks), dim


# ------------------------------------------------------------------------------- rewrites


MAX_PATCH_SHARE = 0.2  # more rewritten articles than this share of the rows: rebuild instead of patching


def log_seq(db: sqlite_utils.Database) -> int:
    """The newest entry of the rewrite log (0 when empty or absent)."""
    try:
        return int(db.execute("SELECT coalesce(max(seq), 0) FROM embedding_rewrites").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _patch(db: sqlite_utils.Database, model: str, have: VectorSet, want: State) -> tuple[dict[int, np.ndarray | None], int] | None:
    """The rewritten articles since the copy was made: {article id: its vector now, or None if deleted} and
    the log position reached; None when the copy must be rebuilt (log missing, pruned or too long)."""
    try:
        rows = db.execute(
            "SELECT seq, article_id FROM embedding_rewrites WHERE model = ? AND seq > ? ORDER BY seq", [model, have.seq]
        ).fetchall()
    except sqlite3.OperationalError:  # a database migrated before the log existed
        return None
    if len(rows) != want.changes - have.state.changes or any(r[1] < 0 for r in rows):
        return None  # entries pruned from the log, or an article id or model itself changed
    changed = list(dict.fromkeys(int(r[1]) for r in rows))
    if len(changed) > MAX_PATCH_SHARE * max(len(have), 1):
        return None
    now: dict[int, np.ndarray | None] = dict.fromkeys(changed)
    for start in range(0, len(changed), 500):
        chunk = changed[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for article, dim, blob in db.execute(
            f"SELECT article_id, dim, vector FROM article_embeddings WHERE model = ? AND article_id IN ({marks})",
            [model, *chunk],
        ).fetchall():
            if int(dim) == have.dim:
                now[int(article)] = language_axis.neutral(np.frombuffer(blob, dtype="<f4"), language_axis.axis_for(model, have.dim))
    return now, int(rows[-1][0]) if rows else have.seq


def _apply(vs: VectorSet, patch: dict[int, np.ndarray | None]) -> None:
    """Overwrite rewritten vectors in place; a deleted article's row becomes a tombstone (id 0, zeros)."""
    if not patch:
        return
    wanted = np.fromiter(patch, dtype=np.int64, count=len(patch))
    order = vs._order()
    ids_sorted = vs.ids[order]
    for article, pos in zip(wanted.tolist(), np.searchsorted(ids_sorted, wanted).tolist(), strict=True):
        rows = []
        while pos < len(ids_sorted) and ids_sorted[pos] == article:
            rows.append(int(order[pos]))
            pos += 1
        vector = patch[article]
        for row in rows:
            if vector is None:
                vs.ids[row] = 0
                vs.matrix[row] = 0
            else:
                vs.matrix[row] = vector.astype(STORE_DTYPE)
    vs._sorted = None


# ------------------------------------------------------------------------------- the copy on disk


def cache_dir(db_file: str) -> Path | None:
    if not db_file:
        return None
    return Path(db_file).with_name(Path(db_file).name + ".vectors")


def _slug(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _file_lock(folder: Path):
    """An exclusive lock between processes updating the copy (where the platform has flock)."""
    try:
        import fcntl
    except ImportError:  # Windows: one writer is the usual case; a lost race only costs a rebuild
        yield
        return
    with open(folder / ".lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _read_meta(folder: Path, model: str) -> dict | None:
    try:
        meta = json.loads((folder / f"{_slug(model)}.json").read_text())
    except (OSError, ValueError):
        return None
    keys = {"model", "dim", "rows", "count", "max_id", "changes", "seq", "generation"}
    return meta if isinstance(meta, dict) and keys <= set(meta) and meta["model"] == model else None


def _meta_state(meta: dict) -> State:
    return State(int(meta["count"]), int(meta["max_id"]), int(meta["changes"]))


def _open_files(folder: Path, meta: dict, mode: str = "r") -> VectorSet | None:
    rows, dim, gen = int(meta["rows"]), int(meta["dim"]), int(meta["generation"])
    base = folder / f"{_slug(meta['model'])}-{gen}"
    if rows == 0:
        return None
    try:
        ids = np.memmap(base.with_suffix(".ids"), dtype=np.int64, mode=mode, shape=(rows,))
        matrix = np.memmap(base.with_suffix(".f16"), dtype=STORE_DTYPE, mode=mode, shape=(rows, dim))
    except (OSError, ValueError):
        return None
    return VectorSet(meta["model"], dim, ids, matrix, _meta_state(meta), int(meta["seq"]))


def _write_meta(folder: Path, meta: dict) -> None:
    tmp = folder / f".{_slug(meta['model'])}.json.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, folder / f"{_slug(meta['model'])}.json")


def _rebuild_files(db: sqlite_utils.Database, folder: Path, model: str, want: State, old: dict | None) -> dict:
    seq = log_seq(db)  # before reading: a rewrite during the read is applied again next time (harmless)
    ids, block, dim = _read_rows(db, model, 0)
    generation = int(old["generation"]) + 1 if old else 1
    base = folder / f"{_slug(model)}-{generation}"
    base.with_suffix(".ids").write_bytes(np.ascontiguousarray(ids).tobytes())
    base.with_suffix(".f16").write_bytes(np.ascontiguousarray(block).tobytes())
    if old is not None:
        for suffix in (".ids", ".f16"):
            with contextlib.suppress(OSError):
                (folder / f"{_slug(model)}-{int(old['generation'])}").with_suffix(suffix).unlink()
    return {"model": model, "dim": dim, "rows": len(ids), "count": len(ids), "max_id": want.max_id,
            "changes": want.changes, "seq": seq, "generation": generation, "axis": language_axis.tag(model)}


def _update_files(db: sqlite_utils.Database, folder: Path, meta: dict, want: State) -> dict | None:
    """Patch rewrites in place and append new rows; the new meta, or None when a rebuild is needed."""
    have = _open_files(folder, meta, mode="r+")
    if have is None or int(meta["max_id"]) > want.max_id:
        return None
    seq = have.seq
    if want.changes != have.state.changes:
        found = _patch(db, meta["model"], have, want)
        if found is None:
            return None
        patch, seq = found
        _apply(have, patch)
        have.ids.flush()
        have.matrix.flush()
    ids, block, dim = _read_rows(db, meta["model"], int(meta["max_id"]))
    if dim not in (0, have.dim):
        return None
    rows = int(meta["rows"])
    base = folder / f"{_slug(meta['model'])}-{int(meta['generation'])}"
    for suffix, data, width in ((".ids", ids, 8), (".f16", block, 2 * have.dim)):
        with open(base.with_suffix(suffix), "r+b") as fh:
            fh.truncate(rows * width)  # a half-written earlier append is dropped
            fh.seek(0, os.SEEK_END)
            fh.write(np.ascontiguousarray(data).tobytes())
    live = int(np.count_nonzero(have.ids)) + len(ids)
    if live != want.count:
        return None  # the copy and the database disagree: start over
    return {**meta, "rows": rows + len(ids), "count": want.count, "max_id": want.max_id, "changes": want.changes,
            "seq": seq}


def _sync_files(db: sqlite_utils.Database, folder: Path, model: str, want: State) -> VectorSet | None:
    """Bring the copy in `folder` to `want` (patch and append, or rebuild) and open it."""
    folder.mkdir(exist_ok=True)
    with _file_lock(folder):
        meta = _read_meta(folder, model)
        same_axis = meta is not None and meta.get("axis", "") == language_axis.tag(model)
        if meta is None or _meta_state(meta) != want or not same_axis:
            fresh = _update_files(db, folder, meta, want) if meta is not None and same_axis else None  # another axis: rebuild
            meta = fresh or _rebuild_files(db, folder, model, want, meta)
            _write_meta(folder, meta)
        return _open_files(folder, meta)


# ------------------------------------------------------------------------------- in memory only


def _sync_memory(db: sqlite_utils.Database, model: str, want: State, have: VectorSet | None) -> VectorSet | None:
    if have is not None and have.state.max_id <= want.max_id:
        seq = have.seq
        ids, matrix = np.array(have.ids), np.array(have.matrix)  # private copies: other threads may be scanning
        work = VectorSet(model, have.dim, ids, matrix, have.state, have.seq)
        found = _patch(db, model, work, want) if want.changes != have.state.changes else ({}, seq)
        if found is not None:
            _apply(work, found[0])
            new_ids, block, dim = _read_rows(db, model, have.state.max_id)
            if dim in (0, have.dim) and int(np.count_nonzero(ids)) + len(new_ids) == want.count:
                if len(new_ids):
                    ids, matrix = np.concatenate([ids, new_ids]), np.concatenate([matrix, block])
                return VectorSet(model, have.dim, ids, matrix, want, found[1])
    seq = log_seq(db)
    ids, block, dim = _read_rows(db, model, 0)
    return VectorSet(model, dim, ids, block, want, seq) if len(ids) else None


def load(db: sqlite_utils.Database, model: str, *, disk_cache: bool = True) -> VectorSet | None:
    """The vectors of `model`, up to date with the database; None when there are none."""
    db_file = _db_file(db)
    want = db_state(db, model)
    if want.count == 0:
        return None
    key = (db_file or f"mem:{id(db)}", model)
    with _lock:
        have = _SETS.get(key)
        if have is not None and have.state == want:
            return have
        vs = None
        folder = cache_dir(db_file) if disk_cache else None
        if folder is not None:
            try:
                vs = _sync_files(db, folder, model, want)
            except OSError:  # a read-only folder: keep the copy in memory
                vs = None
        if vs is None or vs.state != want:
            vs = _sync_memory(db, model, want, have)
        if vs is not None:
            _SETS[key] = vs
        return vs


def clear_memory() -> None:
    with _lock:
        _SETS.clear()


# ------------------------------------------------------------------------------- the scan


def _usearch():
    # onnxruntime (the Argos sentence splitter) must be loaded before usearch: importing onnxruntime into a
    # process that has usearch's compiled module loaded crashes it (segfault, usearch 2.26 / onnxruntime
    # 1.32), and the web server and the watcher search and translate in one process.
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    try:
        from usearch.index import MetricKind, search
    except ImportError:
        return None
    return search, MetricKind


def nearest(matrix: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k rows of `matrix` by inner product with `query` (unit vectors: cosine), best first:
    (row positions, similarities)."""
    n = int(matrix.shape[0])
    k = min(k, n)
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
    engine = _usearch()
    if engine is not None and matrix.dtype in (np.float16, np.float32):
        search, metric = engine
        found = search(matrix, q.astype(matrix.dtype), k, metric.IP, exact=True, threads=SCAN_THREADS)
        rows = np.asarray(found.keys, dtype=np.int64).reshape(-1)[:k]
        scores = 1.0 - np.asarray(found.distances, dtype=np.float32).reshape(-1)[:k]  # usearch IP distance = 1 - dot
        keep = rows < n
        return rows[keep], scores[keep]
    scores = np.empty(n, dtype=np.float32)
    for start in range(0, n, _CHUNK):
        scores[start : start + _CHUNK] = np.asarray(matrix[start : start + _CHUNK], dtype=np.float32) @ q
    top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    top = top[np.argsort(-scores[top], kind="stable")]
    return top.astype(np.int64), scores[top]


__all__ = ["State", "VectorSet", "cache_dir", "clear_memory", "db_state", "load", "models", "nearest"]
