"""Feed credentials never leave the database: a feed URL with `user:password@` or a token parameter
is polled with them, but every place that shows or logs a feed (watch log lines, `poll`, `status`,
`feeds list/check`, the digest, the public /feeds page) shows it redacted. Real processes, a real
loopback feed server, a real `monitor serve`."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.feedserver import FeedServer, small_rss
from tests.fixtures_pipeline import write_registry
from tests.monitor_serve import monitor_cmd, monitor_serve

SECRETS = ("hunter2", "s3cret", "k3y", "bob:")
CONFIG = """
[poll]
allow_private = true
per_host_spacing_s = 0
jitter = 0
deadline_s = 10

[translation]
engine = "none"
"""


class Site:
    def __init__(self, tmp_path: Path, server: FeedServer) -> None:
        server.route("/ok.xml", small_rss("Noticias", items=2))
        self.gone_url = server.url("/410").replace("http://", "http://bob:hunter2@") + "?token=s3cret"
        self.failing_url = server.url("/500").replace("http://", "http://bob:hunter2@") + "?page=1&token=s3cret"
        self.ok_url = server.url("/ok.xml") + "?api_key=k3y"
        self.registry = write_registry(
            tmp_path / "outlets.toml",
            [{"id": "privada", "feeds": [(self.gone_url, ""), (self.failing_url, ""), (self.ok_url, "")]}],
        )
        self.config = tmp_path / "monitor.toml"
        self.config.write_text(CONFIG, encoding="utf-8")
        self.db = tmp_path / "monitor.db"
        self.args = ["--config", str(self.config), "--db", str(self.db), "--feeds", str(self.registry)]
        self.host = server.url("/").removeprefix("http://").rstrip("/")

    def run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> str:
        """stdout + stderr of `monitor <args>` (a real process)."""
        proc = subprocess.run(monitor_cmd(*self.args, *args), capture_output=True, text=True, timeout=300, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode in ok_codes, out
        assert "Traceback" not in out, out
        return out


def assert_redacted(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked in:\n{text}"


@pytest.fixture
def site(tmp_path: Path, feed_server: FeedServer) -> Site:
    return Site(tmp_path, feed_server)


def test_feed_credentials_are_used_but_never_shown(site: Site, tmp_path: Path) -> None:
    # the watcher's log lines (its first cycle polls every feed: one gone, one failing)
    log = site.run("watch", "--max-cycles", "1", "--tick", "0")
    assert "event=feed_error" in log and f"http://***@{site.host}/500?page=1&token=***" in log, log
    assert_redacted(log)
    # the database keeps the real URLs (the poll used them) and the real error text
    conn = sqlite3.connect(site.db)
    try:
        stored = {r[0] for r in conn.execute("SELECT url FROM feeds")}
        errors = " ".join(str(r[0]) for r in conn.execute("SELECT last_error FROM feeds WHERE last_error IS NOT NULL"))
    finally:
        conn.close()
    assert stored == {site.gone_url, site.failing_url, site.ok_url}
    assert "hunter2" in errors  # the stored message names the URL it fetched; only displays redact it

    poll = site.run("poll", "--force", "--allow-private")
    assert f"privada http://***@{site.host}/500?page=1&token=***: HTTP 500" in poll, poll
    assert_redacted(poll)
    assert_redacted(site.run("poll", "--force", "--allow-private", "--json"))

    status = site.run("status")
    assert f"http://***@{site.host}/500?page=1&token=***" in status, status
    assert_redacted(status)
    status_json = json.loads(_stdout(site, "status", "--json"))
    problem_urls = {p["url"] for p in status_json["problem_feeds"]}
    assert f"http://***@{site.host}/410?token=***" in problem_urls
    assert_redacted(json.dumps(status_json))

    listing = _stdout(site, "feeds", "list", "--json")
    feeds = {f["url"] for o in json.loads(listing) for f in o["feeds"]}
    assert feeds == {
        f"http://***@{site.host}/410?token=***",
        f"http://***@{site.host}/500?page=1&token=***",
        f"http://{site.host}/ok.xml?api_key=***",
    }
    assert_redacted(listing)
    assert_redacted(site.run("feeds", "list"))

    check = site.run("feeds", "check", "--allow-private", ok_codes=(1,))
    assert f"http://{site.host}/ok.xml?api_key=***" in check and "FAIL" in check, check
    assert_redacted(check)
    assert_redacted(site.run("feeds", "check", "--allow-private", "--json", ok_codes=(1,)))

    digest = site.run("digest", "--format", "text")
    assert f"http://***@{site.host}/410?token=***" in digest, digest
    assert_redacted(digest)

    with monitor_serve(site.args, tmp_path) as served:
        page = httpx.get(served.url + "/feeds", timeout=60)
        assert page.status_code == 200
        assert f"http://***@{site.host}/500?page=1&amp;token=***" in page.text, page.text
        assert_redacted(page.text)
    assert_redacted(served.log.read_text(errors="replace"))


def _stdout(site: Site, *args: str) -> str:
    proc = subprocess.run(monitor_cmd(*site.args, *args), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout
