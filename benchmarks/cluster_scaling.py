"""Clustering time against the number of articles: should grow close to linearly (target exponent <= 1.2).

Generates synthetic articles at a constant rate (events of a few articles each, spread over time):
each has a 384-d unit vector (a shared topic direction, its event's direction and noise, so cosines
fall in e5's compressed ~0.75-0.95 range), names, actors, figures and concepts drawn from its event
and from shared pools, and both languages. Clusters 1k..20k of them with monitor.analysis.linkage.assign
(the settings' window, join and merge), and prints each time, the ratio to the 1k baseline measured
in the same run, and the fitted exponent (CPU time ~ n^k; k close to 1 is linear). CPU time, not
wall time, is fitted: on a shared machine the wall time of one size can double with the load.
Run: .venv/bin/python benchmarks/cluster_scaling.py [--sizes 1000,2000,5000,10000,20000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # one thread: CPU time is comparable
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.analysis.linkage import Doc, Weights, assign  # noqa: E402
from monitor.config.settings import Settings  # noqa: E402

SIZES = (1000, 2000, 5000, 10000, 20000)
ARTICLES_PER_HOUR = 6.0  # a busy news day on the debate
DIM = 384


def synthetic(n: int, seed: int = 7) -> list[Doc]:
    rnd = np.random.default_rng(seed)
    topic = rnd.normal(size=DIM)
    topic /= np.linalg.norm(topic)
    spanish = rnd.normal(size=DIM)  # what Spanish texts share: cross-language cosines run lower, as e5's do
    spanish /= np.linalg.norm(spanish)
    docs: list[Doc] = []
    event = 0
    t = 0.0
    while len(docs) < n:
        event += 1
        direction = rnd.normal(size=DIM)
        direction /= np.linalg.norm(direction)
        names = [f"name{event}_{k}" for k in range(3)]
        number = str(int(rnd.integers(2, 5000)))
        for _ in range(int(rnd.integers(1, 7))):
            if len(docs) >= n:
                break
            t += float(rnd.exponential(3600.0 / ARTICLES_PER_HOUR))
            noise = rnd.normal(size=DIM)
            language = ("en", "es")[len(docs) % 2]
            v = topic + 0.35 * direction + 0.3 * noise / np.linalg.norm(noise) + 0.25 * (language == "es") * spanish
            v /= np.linalg.norm(v)
            features = {
                "names": frozenset([*rnd.choice(names, 2, replace=False).tolist(), f"common{rnd.integers(0, 50)}"]),
                "actors": frozenset([f"actor{rnd.integers(0, 40)}", "trump"]),
                "numbers": frozenset([number]),
                "concepts": frozenset([f"concept{rnd.integers(0, 60)}", f"concept{rnd.integers(0, 60)}"]),
            }
            docs.append(Doc(len(docs) + 1, t, v.astype(np.float32), features, language=language))
    return docs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)), help="Comma-separated article counts.")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    cfg = Settings().cluster
    times: list[tuple[int, float]] = []
    for n in sizes:
        docs = synthetic(n)
        wall, cpu = time.perf_counter(), time.process_time()
        result = assign(docs, Weights(), cfg.window_h * 3600.0, cfg.join, cfg.merge)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        times.append((n, cpu))
        base = times[0][1]
        stories = len(set(result.new_stories)) - len(result.merges)
        print(
            f"{n:>6} articles: {cpu:6.2f} s CPU ({wall:6.2f} s wall; {cpu / base:5.1f}x the {sizes[0]} CPU time for "
            f"{n / sizes[0]:.0f}x the articles; {stories} stories)",
            flush=True,
        )
    xs = [math.log(n) for n, _ in times]
    ys = [math.log(t) for _, t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    print(f"measured exponent: CPU time ~ n^{k:.2f}  (1.00 = linear; target <= 1.2)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
