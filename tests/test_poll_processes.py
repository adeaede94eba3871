"""Real processes on one database: two pollers at once, and a poller killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.feedserver import FeedServer
from tests.test_poll import item, rss


def monitor_cmd(db: Path, registry: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "--db", str(db), "--feeds", str(registry), *args]


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["MONITOR_POLL_PER_HOST_SPACING_S"] = "0"
    e["MONITOR_POLL_DEADLINE_S"] = "60"
    return e


def check_consistent(db: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # no orphans, no duplicates, no validators saved without their articles
    assert conn.execute(
        "SELECT count(*) FROM article_feeds af LEFT JOIN articles a ON a.id = af.article WHERE a.id IS NULL"
    ).fetchone()[0] == 0
    assert conn.execute(
        "SELECT count(*) FROM (SELECT outlet, url FROM articles GROUP BY outlet, url HAVING count(*) > 1)"
    ).fetchone()[0] == 0
    assert conn.execute(
        "SELECT count(*) FROM feeds f WHERE f.etag IS NOT NULL AND NOT EXISTS "
        "(SELECT 1 FROM article_feeds af WHERE af.feed = f.id)"
    ).fetchone()[0] == 0
    return conn


def test_two_pollers_at_once_both_finish_without_duplicates(
    feed_server: FeedServer, make_registry: Callable[..., Path], tmp_path: Path
) -> None:
    feed_server.latency = 0.2
    outlets = []
    for n in range(8):
        feed_server.route(f"/f{n}.xml", rss([item(n * 100 + k) for k in range(5)]), etag=f'"e{n}"')
        outlets.append({"id": f"o{n}", "feeds": [(feed_server.url(f"/f{n}.xml"), "")]})
    registry = make_registry(outlets)
    db = tmp_path / "shared.db"
    procs = [
        subprocess.Popen(monitor_cmd(db, registry, "poll", "--allow-private", "--json"), env=env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    conn = check_consistent(db)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 40
    conn.close()
    # each feed fetched once: the other process skipped what was leased or already done
    assert all(feed_server.count(f"/f{n}.xml") == 1 for n in range(8))


def test_sigkill_mid_poll_then_rerun_stores_everything_once(
    feed_server: FeedServer, make_registry: Callable[..., Path], tmp_path: Path
) -> None:
    outlets = []
    for n in range(6):
        # feed 3 hangs (its server takes 10 minutes to answer) until we "fix" it below
        feed_server.route(f"/f{n}.xml", rss([item(n * 100 + k) for k in range(4)]), etag=f'"e{n}"',
                          delay=600 if n == 2 else 0)
        outlets.append({"id": f"o{n}", "feeds": [(feed_server.url(f"/f{n}.xml"), "")]})
    registry = make_registry(outlets)
    db = tmp_path / "crash.db"
    proc = subprocess.Popen(monitor_cmd(db, registry, "poll", "--allow-private"), env=env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while feed_server.count("/f2.xml") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert feed_server.count("/f2.xml") == 1
    time.sleep(0.5)  # let the other feeds commit while feed 3 hangs
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    conn = check_consistent(db)
    assert conn.execute("SELECT lease_owner FROM feeds WHERE outlet = 'o2'").fetchone()[0]  # left by the dead process
    conn.close()
    # the hanging feed recovers; the rerun takes over the dead process's lease and polls only what is due
    feed_server.route("/f2.xml", rss([item(200 + k) for k in range(4)]),
                      etag='"e2"')
    feed_server.reset_log()
    done = subprocess.run(monitor_cmd(db, registry, "poll", "--allow-private"), env=env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    conn = check_consistent(db)
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 24
    conn.close()
    # one host is polled feed after feed: f3..f5 were still queued behind the hanging f2;
    # f0 and f1 were committed before the kill and are not fetched again
    assert sorted(r.path for r in feed_server.requests) == ["/f2.xml", "/f3.xml", "/f4.xml", "/f5.xml"]
