"""The watcher against a real loopback feed server: scheduled polling, alerts delivered exactly once
to a loopback webhook receiver and an aiosmtpd server, a failing webhook that does not block
polling, the daily digest under a frozen clock (any hour: the clock is an input), a failing stage
or digest that never stops the loop, and SIGTERM to a `monitor watch` subprocess while a feed hangs.

The tests that do not test the digest switch it off (`digest_time = "off"`), so none of them
depends on the time of day they run at."""

from __future__ import annotations

import io
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config.settings import Settings
from monitor.errors import ConfigError
from monitor.models import ProgressEvent, StageReport
from monitor.store.db import iso, open_db, utcnow, write_transaction
from monitor.watch import loop as watch
from monitor.watch.loop import (
    EventLog,
    LogfmtFormatter,
    StopFlag,
    digest_due,
    event_fields,
    logfmt_line,
    run_watch,
)
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

    def __call__(self, event: str, **fields: Any) -> None:
        assert "\n" not in logfmt_line(event, fields, ts=utcnow())
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
        watch__digest_time="off",  # the digest tests below turn it on, with a frozen clock
    )


def _watch(settings: Settings, cycles: int, events: Events, clock: Callable[[], datetime] = utcnow) -> Any:
    return run_watch(settings, max_cycles=cycles, tick_s=0.0, emit=events, handle_signals=False, clock=clock)


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
    assert digest_due(db, s.replace(watch__digest_time="off"), after + timedelta(days=1)) is None
    with pytest.raises(ConfigError, match="HH:MM"):
        digest_due(db, s.replace(watch__digest_time="7am"), after)


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
        '[translation]\nengine = "none"\n[watch]\ndigest_time = "off"\n',
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


# --- the daily digest under a frozen clock -----------------------------------------------------

MEXICO_CITY = ZoneInfo("America/Mexico_City")
DAY = "2026-11-22"


def local(day: str, hh_mm: str) -> datetime:
    """A wall-clock time in Mexico City (the digest's time zone), as the UTC instant the clock returns."""
    return datetime.fromisoformat(f"{day}T{hh_mm}").replace(tzinfo=MEXICO_CITY).astimezone(UTC)


class SteppingClock:
    """A frozen clock that moves to its next instant at each reading; one reading too many fails."""

    def __init__(self, *instants: datetime) -> None:
        self.instants = list(instants)
        self.reads = 0

    def __call__(self) -> datetime:
        assert self.reads < len(self.instants), "the watcher read its clock more than once per tick"
        self.reads += 1
        return self.instants[self.reads - 1]


def _state(db_path: Path, key: str) -> str | None:
    db = open_db(db_path)
    try:
        row = db.execute("SELECT value FROM watch_state WHERE key = ?", [key]).fetchone()
        return str(row[0]) if row else None
    finally:
        db.close()


@pytest.fixture
def digest_settings(watch_settings: Settings, alert_smtp: SmtpServer) -> Settings:
    """The watcher with a 07:00 digest in Mexico City mailed to one editor, no alert rules."""
    return watch_settings.replace(
        alerts=[],
        watch__digest_time="07:00",
        digest__timezone="America/Mexico_City",
        digest__recipients=["editor@example.org"],
    )


@pytest.mark.parametrize("hh_mm", ["13:00", "23:30"])  # 23:30 local is already the next day in UTC
def test_digest_after_its_time_is_done_once_and_the_loop_goes_on(
    digest_settings: Settings, alert_smtp: SmtpServer, hh_mm: str
) -> None:
    db_path = digest_settings.db_path
    events = Events()
    report = _watch(digest_settings, 3, events, clock=SteppingClock(*[local(DAY, hh_mm)] * 3))
    assert events.named("stage_failed") == [] and events.named("traceback") == []
    assert [d["day"] for d in events.named("digest")] == [DAY]  # the report's own `day` did not collide
    assert report.digests == 1 and report.cycles == 3 and report.new_articles == 4
    assert events.items[-1][0] == "stopped" and events.named("stopped")[0]["cycles"] == 3
    assert _state(db_path, "digest_day") == DAY
    assert (db_path.parent / "digests" / f"digest-{DAY}.html").is_file()  # digests/ beside the database
    assert [rcpt for _sender, rcpt in alert_smtp.envelopes] == [["editor@example.org"]]

    # a restart the same day (systemd, a deploy): the digest is not redone, nothing crashes
    events = Events()
    report = _watch(digest_settings, 2, events, clock=SteppingClock(*[local(DAY, hh_mm)] * 2))
    assert events.named("stage_failed") == [] and events.named("digest") == []
    assert report.cycles == 2 and len(alert_smtp.envelopes) == 1


def test_the_clock_is_read_once_per_tick_and_the_digest_is_due_once_a_day(
    digest_settings: Settings, alert_smtp: SmtpServer
) -> None:
    ticks = ["06:59", "07:01", "23:30"]
    clock = SteppingClock(*[local(DAY, t) for t in ticks], local("2026-11-23", "06:59"), local("2026-11-23", "07:00"))
    at_read: list[tuple[int, str]] = []
    events = Events()

    def emit(event: str, **fields: Any) -> None:
        events(event, **fields)
        if event == "digest":
            at_read.append((clock.reads, fields["day"]))

    report = run_watch(digest_settings, max_cycles=5, tick_s=0.0, emit=emit, handle_signals=False, clock=clock)
    assert report.cycles == 5 and clock.reads == 5
    assert at_read == [(2, DAY), (5, "2026-11-23")]  # due from 07:00 local, once per local day
    assert events.named("stage_failed") == []
    assert len(alert_smtp.envelopes) == 2 and _state(digest_settings.db_path, "digest_day") == "2026-11-23"


def test_a_failed_digest_is_not_marked_done_and_is_retried_later(
    digest_settings: Settings, alert_smtp: SmtpServer
) -> None:
    with socket_closed_port() as port:
        down = digest_settings.replace(smtp__port=port)  # nothing listens: the send fails
        events = Events()
        clock = SteppingClock(local(DAY, "07:01"), local(DAY, "07:05"), local(DAY, "07:17"))
        report = _watch(down, 3, events, clock=clock)
    failed = [f["stage"] for f in events.named("stage_failed")]
    assert failed == ["digest", "digest"]  # 07:01, not at 07:05 (within interval_min), again at 07:17
    assert [r["day"] for r in events.named("digest_retry")] == [DAY, DAY]
    assert report.cycles == 3 and report.new_articles == 4  # the loop went on
    assert _state(down.db_path, "digest_day") is None

    # the mail server is back: the next start sends it, and records the day
    events = Events()
    _watch(digest_settings, 1, events, clock=SteppingClock(local(DAY, "07:20")))
    assert events.named("stage_failed") == [] and [d["day"] for d in events.named("digest")] == [DAY]
    assert [rcpt for _sender, rcpt in alert_smtp.envelopes] == [["editor@example.org"]]
    assert _state(digest_settings.db_path, "digest_day") == DAY


class socket_closed_port:
    """A loopback port nobody listens on (bound, then closed)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])

    def __exit__(self, *_exc: object) -> None:
        return None


@dataclass
class CollidingReport(StageReport):
    """A stage report whose field names are the digest event's and the log line's own."""

    stage = "digest"
    day: str
    sent: int
    event: str
    ts: str


def test_any_exception_in_any_step_is_logged_with_its_stage_and_the_loop_goes_on(
    digest_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def buggy_cluster(*_args: Any, **_kw: Any) -> Any:
        raise KeyError("a bug, not a MonitorError")

    def colliding_digest(*_args: Any, now: datetime, **_kw: Any) -> CollidingReport:
        return CollidingReport(day="2026-11-21", sent=3, event="digest", ts="yesterday")

    stages = dict(watch.STAGES)
    stages.update(cluster=buggy_cluster, digest=colliding_digest)
    monkeypatch.setattr(watch, "STAGES", list(stages.items()))
    events = Events()
    report = _watch(digest_settings, 2, events, clock=SteppingClock(*[local(DAY, "08:00")] * 2))
    assert [(f["stage"], f["error"]) for f in events.named("stage_failed")] == [
        ("cluster", "KeyError: 'a bug, not a MonitorError'")
    ]
    assert report.cycles == 2 and report.new_articles == 4
    assert {f["stage"] for f in events.named("stage")} >= {"language", "translate", "analyze"}
    (digest,) = events.named("digest")
    assert digest == {
        "day": DAY, "sent": True, "report_day": "2026-11-21", "report_sent": 3,
        "report_event": "digest", "report_ts": "yesterday", "stage": "digest",
    }
    assert _state(digest_settings.db_path, "digest_day") == DAY


def test_event_fields_never_collide_and_are_deterministic() -> None:
    fixed = {"day": "2026-11-22", "sent": True}
    extra = {"day": "2026-11-22", "sent": 2, "report_sent": 9, "event": "x", "ts": "t", "stories": 4}
    merged = event_fields(fixed, extra)
    assert merged == {
        "day": "2026-11-22", "sent": True, "report_sent": 2, "report_report_sent": 9,
        "report_event": "x", "report_ts": "t", "stories": 4,
    }
    assert event_fields(fixed, extra) == merged
    line = logfmt_line("digest", {**merged, "level": "mine"}, ts=datetime(2026, 11, 22, tzinfo=UTC))
    keys = [part.split("=", 1)[0] for part in line.split(" ")]
    assert keys == ["ts", "level", "event", *merged, "report_level"]  # one of each: the line stays greppable
    assert line.startswith("ts=2026-11-22T00:00:00+00:00 level=info event=digest ")


def _logged(*events: tuple[str, dict[str, Any]]) -> list[str]:
    """What the watcher's logger writes for `events` through a real stdlib handler and the formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter(clock=lambda: datetime(2026, 11, 22, 14, 5, tzinfo=UTC)))
    logger = logging.getLogger("monitor.watch.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        emit = EventLog(logger)
        for event, fields in events:
            emit(event, **fields)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def test_events_go_through_stdlib_logging_as_logfmt_lines_quoted_and_redacted() -> None:
    lines = _logged(
        ("poll", {"stage": "poll", "fetched": 3, "new_articles": 5}),
        ("feed_error", {"outlet": "la-jornada", "url": "https://user:hunter2@feeds.example/rss?token=s3cret",
                        "error": 'HTTP 500 "bad"\nsecond line', "skipped": None}),
        ("stage_failed", {"stage": "cluster", "error": "KeyError: 'x'"}),
    )
    assert lines == [
        "ts=2026-11-22T14:05:00+00:00 level=info event=poll stage=poll fetched=3 new_articles=5",
        "ts=2026-11-22T14:05:00+00:00 level=warning event=feed_error outlet=la-jornada "
        'url="https://***@feeds.example/rss?token=***" error="HTTP 500 \\"bad\\" second line"',
        "ts=2026-11-22T14:05:00+00:00 level=warning event=stage_failed stage=cluster error=\"KeyError: 'x'\"",
    ]


def test_run_watch_logs_to_stderr_by_default_and_removes_its_handler(
    watch_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    run_watch(watch_settings, max_cycles=1, tick_s=0.0, handle_signals=False)
    err = capsys.readouterr().err
    events = [line.split(" event=", 1)[1].split(" ", 1)[0] for line in err.splitlines() if " event=" in line]
    assert events[0] == "start" and events[-1] == "stopped" and "poll" in events and "stage" in events, err
    assert all(line.startswith("ts=") and " level=" in line for line in err.splitlines()), err
    assert watch.LOGGER.handlers == []  # nothing left behind for the next run (or the application)


def test_the_watchers_progress_logs_notes_and_long_work_by_quarters() -> None:
    events = Events()
    progress = watch.WatchProgress(events)
    progress(ProgressEvent("translate", "note", note="translate: engine argos (1.9)"))
    for stage, total in (("language", 4), ("translate", 400)):
        progress(ProgressEvent(stage, "start", 0, total))
        for done in range(total // 4, total + 1, total // 4):
            progress(ProgressEvent(stage, "advance", done, total))
        progress(ProgressEvent(stage, "done", total, total))
    assert events.named("stage_note") == [{"stage": "translate", "note": "translate: engine argos (1.9)"}]
    assert [(f["stage"], f["done"]) for f in events.named("progress")] == [  # short work: no progress lines
        ("translate", 0), ("translate", 100), ("translate", 200), ("translate", 300), ("translate", 400)
    ]


def test_the_alert_dispatcher_follows_the_ticks_without_reading_the_clock() -> None:
    clock = SteppingClock(local(DAY, "08:00"), local("2026-11-23", "08:00"))
    ticks = watch.TickClock(clock)
    assert ticks.tick() == local(DAY, "08:00")
    later = ticks()  # what the dispatcher thread asks between two ticks
    assert local(DAY, "08:00") <= later < local("2026-11-23", "08:00") and clock.reads == 1
    assert ticks.tick() == local("2026-11-23", "08:00") and ticks() >= local("2026-11-23", "08:00")
    assert clock.reads == 2
