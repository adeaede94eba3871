"""Sending the digest to a real SMTP server on loopback (aiosmtpd), through `monitor digest`."""

from __future__ import annotations

import json
import threading
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from monitor.cli.main import cli
from monitor.store.db import open_db
from tests.fixtures_digest import build_digest_db, load_fixture

DAY = "2026-11-22"


def _config(tmp_path: Path, port: int, recipients: list[str], timeout: float = 10.0) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(
        f"""
[digest]
recipients = {json.dumps(recipients)}
sender = "digest@monitor.example"
out_dir = "{(tmp_path / 'out').as_posix()}"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout_s = {timeout}
""",
        encoding="utf-8",
    )
    return path


def _digest(config: Path, db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), "digest", "--date", DAY, *args])


def _parse(envelope: Any) -> EmailMessage:
    msg = message_from_bytes(envelope.original_content, policy=default_policy)
    assert isinstance(msg, EmailMessage)
    return msg


def test_sends_multipart_message_with_utf8_subject_and_both_parts(tmp_path, digest_db, smtp_server):
    handler, port = smtp_server
    config = _config(tmp_path, port, ["editor@example.org"])

    result = _digest(config, digest_db, "--send")

    assert result.exit_code == 0, result.output
    assert len(handler.envelopes) == 1
    env = handler.envelopes[0]
    assert env.mail_from == "digest@monitor.example"
    assert env.rcpt_tos == ["editor@example.org"]
    msg = _parse(env)
    assert msg.get_content_type() == "multipart/alternative"
    assert str(msg["Subject"]).startswith("US–MX cartel debate — 2026-11-22: 3 stories, 12 articles")
    assert "=?utf-8?" in env.original_content.decode("ascii").split("\r\n\r\n")[0].lower()  # encoded on the wire
    assert msg["To"] == "editor@example.org"
    assert msg["Message-ID"].startswith("<digest.2026-11-22.en.") and msg["Message-ID"].endswith("@monitor.example>")
    assert msg["Date"]
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "Sheinbaum rechaza ataque de EU en Sinaloa: «México no es colonia»" in plain.get_content()
    assert "Sheinbaum rechaza ataque de EU en Sinaloa: «México no es colonia»" in html.get_content()
    assert html.get_content_charset() == "utf-8"
    # the files are written next to the send, and the send is recorded
    assert (tmp_path / "out" / "digest-2026-11-22.html").is_file()
    db = open_db(digest_db)
    row = db.execute("SELECT status, attempts, message_id FROM digest_sends WHERE day = ?", [DAY]).fetchone()
    assert row == ("sent", 1, msg["Message-ID"])


def test_second_run_does_not_resend_unless_asked(tmp_path, digest_db, smtp_server):
    handler, port = smtp_server
    config = _config(tmp_path, port, ["editor@example.org", "redaccion@example.mx"])

    assert _digest(config, digest_db, "--send").exit_code == 0
    again = _digest(config, digest_db, "--send")

    assert again.exit_code == 0, again.output
    assert len(handler.envelopes) == 2  # one per recipient, none on the second run
    assert "already sent at" in again.output and "use --resend" in again.output

    resent = _digest(config, digest_db, "--send", "--resend", "--to", "editor@example.org")
    assert resent.exit_code == 0, resent.output
    assert len(handler.envelopes) == 3
    assert handler.envelopes[-1].rcpt_tos == ["editor@example.org"]
    ids = [_parse(e)["Message-ID"] for e in handler.envelopes]
    assert len(set(ids)) == 3  # a resend is a new message, with its own (deterministic) id
    as_json = _digest(config, digest_db, "--send", "--json")
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.output)
    assert (report["day"], report["stories"], report["articles"]) == (DAY, 3, 12)
    assert {s["recipient"]: s["status"] for s in report["sends"]} == {"editor@example.org": "skipped", "redaccion@example.mx": "skipped"}
    assert len(handler.envelopes) == 3


def test_failed_send_is_recorded_files_written_and_retried(tmp_path, digest_db, smtp_server):
    handler, port = smtp_server
    handler.fail_next = 1
    config = _config(tmp_path, port, ["editor@example.org"])
    out = tmp_path / "today.md"

    failed = _digest(config, digest_db, "--send", "--format", "markdown", "--out", str(out))

    assert failed.exit_code == 1
    assert "451" in failed.output and "retries" in failed.output
    assert handler.envelopes == []
    for ext in ("html", "txt", "md"):
        assert (tmp_path / "out" / f"digest-2026-11-22.{ext}").is_file()
    assert out.read_text(encoding="utf-8").startswith("# US–MX cartel debate")
    db = open_db(digest_db)
    assert db.execute("SELECT status, attempts FROM digest_sends").fetchall() == [("failed", 1)]
    assert db.execute("SELECT COUNT(*) FROM digests WHERE day = ?", [DAY]).fetchone()[0] == 1

    retried = _digest(config, digest_db, "--send")

    assert retried.exit_code == 0, retried.output
    assert len(handler.envelopes) == 1
    assert db.execute("SELECT status, attempts, error FROM digest_sends").fetchall() == [("sent", 2, None)]
    assert _digest(config, digest_db, "--send").exit_code == 0
    assert len(handler.envelopes) == 1


def test_header_injection_in_a_title_neither_crashes_nor_injects(tmp_path, smtp_server):
    data = load_fixture()
    for article in data["articles"]:  # every headline of the top story, so its title (the subject's lead) is one
        if article["story"] == 1:
            article["title"] = "Ataque\r\nBcc: evil@example.com"
    db_path = build_digest_db(tmp_path / "hostile.db", data)
    handler, port = smtp_server
    config = _config(tmp_path, port, ["editor@example.org"])

    result = _digest(config, db_path, "--send")

    assert result.exit_code == 0, result.output
    assert len(handler.envelopes) == 1
    env = handler.envelopes[0]
    assert env.rcpt_tos == ["editor@example.org"]
    msg = _parse(env)
    assert len(msg.get_all("Subject")) == 1
    assert msg.get_all("Bcc") is None
    subject = str(msg["Subject"])
    assert "\n" not in subject and "\r" not in subject
    assert "Ataque Bcc: evil@example.com" in subject


def test_unanswering_server_fails_within_the_timeout(tmp_path, digest_db, silent_smtp_port):
    config = _config(tmp_path, silent_smtp_port, ["editor@example.org"], timeout=1.0)
    outcome: dict[str, Any] = {}

    def run() -> None:
        outcome["result"] = _digest(config, digest_db, "--send")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(30)  # far above the 1 s timeout: only a hang would reach it

    assert not worker.is_alive(), "the send hung instead of honouring [smtp] timeout_s"
    result = outcome["result"]
    assert result.exit_code == 1
    assert "did not answer within 1 s" in result.output
    db = open_db(digest_db)
    assert db.execute("SELECT status FROM digest_sends").fetchall() == [("failed",)]


def test_recipients_with_line_breaks_are_refused(tmp_path, digest_db, smtp_server):
    handler, port = smtp_server
    config = _config(tmp_path, port, ["editor@example.org"])

    result = _digest(config, digest_db, "--to", "editor@example.org\r\nBcc: evil@example.com")

    assert result.exit_code == 2
    assert "one line" in result.output
    assert handler.envelopes == []


def test_pipeline_stage_sends_the_complete_previous_day_once(tmp_path, digest_db, smtp_server):
    """`monitor run` with sending on: today's files are written, yesterday's digest (the whole day) is
    sent once per recipient; send_day = "today" sends the day so far instead."""
    from datetime import UTC, datetime

    from monitor import digest as digest_pkg
    from monitor.config.settings import Settings
    from monitor.digest.stage import send_day

    handler, port = smtp_server
    settings = Settings(db=str(digest_db)).replace(
        digest__send=True,
        digest__recipients=["desk@example.org"],
        digest__out_dir=str(tmp_path),
        smtp__host="127.0.0.1",
        smtp__port=port,
    )
    noon = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)  # 12:00 in Mexico City
    assert send_day(settings, now=noon).isoformat() == "2026-11-22"
    assert send_day(settings.replace(digest__send_day="today"), now=noon).isoformat() == "2026-11-23"
    db = open_db(digest_db)
    report = digest_pkg.run(db, settings, now=noon)
    yesterday = send_day(settings, now=noon).isoformat()
    assert [s.status for s in report.sends] == ["sent"]
    assert len(handler.envelopes) == 1
    assert yesterday in _parse(handler.envelopes[0])["Subject"]
    assert any(Path(f).name.startswith(f"digest-{report.day}") for f in report.files)
    digest_pkg.run(db, settings, now=noon)
    assert len(handler.envelopes) == 1  # never twice for one (day, recipient)
    # send_day = "today": the digest the stage just built (today's) is the one sent
    today_run = digest_pkg.run(db, settings.replace(digest__send_day="today", digest__recipients=["night@example.org"]), now=noon)
    assert [(s.recipient, s.status) for s in today_run.sends] == [("night@example.org", "sent")]
    assert len(handler.envelopes) == 2
    assert f"{today_run.day}:" in _parse(handler.envelopes[-1])["Subject"]
    assert db.execute("SELECT day FROM digest_sends WHERE recipient = 'night@example.org'").fetchall() == [(today_run.day,)]
    db.close()
