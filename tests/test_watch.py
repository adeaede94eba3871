"""The watcher against a real loopback feed server: scheduled polling, alerts delivered exactly once
to a loopback webhook receiver and an aiosmtpd server, a failing webhook that does not block
polling, and SIGTERM to a `monitor watch` subprocess while a feed hangs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.settings import Settings
from monitor.store import iso, open_db, utcnow, write_transaction
from monitor.watch import EventLog, StopFlag, digest_due, run_watch
from tests.feedserver import FeedServer
from tests.fixtures_alerts import SmtpServer, WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]


def rss(title: str, items: list[tuple[str, str]], link: str = "https://news.example/") -> bytes:
    """An RSS document with (guid, headline) items published just now."""
    now = format_datetime(utcnow(), usegmt=True)
    entries = "".join(
        f"<item><title>{headline}</title><link>{link}{guid}</link><guid>{link}{guid}</guid>"
        f"<pubDate>{now}</pubDate><description>{headline}. More on the story.</description></item>"
        for guid, headline in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{link}</link><description>{title}</description>{entries}</channel></rss>"
    ).encode()


US_ITEMS = [("us-1", "Pentagon weighs strikes on cartel labs"), ("us-2", "Senate passes farm bill")]
MX_ITEMS = [("mx-1", "Gobierno rechaza ataques contra el cártel en territorio mexicano"), ("mx-2", "Sube el precio del maíz")]


class Events:
    """Collects the watcher's events (and checks each renders as one logfmt line)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any]]] = []
        self._fmt = EventLog()

    def __call__(self, event: str, **fields: Any) -> None:
        assert "\n" not in self._fmt.line(event, **fields)
        self.items.append((event, fields))

    def named(self, event: str) -> list[dict[str, Any]]:
        return [f for e, f in self.items if e == event]


def _count(db_path: Path, sql: str, params: list[Any] | None = None) -> int:
    db = open_db(db_path)
    try:
        return int(db.execute(sql, params or []).fetchone()[0])
    finally:
        db.close()


def _interval_elapsed(db_path: Path) -> None:
    """Move every feed's next check into the past, as if the polling interval had gone by."""
    db = open_db(db_path)
    try:
        with write_transaction(db):
            db.execute("UPDATE feeds SET next_check_at = ?", [iso(utcnow().replace(year=2000))])
    finally:
        db.close()


@pytest.fixture
def watch_settings(
    feed_server: FeedServer,
    make_registry: Callable[..., Path],
    poll_settings: Callable[..., Settings],
    webhook_receiver: WebhookReceiver,
    alert_smtp: SmtpServer,
) -> Settings:
    feed_server.route("/us.xml", rss("US wire", US_ITEMS, "https://us.example/"))
    feed_server.route("/mx.xml", rss("MX diario", MX_ITEMS, "https://mx.example/"))
    registry = make_registry(
        [
            {"id": "us-wire", "country": "US", "language": "en", "feeds": [(feed_server.url("/us.xml"), "news")]},
            {"id": "mx-diario", "country": "MX", "language": "es", "feeds": [(feed_server.url("/mx.xml"), "nacional")]},
        ]
    )
    rule = {
        "name": "cartel-strikes",
        "terms": "cartel OR cártel",
        "sinks": ["log", "webhook", "email"],
        "webhook": webhook_receiver.url,
        "email": ["desk@example.org"],
    }
    return poll_settings(
        registry,
        translation__engine="none",
        alerts=[rule],
        smtp__host=alert_smtp.host,
        smtp__port=alert_smtp.port,
        watch__alert_retry_s=0.05,
        watch__alert_retry_max_s=0.2,
        watch__webhook_timeout_s=0.5,
        watch__digest_time="23:59",
    )


def _watch(settings: Settings, cycles: int, events: Events) -> Any:
    return run_watch(settings, max_cycles=cycles, tick_s=0.0, emit=events, handle_signals=False)


def test_new_items_are_picked_up_on_schedule_and_alert_exactly_once(
    watch_settings: Settings, feed_server: FeedServer, webhook_receiver: WebhookReceiver, alert_smtp: SmtpServer
) -> None:
    db_path = watch_settings.db_path
    events = Events()
    report = _watch(watch_settings, 3, events)
    assert report.cycles == 3 and report.new_articles == 4
    assert feed_server.count("/us.xml") == 1 and feed_server.count("/mx.xml") == 1  # not due again yet
    assert {f["stage"] for f in events.named("stage")} >= {"language", "translate", "analyze", "cluster"}
    assert [p["title"] for p in sorted(webhook_receiver.posts, key=lambda p: p["country"])] == [
        MX_ITEMS[0][1],
        US_ITEMS[0][1],
    ]
    assert len(alert_smtp.messages) == 2
    assert len(events.named("alert")) == 2  # the log sink

    # a new item arrives, but the feeds are not due: nothing is fetched
    feed_server.route("/mx.xml", rss("MX diario", [("mx-3", "Marina abate a jefe de cártel en Sinaloa"), *MX_ITEMS], "https://mx.example/"))
    events = Events()
    _watch(watch_settings, 2, events)
    assert feed_server.count("/mx.xml") == 1
    assert _count(db_path, "SELECT count(*) FROM articles") == 4

    # the interval passes: the next cycle fetches both feeds, stores the new item, alerts once for it
    _interval_elapsed(db_path)
    events = Events()
    report = _watch(watch_settings, 2, events)
    assert feed_server.count("/mx.xml") == 2 and feed_server.count("/us.xml") == 2
    assert report.new_articles == 1
    assert [f["subject"].split(":")[0] for f in events.named("alert_fired")] == ["article"]
    titles = sorted(p["title"] for p in webhook_receiver.posts)
    assert titles == sorted([MX_ITEMS[0][1], US_ITEMS[0][1], "Marina abate a jefe de cártel en Sinaloa"])
    assert len(alert_smtp.messages) == 3
    assert _count(db_path, "SELECT count(*) FROM alerts_fired") == 3
    assert _count(db_path, "SELECT count(*) FROM alert_deliveries WHERE status != 'sent'") == 0


def test_failing_webhook_is_retried_and_does_not_block_polling(
    watch_settings: Settings, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    db_path = watch_settings.db_path
    webhook_receiver.fail_next = 10**6  # the chat service is down...
    webhook_receiver.delay_s = 2.0  # ...and slow: each attempt times out (webhook_timeout_s 0.5)
    events = Events()
    _watch(watch_settings, 2, events)
    assert _count(db_path, "SELECT count(*) FROM articles") == 4
    pending = _count(db_path, "SELECT count(*) FROM alert_deliveries WHERE sink = 'webhook' AND status = 'pending' AND attempts >= 1")
    assert pending == 2 and events.named("alert_retry")

    # polling goes on while the webhook keeps failing
    feed_server.route("/us.xml", rss("US wire", [("us-3", "Cartel leader extradited"), *US_ITEMS], "https://us.example/"))
    _interval_elapsed(db_path)
    _watch(watch_settings, 1, Events())
    assert _count(db_path, "SELECT count(*) FROM articles") == 5
    assert webhook_receiver.posts == []

    # the service comes back: every alert is delivered, exactly once, by the next cycles
    webhook_receiver.fail_next = 0
    webhook_receiver.delay_s = 0.0
    for _ in range(100):
        if _count(db_path, "SELECT count(*) FROM alert_deliveries WHERE status = 'pending'") == 0:
            break
        _watch(watch_settings, 1, Events())
    assert sorted(p["title"] for p in webhook_receiver.posts) == sorted(
        ["Cartel leader extradited", US_ITEMS[0][1], MX_ITEMS[0][1]]
    )
    assert _count(db_path, "SELECT count(*) FROM alert_deliveries WHERE status = 'sent'") == 3 * 3


def test_a_failing_stage_is_logged_and_the_loop_goes_on(watch_settings: Settings, tmp_path: Path) -> None:
    broken = tmp_path / "debate.toml"
    broken.write_text("this is [not a debate", encoding="utf-8")
    events = Events()
    report = _watch(watch_settings.replace(debate=str(broken)), 2, events)
    failed = {f["stage"] for f in events.named("stage_failed")}
    assert "analyze" in failed
    assert report.cycles == 2 and report.new_articles == 4  # polling and the other stages went on


def test_digest_is_due_once_a_day_after_its_time(settings: Settings, db: Any) -> None:
    from datetime import UTC, datetime

    s = settings.replace(watch__digest_time="07:00", digest__timezone="America/Mexico_City")
    before = datetime(2026, 11, 22, 12, 59, tzinfo=UTC)  # 06:59 in Mexico City
    after = datetime(2026, 11, 22, 13, 1, tzinfo=UTC)
    assert digest_due(db, s, before) is None
    assert digest_due(db, s, after) == "2026-11-22"
    with write_transaction(db):
        db.execute("INSERT INTO watch_state (key, value, updated_at) VALUES ('digest_day', '2026-11-22', '')")
    assert digest_due(db, s, after) is None


def test_stop_flag_ends_the_loop_between_steps(watch_settings: Settings) -> None:
    stop = StopFlag()
    events = Events()

    def emit(event: str, **fields: Any) -> None:
        events(event, **fields)
        if event == "poll":
            stop.set()

    report = run_watch(watch_settings, tick_s=0.0, stop=stop, emit=emit, handle_signals=False)
    assert report.stopped_by == "signal" and report.cycles == 1
    assert not events.named("stage")  # stopped before the later stages; the next run does them
    report = _watch(watch_settings, 1, events)
    assert {f["stage"] for f in events.named("stage")} >= {"language", "cluster"}


def _consistent(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        dupes = conn.execute("SELECT count(*) FROM (SELECT feed, identity FROM article_feeds GROUP BY 1, 2 HAVING count(*) > 1)")
        assert dupes.fetchone()[0] == 0
        orphans = conn.execute("SELECT count(*) FROM articles a WHERE NOT EXISTS (SELECT 1 FROM article_feeds f WHERE f.article = a.id)")
        assert orphans.fetchone()[0] == 0
    finally:
        conn.close()


def _start_watch(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "watch", "--tick", "0.2"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_while_a_feed_hangs_leaves_a_consistent_database(
    feed_server: FeedServer, make_registry: Callable[..., Path], tmp_path: Path
) -> None:
    feed_server.route("/us.xml", rss("US wire", US_ITEMS, "https://us.example/"))
    feed_server.route("/mx.xml", rss("MX diario", MX_ITEMS, "https://mx.example/"))
    slow_items = [("s-1", "Cartel violence in Culiacán"), ("s-2", "Border trade slows")]
    feed_server.route("/slow.xml", rss("Slow", slow_items, "https://slow.example/"), delay=600)
    registry = make_registry(
        [
            {"id": "us-wire", "country": "US", "language": "en", "feeds": [(feed_server.url("/us.xml"), "news")]},
            {"id": "mx-diario", "country": "MX", "language": "es", "feeds": [(feed_server.url("/mx.xml"), "n")]},
            {"id": "slow-one", "country": "MX", "language": "es", "feeds": [(feed_server.url("/slow.xml"), "n")]},
        ]
    )
    db_path = tmp_path / "watch.db"
    config = tmp_path / "monitor.toml"
    config.write_text(
        f'db = "{db_path}"\nfeeds = "{registry}"\n'
        "[poll]\nallow_private = true\nper_host_spacing_s = 0.0\njitter = 0.0\ndeadline_s = 600.0\nread_timeout_s = 600.0\n"
        '[translation]\nengine = "none"\n',
        encoding="utf-8",
    )

    # 1. two signals while the slow feed hangs: the poll is interrupted, its open work rolled back
    proc = _start_watch(config)
    try:
        _wait_for(lambda: feed_server.count("/slow.xml") >= 1, "the watcher to reach the hanging feed")
        proc.send_signal(signal.SIGTERM)  # e.g. systemd stopping the service...
        proc.send_signal(signal.SIGINT)  # ...and an impatient Ctrl-C (a different signal: never coalesced)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "event=stopping" in err and "Traceback" not in err, err
    _consistent(db_path)
    assert _count(db_path, "SELECT count(*) FROM articles WHERE outlet = 'slow-one'") == 0

    # 2. the rerun completes: every feed stored once; one SIGTERM between steps stops it cleanly (exit 0)
    feed_server.route("/slow.xml", rss("Slow", slow_items, "https://slow.example/"))
    proc = _start_watch(config)
    try:
        _wait_for(lambda: _count(db_path, "SELECT count(*) FROM runs WHERE stage = 'cluster'") >= 1
                  and _count(db_path, "SELECT count(*) FROM articles WHERE outlet = 'slow-one'") == 2,
                  "the rerun to poll every feed and run the stages")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            print(proc.communicate()[1])
    assert proc.returncode == 0, err
    assert "event=stopped reason=signal" in err
    assert _count(db_path, "SELECT count(*) FROM articles") == 6
    _consistent(db_path)
    for line in err.splitlines():
        if "event=" in line:
            assert line.startswith("ts=") and " event=" in line
