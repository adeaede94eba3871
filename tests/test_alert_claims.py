"""Each alert is delivered once per (rule, subject, sink) across processes: two real processes
deliver against one loopback webhook receiver; an expired claim (a killed watcher's) is retried;
the background delivery thread survives a real sqlite3 error and goes on delivering."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor.config.settings import Settings
from monitor.digest.claims import claim_ttl
from monitor.store.db import iso, open_db, write_transaction
from monitor.watch import alerts
from tests.fixtures_alerts import WebhookReceiver

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
WAIT_S = 60.0  # the longest a test waits for another thread or process (sync only, never asserted on)
WORKER = """
import sys
from monitor.watch import alerts
from monitor.config.settings import Settings
from monitor.store.db import open_db, parse_iso
db_path, now = sys.argv[1], parse_iso(sys.argv[2])
settings = Settings(db=db_path).replace(watch__webhook_timeout_s=60.0)
db = open_db(db_path)
try:
    print(alerts.deliver_due(db, settings, now).sent)
finally:
    db.close()
"""


def _fire(settings: Settings, db_path: Path, url: str, n: int) -> tuple[Settings, list[int]]:
    """Record `n` alerts of a webhook rule (the real ledger code); their alert ids."""
    s = settings.replace(db=str(db_path), alerts=[{"name": "hook", "terms": "x", "sinks": ["webhook"], "webhook": url}])
    [rule] = alerts.load_rules(s)
    matches = [
        alerts.Match("hook", "article", i, "test", {"text": f"alert {i}", "rule": "hook", "kind": "article", "article": i})
        for i in range(1, n + 1)
    ]
    db = open_db(db_path)
    try:
        assert len(alerts.record(db, rule, matches, NOW)) == n
        ids = [int(r[0]) for r in db.execute("SELECT id FROM alerts_fired ORDER BY id")]
    finally:
        db.close()
    return s, ids


def _deliveries(db_path: Path) -> list[tuple[Any, ...]]:
    db = open_db(db_path)
    try:
        return db.execute("SELECT status, attempts, claimed_by, last_error FROM alert_deliveries ORDER BY alert").fetchall()
    finally:
        db.close()


def test_two_processes_deliver_each_alert_once(settings: Settings, db_path: Path, webhook_receiver: WebhookReceiver) -> None:
    _fire(settings, db_path, webhook_receiver.url, 6)
    webhook_receiver.gate = 2  # the first POST waits for a second one: both processes are sending at once

    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db_path), iso(NOW)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [w.communicate(timeout=WAIT_S * 2) for w in workers]

    assert [w.returncode for w in workers] == [0, 0], results
    assert sum(int(out) for out, _ in results) == 6
    assert sorted(p["article"] for p in webhook_receiver.posts) == [1, 2, 3, 4, 5, 6]  # once each, not twice
    assert _deliveries(db_path) == [("sent", 1, None, None)] * 6


def test_an_expired_claim_is_delivered_again_and_given_up_after_the_last_attempt(
    settings: Settings, db_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    s, [first, second] = _fire(settings, db_path, webhook_receiver.url, 2)
    s = s.replace(watch__alert_max_attempts=2)
    ttl = claim_ttl(max(s.watch.webhook_timeout_s, s.smtp.timeout_s))
    db = open_db(db_path)
    try:
        # a watcher on another machine claimed the first alert and died before finishing it
        assert alerts.claim_delivery(db, s, first, "webhook", "elsewhere:1:dead", NOW) is not None
        with write_transaction(db):  # the second alert: already on its last attempt when its watcher died
            db.execute("UPDATE alert_deliveries SET attempts = 1 WHERE alert = ?", [second])
        assert alerts.claim_delivery(db, s, second, "webhook", "elsewhere:1:dead", NOW) is not None

        before = alerts.deliver_due(db, s, NOW + ttl - timedelta(seconds=1))
        assert before.sent == 0 and webhook_receiver.attempts == 0  # the claims still hold

        after = alerts.deliver_due(db, s, NOW + ttl + timedelta(seconds=1))
        assert after.sent == 1
        assert [p["article"] for p in webhook_receiver.posts] == [1]
        rows = _deliveries(db_path)
        assert rows[0] == ("sent", 2, None, None)
        assert rows[1][:3] == ("failed", 2, None) and "never finished" in rows[1][3]
        assert alerts.deliver_due(db, s, NOW + timedelta(days=1)).sent == 0
    finally:
        db.close()
    assert len(webhook_receiver.posts) == 1


def test_delivery_thread_survives_a_sqlite_error_and_goes_on(
    settings: Settings, db_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    s, _ = _fire(settings, db_path, webhook_receiver.url, 1)
    db = open_db(db_path)
    with write_transaction(db):  # the dispatcher's query now fails with sqlite3.OperationalError
        db.execute("ALTER TABLE alert_deliveries RENAME TO alert_deliveries_away")
    events: list[tuple[str, dict[str, Any]]] = []
    failed = threading.Event()

    def emit(event: str, **fields: Any) -> None:
        events.append((event, fields))
        if event == "alert_dispatch_failed":
            failed.set()

    dispatcher = alerts.AlertDispatcher(s, db_path, emit=emit, idle_s=0.05, clock=lambda: NOW)
    dispatcher.start()
    try:
        assert failed.wait(WAIT_S), events
        assert dispatcher.alive
        assert "OperationalError" in next(f["error"] for e, f in events if e == "alert_dispatch_failed")
        with write_transaction(db):
            db.execute("ALTER TABLE alert_deliveries_away RENAME TO alert_deliveries")
        deadline = time.monotonic() + WAIT_S
        while not webhook_receiver.posts and time.monotonic() < deadline:
            dispatcher.wake()
            time.sleep(0.05)
        assert dispatcher.alive
    finally:
        dispatcher.stop(WAIT_S)
        db.close()
    assert [p["article"] for p in webhook_receiver.posts] == [1]
    assert dispatcher.failures >= 1 and dispatcher.report.sent == 1
    assert _deliveries(db_path) == [("sent", 1, None, None)]
