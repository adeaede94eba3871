"""Digests and their sends in the database (tables `digests` and `digest_sends`, db/004_digests.sql).

A digest row is rewritten only when its content changed (hash of the model without its generation
time), so re-running on unchanged input writes nothing. A send row per (day, lang, recipient) is
claimed before each attempt (monitor/digest/claims.py) and records its outcome: `sent` rows are not
sent again without --resend, `failed` rows and expired claims are retried by the next run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlite_utils

from monitor.digest.model import Digest, as_dict
from monitor.store.db import iso, parse_iso, write_transaction


@dataclass
class StoredDigest:
    day: str
    lang: str
    subject: str
    content_hash: str
    text: str
    markdown: str
    html: str
    model: str  # JSON
    created_at: str
    updated_at: str


@dataclass
class SendRecord:
    day: str
    lang: str
    recipient: str
    status: str  # claimed | sent | failed
    attempts: int
    sends: int
    message_id: str | None
    error: str | None
    last_attempt_at: str
    sent_at: str | None
    claimed_by: str | None
    claim_until: str | None


@dataclass
class Claim:
    """The outcome of `claim_send`: ours to send, or the row as another process / a past send left it."""

    ok: bool
    record: SendRecord


def content_hash(digest: Digest) -> str:
    """sha256 of the digest's content, leaving out when it was generated."""
    data: dict[str, Any] = as_dict(digest)
    data["footer"].pop("generated_at", None)
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def load_digest(db: sqlite_utils.Database, day: str, lang: str) -> StoredDigest | None:
    row = db.execute(
        "SELECT day, lang, subject, content_hash, text, markdown, html, model, created_at, updated_at "
        "FROM digests WHERE day = ? AND lang = ?",
        [day, lang],
    ).fetchone()
    return StoredDigest(*row) if row else None


def save_digest(
    db: sqlite_utils.Database, digest: Digest, digest_hash: str, rendered: dict[str, str], now: datetime
) -> bool:
    """Store the rendered digest; False (and nothing written) when the stored one has the same content."""
    with write_transaction(db):
        row = db.execute(
            "SELECT content_hash FROM digests WHERE day = ? AND lang = ?", [digest.day, digest.lang]
        ).fetchone()
        if row and row[0] == digest_hash:
            return False
        when = iso(now)
        db.execute(
            """
            INSERT INTO digests (day, lang, timezone, subject, stories, articles, content_hash, model, text,
                                 markdown, html, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (day, lang) DO UPDATE SET
                timezone = excluded.timezone, subject = excluded.subject, stories = excluded.stories,
                articles = excluded.articles, content_hash = excluded.content_hash, model = excluded.model,
                text = excluded.text, markdown = excluded.markdown, html = excluded.html,
                updated_at = excluded.updated_at
            """,
            [
                digest.day, digest.lang, digest.timezone, digest.subject, digest.total_stories,
                digest.total_articles, digest_hash, rendered["json"], rendered["text"], rendered["markdown"],
                rendered["html"], when, when,
            ],
        )
    return True


_SEND_COLUMNS = "day, lang, recipient, status, attempts, sends, message_id, error, last_attempt_at, sent_at, claimed_by, claim_until"


def get_send(db: sqlite_utils.Database, day: str, lang: str, recipient: str) -> SendRecord | None:
    row = db.execute(
        f"SELECT {_SEND_COLUMNS} FROM digest_sends WHERE day = ? AND lang = ? AND recipient = ?",
        [day, lang, recipient],
    ).fetchone()
    return SendRecord(*row) if row else None


def claim_send(
    db: sqlite_utils.Database,
    digest: Digest,
    digest_hash: str,
    recipient: str,
    owner: str,
    now: datetime,
    ttl: timedelta,
    resend: bool = False,
) -> Claim:
    """Claim the send of `digest` to `recipient` for `owner` (one IMMEDIATE transaction), or say why not.

    Claimable: no row yet, a failed send, a claim that expired, or (with `resend`) a sent one.
    An attempt is counted when claimed, so one cut short by a killed process still shows.
    """
    when = iso(now)
    with write_transaction(db):
        previous = get_send(db, digest.day, digest.lang, recipient)
        if previous and previous.status == "claimed" and previous.claim_until and parse_iso(previous.claim_until) > now:
            return Claim(False, previous)
        if previous and previous.status == "sent" and not resend:
            return Claim(False, previous)
        db.execute(
            """
            INSERT INTO digest_sends (day, lang, recipient, status, subject, content_hash, attempts, sends,
                                      claimed_by, claim_until, first_attempt_at, last_attempt_at)
            VALUES (?, ?, ?, 'claimed', ?, ?, 1, 0, ?, ?, ?, ?)
            ON CONFLICT (day, lang, recipient) DO UPDATE SET
                status = 'claimed', subject = excluded.subject, content_hash = excluded.content_hash,
                attempts = digest_sends.attempts + 1, claimed_by = excluded.claimed_by,
                claim_until = excluded.claim_until, last_attempt_at = excluded.last_attempt_at
            """,
            [digest.day, digest.lang, recipient, digest.subject, digest_hash, owner, iso(now + ttl), when, when],
        )
        record = get_send(db, digest.day, digest.lang, recipient)
    assert record is not None
    return Claim(True, record)


def finish_send(
    db: sqlite_utils.Database,
    digest: Digest,
    recipient: str,
    owner: str,
    message_id: str,
    error: str | None,
    now: datetime,
) -> SendRecord:
    """Record the outcome of `owner`'s claimed attempt: sent when `error` is None, else failed.

    A delivery is always recorded (the mail went out). A failure is recorded only while the claim is
    still ours: if it expired and another process took the row over, its outcome is the one that counts.
    A failed --resend of a digest the recipient already has leaves the row `sent` (with the error).
    """
    when = iso(now)
    with write_transaction(db):
        if error is None:
            db.execute(
                "UPDATE digest_sends SET status = 'sent', sends = sends + 1, message_id = ?, error = NULL, "
                "sent_at = ?, last_attempt_at = ?, claimed_by = NULL, claim_until = NULL "
                "WHERE day = ? AND lang = ? AND recipient = ?",
                [message_id, when, when, digest.day, digest.lang, recipient],
            )
        else:
            db.execute(
                "UPDATE digest_sends SET status = CASE WHEN sends > 0 THEN 'sent' ELSE 'failed' END, message_id = ?, error = ?, last_attempt_at = ?, "
                "claimed_by = NULL, claim_until = NULL "
                "WHERE day = ? AND lang = ? AND recipient = ? AND status = 'claimed' AND claimed_by = ?",
                [message_id, error, when, digest.day, digest.lang, recipient, owner],
            )
        record = get_send(db, digest.day, digest.lang, recipient)
    assert record is not None
    return record
