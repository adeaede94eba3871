"""The digest is sent once per (day, language, recipient) across processes: real `python -m monitor
digest --send` subprocesses against one aiosmtpd server on loopback; a sender killed with SIGKILL in
the middle of SMTP DATA leaves a claim that a later run takes over once it expired."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from monitor.config.settings import Settings
from monitor.digest import parse_day
from monitor.digest.stage import make_digest
from monitor.store.db import APPLICATION_ID, _split_sql, migrations, open_db, parse_iso
from tests.fixtures_digest import free_port
from tests.test_digest_send import DAY, _config

ROOT = Path(__file__).resolve().parents[1]
RECIPIENTS = ["editor@example.org", "redaccion@example.mx", "desk@example.com"]
HOLD_S = 20.0  # the most a gated DATA waits for the others (process sync only; never asserted on)
PROCESS_S = 120.0  # a sender subprocess that runs longer than this is hung


class GatedHandler:
    """Accepts every message. With `gate` = n, a DATA is held until n DATA commands are in progress
    at once (or HOLD_S passed), so concurrent senders overlap whatever the machine's speed. With
    `stall_first`, the first DATA is never answered (the sender hangs there until killed)."""

    def __init__(self, gate: int = 1, stall_first: bool = False) -> None:
        self.gate = gate
        self.stall_first = stall_first
        self.envelopes: list[Any] = []
        self.in_data = 0
        self.entered = threading.Event()  # a DATA command arrived
        self._open: asyncio.Event | None = None
        self._never: asyncio.Event | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_data += 1
        self.entered.set()
        if self.stall_first and self.in_data == 1:
            self._never = asyncio.Event()
            await self._never.wait()  # cancelled when the server stops
        self._open = self._open or asyncio.Event()
        if self.in_data >= self.gate:
            self._open.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._open.wait(), HOLD_S)
        self.envelopes.append(envelope)
        return "250 2.0.0 Message accepted"


@pytest.fixture
def gated_smtp(request: pytest.FixtureRequest) -> Iterator[tuple[GatedHandler, int]]:
    from aiosmtpd.controller import Controller

    handler = GatedHandler(**getattr(request, "param", {}))
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def _sender(config: Path, db: Path, *args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "monitor", "--config", str(config), "--db", str(db), "digest", "--date", DAY, "--send", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = proc.communicate(timeout=PROCESS_S)
    return proc.returncode, out


def _mails(handler: GatedHandler) -> list[tuple[str, str]]:
    """(recipient, language) of every accepted message."""
    found = []
    for env in handler.envelopes:
        msg = message_from_bytes(env.original_content, policy=default_policy)
        found.append((env.rcpt_tos[0], str(msg["Content-Language"])))
    return sorted(found)


@pytest.mark.parametrize("gated_smtp", [{"gate": 3}], indirect=True)
def test_three_concurrent_senders_mail_each_recipient_once_per_language(tmp_path, digest_db, gated_smtp):
    handler, port = gated_smtp
    config = _config(tmp_path, port, RECIPIENTS, timeout=HOLD_S + 30)

    procs = [_sender(config, digest_db) for _ in range(3)]
    outcomes = [_finish(p) for p in procs]

    assert all(code == 0 for code, _ in outcomes), outcomes
    assert _mails(handler) == sorted((r, "en") for r in RECIPIENTS)  # once each, not 1-3 times
    db = open_db(digest_db)
    try:
        rows = db.execute("SELECT lang, recipient, status, sends, attempts, claimed_by FROM digest_sends ORDER BY recipient").fetchall()
        assert rows == [("en", r, "sent", 1, 1, None) for r in sorted(RECIPIENTS)]
    finally:
        db.close()

    # the Spanish digest of the same day is another send (the ledger has the language) ...
    code, out = _finish(_sender(config, digest_db, "--lang", "es"))
    assert code == 0, out
    assert _mails(handler) == sorted([(r, "en") for r in RECIPIENTS] + [(r, "es") for r in RECIPIENTS])
    # ... and it too goes out once
    code, out = _finish(_sender(config, digest_db, "--lang", "es"))
    assert code == 0 and out.count("already sent at") == 3, out
    assert len(handler.envelopes) == 6


@pytest.mark.parametrize("gated_smtp", [{"stall_first": True}], indirect=True)
def test_sender_killed_mid_data_leaves_a_claim_retried_after_it_expires(tmp_path, digest_db, gated_smtp):
    handler, port = gated_smtp
    config = _config(tmp_path, port, ["editor@example.org"], timeout=60.0)
    proc = _sender(config, digest_db)
    try:
        assert handler.entered.wait(PROCESS_S), "the sender never reached SMTP DATA"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(PROCESS_S)
    assert handler.envelopes == []
    db = open_db(digest_db)
    try:
        status, claimed_by, claim_until, attempts, sends = db.execute(
            "SELECT status, claimed_by, claim_until, attempts, sends FROM digest_sends"
        ).fetchone()
        assert (status, attempts, sends) == ("claimed", 1, 0)
        assert f":{proc.pid}:" in claimed_by
        expiry = parse_iso(claim_until)
        settings = Settings(db=str(digest_db)).replace(
            digest__recipients=["editor@example.org"],
            digest__sender="digest@monitor.example",
            smtp__host="127.0.0.1",
            smtp__port=port,
            smtp__timeout_s=60.0,
        )
        day = parse_day(DAY, settings.digest.timezone)

        before = make_digest(db, settings, day, now=expiry - timedelta(seconds=1), send=True)
        assert [s.status for s in before.sends] == ["in_progress"]  # still the dead sender's, for now
        assert handler.envelopes == []

        after = make_digest(db, settings, day, now=expiry + timedelta(seconds=1), send=True)
        assert [s.status for s in after.sends] == ["sent"]
        assert _mails(handler) == [("editor@example.org", "en")]
        row = db.execute("SELECT status, attempts, sends, claimed_by, message_id FROM digest_sends").fetchone()
        assert row[:4] == ("sent", 2, 1, None)
        # the retry carries the Message-ID the interrupted attempt had: a copy that did arrive is a duplicate
        msg = message_from_bytes(handler.envelopes[0].original_content, policy=default_policy)
        assert row[4] == msg["Message-ID"] and msg["Message-ID"].startswith("<digest.2026-11-22.en.") and ".0@" in msg["Message-ID"]

        again = make_digest(db, settings, day, now=expiry + timedelta(hours=1), send=True)
        assert [s.status for s in again.sends] == ["skipped"] and len(handler.envelopes) == 1
    finally:
        db.close()


def test_send_ledger_of_a_version_5_database_gains_the_language(tmp_path, smtp_server):
    """An English send recorded before db/006 stays sent; the Spanish digest of that day is then sent."""
    handler, port = smtp_server
    path = tmp_path / "v5.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for number, _name, file in migrations():
        if number <= 5:
            for statement in _split_sql(file.read_text(encoding="utf-8")):
                conn.execute(statement)
    conn.execute("PRAGMA user_version = 5")
    sent_at = "2026-11-23T13:00:00+00:00"
    conn.execute(
        "INSERT INTO digest_sends (day, recipient, status, lang, attempts, sends, first_attempt_at, last_attempt_at, sent_at) "
        "VALUES (?, 'editor@example.org', 'sent', 'en', 1, 1, ?, ?, ?)",
        [DAY, sent_at, sent_at, sent_at],
    )
    conn.commit()
    conn.close()

    db = open_db(path)
    try:
        assert db.execute("SELECT day, lang, recipient, status, sends FROM digest_sends").fetchall() == [
            (DAY, "en", "editor@example.org", "sent", 1)
        ]
        pk = [r[1] for r in sorted(db.execute("PRAGMA table_info(digest_sends)").fetchall(), key=lambda r: r[5]) if r[5]]
        assert pk == ["day", "lang", "recipient"]
        assert {"claimed_by", "claim_until"} <= {r[1] for r in db.execute("PRAGMA table_info(alert_deliveries)")}
        settings = Settings(db=str(path)).replace(
            digest__sender="digest@monitor.example", smtp__host="127.0.0.1", smtp__port=port
        )
        day = parse_day(DAY, settings.digest.timezone)
        now = parse_iso("2026-11-23T18:00:00+00:00")
        to = ["editor@example.org"]
        english = make_digest(db, settings, day, now=now, lang="en", send=True, recipients=to)
        assert [(s.status, s.sent_at) for s in english.sends] == [("skipped", sent_at)]
        spanish = make_digest(db, settings, day, now=now, lang="es", send=True, recipients=to)
        assert [s.status for s in spanish.sends] == ["sent"]
        assert [(e.rcpt_tos, message_from_bytes(e.original_content)["Content-Language"]) for e in handler.envelopes] == [
            (to, "es")
        ]
    finally:
        db.close()


def test_pipeline_stage_reports_a_send_still_claimed_elsewhere_until_it_is_done(tmp_path, digest_db, smtp_server):
    """`digest.run` (the watcher's and `monitor run`'s stage) fails while another process holds a
    recipient's claim, so the watcher retries instead of marking the day done; a failed send
    fails the stage too; once the claim expired the next run sends."""
    from monitor import digest as digest_pkg
    from monitor.digest.storage import claim_send
    from monitor.errors import DigestSendError

    handler, port = smtp_server
    settings = Settings(db=str(digest_db)).replace(
        digest__send=True,
        digest__send_day="today",
        digest__recipients=["desk@example.org"],
        digest__sender="digest@monitor.example",
        digest__out_dir=str(tmp_path),
        smtp__host="127.0.0.1",
        smtp__port=port,
    )
    now = parse_iso("2026-11-22T20:00:00+00:00")  # 14:00 in Mexico City: the fixture day is "today"
    ttl = timedelta(minutes=5)
    db = open_db(digest_db)
    try:
        produced = digest_pkg.produce(db, settings, parse_day(DAY, settings.digest.timezone), now=now)
        claim = claim_send(db, produced.digest, produced.hash, "desk@example.org", "elsewhere:1:busy", now, ttl)
        assert claim.ok

        with pytest.raises(DigestSendError, match=r"being sent to desk@example\.org by another process"):
            digest_pkg.run(db, settings, now=now + ttl - timedelta(seconds=1))
        assert handler.envelopes == []

        handler.fail_next = 1
        with pytest.raises(DigestSendError, match="451"):
            digest_pkg.run(db, settings, now=now + ttl + timedelta(seconds=1))
        assert handler.envelopes == []
        assert db.execute("SELECT status, attempts, claimed_by FROM digest_sends").fetchall() == [("failed", 2, None)]

        report = digest_pkg.run(db, settings, now=now + ttl + timedelta(minutes=1))
        assert [(s.recipient, s.status) for s in report.sends] == [("desk@example.org", "sent")]
        assert len(handler.envelopes) == 1
        digest_pkg.run(db, settings, now=now + timedelta(hours=1))  # done: nothing more
        assert len(handler.envelopes) == 1
    finally:
        db.close()
