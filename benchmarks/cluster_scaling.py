"""Clustering time against the number of articles: should grow close to linearly.

Generates synthetic articles at a constant rate (events of a few articles each, spread over time,
with shared vocabulary noise), clusters 1k..20k of them with monitor.analysis.cluster.assign, and prints
each time, the ratio to the 1k baseline measured in the same run, and the fitted exponent
(time ~ n^k; k close to 1 is linear). Run: .venv/bin/python benchmarks/cluster_scaling.py
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.analysis.cluster import Doc, assign

SIZES = (1000, 2000, 5000, 10000, 20000)
ARTICLES_PER_HOUR = 6.0  # a busy news day on the debate
WINDOW_S = 72 * 3600.0


def synthetic(n: int, seed: int = 7) -> list[Doc]:
    rnd = random.Random(seed)
    common = [f"w{i}" for i in range(400)]
    docs: list[Doc] = []
    event = 0
    t = 0.0
    while len(docs) < n:
        event += 1
        words = [f"e{event}_{k}" for k in range(6)] + [f"#{rnd.randint(2, 99)}", f"@actor{rnd.randint(0, 40)}"]
        for _ in range(rnd.randint(1, 6)):
            if len(docs) >= n:
                break
            t += rnd.expovariate(ARTICLES_PER_HOUR) * 3600
            terms = rnd.sample(words, 5) + rnd.sample(common, 12)
            docs.append(Doc(article=len(docs) + 1, time=t, terms=terms))
    return docs


def main() -> int:
    times: list[tuple[int, float]] = []
    for n in SIZES:
        docs = synthetic(n)
        start = time.perf_counter()
        result = assign(docs, WINDOW_S, similarity=0.35, merge_similarity=0.25)
        elapsed = time.perf_counter() - start
        times.append((n, elapsed))
        base = times[0][1]
        print(f"{n:>6} articles: {elapsed:6.2f} s  ({elapsed / base:5.1f}x the 1k time for {n / SIZES[0]:.0f}x the articles; "
              f"{len(result.new_stories)} stories)", flush=True)
    xs = [math.log(n) for n, _ in times]
    ys = [math.log(t) for _, t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    print(f"measured exponent: time ~ n^{k:.2f}  (1.00 = linear)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
