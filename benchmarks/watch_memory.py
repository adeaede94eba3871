"""Watcher memory over many cycles: does it stay flat?

Runs the real watcher loop (`monitor.watch.loop.Watcher.cycle`) against a loopback feed server whose
feeds never change. Every cycle the feeds are made due again, so each cycle really polls them
(conditional GET -> 304); every 10th cycle also runs every later stage (no work to do) and
evaluates an alert rule (nothing new to fire). Stage chatter on stderr is discarded. Prints RSS and tracemalloc's traced Python memory at cycle 100 (the baseline,
after warm-up) and at the last cycle, and their ratio (flat: ~1.0).

    .venv/bin/python benchmarks/watch_memory.py            # 1,000 cycles
    .venv/bin/python benchmarks/watch_memory.py --cycles 300
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.config.settings import Settings  # noqa: E402
from monitor.store.db import iso, open_db, utcnow, write_transaction  # noqa: E402
from monitor.watch.loop import StopFlag, Watcher  # noqa: E402
from tests.feedserver import FeedServer, small_rss  # noqa: E402


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100, help="cycle whose memory is the baseline")
    parser.add_argument("--stages-every", type=int, default=10, help="run the later stages every N cycles")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="watch-memory-"))
    os.environ["MONITOR_DATA_DIR"] = str(work / "data")
    with FeedServer() as server:
        server.route("/us.xml", small_rss("US wire cartel strikes", items=20), etag='"us-1"')
        server.route("/mx.xml", small_rss("Diario cártel ataques", items=20), etag='"mx-1"')
        registry = work / "outlets.toml"
        registry.write_text(
            f'[[outlets]]\nid = "us-wire"\nname = "US"\ncountry = "US"\nlanguage = "en"\n'
            f'feeds = [ {{ url = "{server.url("/us.xml")}" }} ]\n\n'
            f'[[outlets]]\nid = "mx-diario"\nname = "MX"\ncountry = "MX"\nlanguage = "es"\n'
            f'feeds = [ {{ url = "{server.url("/mx.xml")}" }} ]\n',
            encoding="utf-8",
        )
        settings = Settings(db=str(work / "watch.db"), feeds=str(registry)).replace(
            poll__allow_private=True,
            poll__per_host_spacing_s=0.0,
            poll__jitter=0.0,
            translation__engine="none",
            watch__alert_lookback_h=24 * 365 * 10,
            alerts=[{"name": "cartel", "terms": "cartel OR cártel", "sinks": ["log"]}],
        )
        db = open_db(settings.db_path)
        watcher = Watcher(db, settings, emit=lambda *a, **k: None, stop=StopFlag())
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - stage logs, for the whole run
        tracemalloc.start()
        started = time.perf_counter()
        base_rss = base_traced = 0
        requests = 0
        for cycle in range(1, args.cycles + 1):
            with write_transaction(db):  # the interval has elapsed: every feed is due again
                db.execute("UPDATE feeds SET next_check_at = ?", [iso(utcnow())])
            if cycle % args.stages_every == 0:
                watcher.pending_stages = True
            watcher.cycle()
            requests += len(server.requests)
            server.reset_log()  # the test server's own request log would otherwise grow in this process
            if cycle == args.baseline:
                base_rss, base_traced = rss_kib(), tracemalloc.get_traced_memory()[0]
                print(f"cycle {cycle:>5}: RSS {base_rss / 1024:7.1f} MiB  traced {base_traced / 2**20:7.2f} MiB"
                      f"  ({time.perf_counter() - started:.1f} s)")
        end_rss, end_traced = rss_kib(), tracemalloc.get_traced_memory()[0]
        elapsed = time.perf_counter() - started
        db.close()
        sys.stderr = sys.__stderr__
    print(f"cycle {args.cycles:>5}: RSS {end_rss / 1024:7.1f} MiB  traced {end_traced / 2**20:7.2f} MiB  ({elapsed:.1f} s)")
    print(f"polls: {watcher.report.polls}, requests served: {requests}, stage runs: {watcher.report.stage_runs}")
    print(f"RSS ratio cycle {args.cycles}/{args.baseline}: {end_rss / base_rss:.3f}")
    print(f"traced-memory ratio cycle {args.cycles}/{args.baseline}: {end_traced / base_traced:.3f}"
          f"  (+{(end_traced - base_traced) / 1024:.0f} KiB over {args.cycles - args.baseline} cycles)")


if __name__ == "__main__":
    main()
