"""Benchmark: polling many feeds on loopback, against the ideal the politeness rules allow.

300 feeds x 20 items spread over 30 hosts (127.0.0.2 ... 127.0.0.31, one loopback server each),
every response delayed by 100 ms, served by a separate process. Two runs:

1. the poll stage (`monitor.ingest.poll.run`: fetch + parse + store in SQLite), from an empty database;
2. the fetcher alone (`monitor.ingest.fetch.Fetcher`), the same 300 URLs, as the network-only baseline.

Ideal wall time = max(latency x feeds / concurrency, per-host floor), where the per-host floor is
(feeds per host - 1) x per_host_spacing_s + latency: with 10 feeds per host and 1 s spacing no
schedule can finish one host in under ~9.1 s, whatever the concurrency. Target: wall <= 1.3x ideal.

    .venv/bin/python benchmarks/poll.py               # the full 300-feed run (< 1 minute)
    .venv/bin/python benchmarks/poll.py --feeds 60    # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.config.settings import Settings
from monitor.ingest import poll
from monitor.ingest.fetch import Fetcher
from monitor.store.db import open_db, utcnow
from tests.feedserver import FeedServer, small_rss


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def serve(hosts: int, per_host: int, items: int, latency: float, conn: Any) -> None:
    """Child process: the loopback outlets. Sends their base URLs, then serves until told to stop,
    answering "stats" with the peak number of concurrent requests any one host saw."""
    servers = [FeedServer(host=f"127.0.0.{i + 2}") for i in range(hosts)]
    try:
        for h, server in enumerate(servers):
            server.latency = latency
            for k in range(per_host):
                body = small_rss(f"Outlet {h} feed {k}", items=items, link=f"https://outlet{h}.example/f{k}/")
                server.route(f"/feed-{k}.xml", body)
        conn.send([server.url("") for server in servers])
        while True:
            message = conn.recv()
            if message == "stats":
                conn.send(max(s.max_concurrent for s in servers))
                for s in servers:
                    s.reset_log()
            else:
                break
    finally:
        for server in servers:
            server.close()


def write_registry(path: Path, bases: list[str], per_host: int) -> list[str]:
    """One outlet per host, `per_host` feeds each; returns the feed URLs."""
    urls: list[str] = []
    blocks: list[str] = []
    for h, base in enumerate(bases):
        feeds = []
        for k in range(per_host):
            url = f"{base.rstrip('/')}/feed-{k}.xml"
            urls.append(url)
            feeds.append(f'{{ url = "{url}", section = "s{k}" }}')
        country, language = ("US", "en") if h % 2 == 0 else ("MX", "es")
        blocks.append(
            f'[[outlets]]\nid = "outlet-{h}"\nname = "Outlet {h}"\ncountry = "{country}"\n'
            f'language = "{language}"\nfeeds = [\n  ' + ",\n  ".join(feeds) + "\n]\n"
        )
    path.write_text("\n".join(blocks), encoding="utf-8")
    return urls


async def fetch_all(settings: Settings, urls: list[str]) -> int:
    async with Fetcher(settings.poll) as fetcher:
        results = await asyncio.gather(*(fetcher.fetch(u) for u in urls), return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise SystemExit(f"fetcher baseline: {len(failures)} failures, first: {failures[0]!r}")
    return sum(len(r.body or b"") for r in results)  # type: ignore[union-attr]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--feeds", type=int, default=300)
    ap.add_argument("--hosts", type=int, default=30)
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added to every response")
    ap.add_argument(
        "--spacing", type=float, default=None,
        help="per-host spacing in seconds (default: the setting, 1 s); 0 makes concurrency the only floor",
    )
    args = ap.parse_args()
    if args.hosts > 250 or args.feeds % args.hosts:
        raise SystemExit("--feeds must be a multiple of --hosts, and --hosts at most 250")
    per_host = args.feeds // args.hosts

    # The outlets run in their own process, so the measured client shares its CPU with no server.
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(
        target=serve, args=(args.hosts, per_host, args.items, args.latency, child), daemon=True
    )
    proc.start()
    try:
        bases = parent.recv()
        with tempfile.TemporaryDirectory() as tmp:
            registry = Path(tmp) / "outlets.toml"
            urls = write_registry(registry, bases, per_host)
            settings = Settings(db=str(Path(tmp) / "bench.db"), feeds=str(registry)).replace(
                poll__allow_private=True
            )
            if args.spacing is not None:
                settings = settings.replace(poll__per_host_spacing_s=args.spacing)
            p = settings.poll
            ideal_concurrency = args.latency * args.feeds / p.concurrency
            ideal_host = (per_host - 1) * p.per_host_spacing_s + args.latency
            ideal = max(ideal_concurrency, ideal_host)

            # 1. the poll stage: fetch + parse + store
            rss0 = maxrss_mib()
            db = open_db(settings.db_path)
            t0, c0 = time.perf_counter(), time.process_time()
            report = poll.run(db, settings, now=utcnow())
            wall_poll = time.perf_counter() - t0
            cpu_poll = time.process_time() - c0
            articles = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            db.close()
            rss_poll = maxrss_mib()
            parent.send("stats")
            peak_conc = parent.recv()
            if report.failed:
                print(f"warning: {report.failed} feeds failed: {report.errors[:3]}")

            # 2. the fetcher alone (network baseline), with traced memory
            tracemalloc.start()
            t0, c0 = time.perf_counter(), time.process_time()
            body_bytes = asyncio.run(fetch_all(settings, urls))
            wall_fetch = time.perf_counter() - t0
            cpu_fetch = time.process_time() - c0
            _, traced_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        parent.send("stop")
        proc.join(30)

    print(
        f"poll benchmark: {args.feeds} feeds x {args.items} items on {args.hosts} loopback hosts, "
        f"latency {args.latency * 1000:.0f} ms, concurrency {p.concurrency}, "
        f"per-host spacing {p.per_host_spacing_s:g} s"
    )
    print(
        f"  ideal by concurrency  latency x feeds / concurrency     = {ideal_concurrency:6.2f} s"
        + ("  <- binding floor" if ideal_concurrency > ideal_host else "")
    )
    print(
        f"  ideal by host spacing (feeds/host - 1) x spacing + lat. = {ideal_host:6.2f} s"
        + ("  <- binding floor" if ideal_host >= ideal_concurrency else "")
    )
    print(f"  ideal (the larger)                                       = {ideal:6.2f} s")
    print()
    print(f"  {'run':<46} {'wall s':>8} {'x ideal':>8} {'target':>8} {'memory':>22}")
    rows = [
        (
            f"poll.run (fetch+parse+store, {articles} articles)",
            wall_poll,
            f"maxrss {rss_poll:.0f} MiB (+{rss_poll - rss0:.0f})",
        ),
        (
            f"Fetcher only ({body_bytes / 1e6:.1f} MB bodies)",
            wall_fetch,
            f"traced peak {traced_peak / 2**20:.1f} MiB",
        ),
    ]
    for name, wall, mem in rows:
        ratio = wall / ideal
        verdict = "ok" if ratio <= 1.3 else "SLOW"
        print(f"  {name:<46} {wall:8.2f} {ratio:8.2f} {'<=1.30':>8} {mem:>22}  {verdict}")
    print(
        f"  CPU time of this process: poll.run {cpu_poll:.2f} s, Fetcher only {cpu_fetch:.2f} s "
        "(poll.run parses in worker processes when it has 24+ feeds; their CPU is not counted here)"
    )
    print()
    print(
        f"  poll report: fetched {report.fetched}, failed {report.failed}, new articles {report.new_articles}; "
        f"peak concurrent requests on one host: {peak_conc} (must be 1)"
    )


if __name__ == "__main__":
    main()
