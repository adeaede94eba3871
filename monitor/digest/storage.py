"""Digests and their sends in the database (tables `digests` and `digest_sends`, db/004_digests.sql).

A digest row is rewritten only when its content changed (hash of the model without its generation
time), so re-running on unchanged input writes nothing. A send row per (day, recipient) records every
attempt: `sent` rows are not sent again without --resend, `failed` rows are retried on the next run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from monitor.digest.model import Digest, as_dict
from monitor.store import iso, utcnow, write_transaction


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
    recipient: str
    status: str  # sent | failed
    attempts: int
    sends: int
    message_id: str | None
    error: str | None
    last_attempt_at: str
    sent_at: str | None


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


def save_digest(db: sqlite_utils.Database, digest: Digest, digest_hash: str, rendered: dict[str, str]) -> bool:
    """Store the rendered digest; False (and nothing written) when the stored one has the same content."""
    with write_transaction(db):
        row = db.execute(
            "SELECT content_hash FROM digests WHERE day = ? AND lang = ?", [digest.day, digest.lang]
        ).fetchone()
        if row and row[0] == digest_hash:
            return False
        now = iso(utcnow())
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
                rendered["html"], now, now,
            ],
        )
    return True


def get_send(db: sqlite_utils.Database, day: str, recipient: str) -> SendRecord | None:
    row = db.execute(
        "SELECT day, recipient, status, attempts, sends, message_id, error, last_attempt_at, sent_at "
        "FROM digest_sends WHERE day = ? AND recipient = ?",
        [day, recipient],
    ).fetchone()
    return SendRecord(*row) if row else None


def record_send(
    db: sqlite_utils.Database,
    digest: Digest,
    digest_hash: str,
    recipient: str,
    message_id: str,
    error: str | None,
) -> SendRecord:
    """Record one attempt to send `digest` to `recipient`: sent when `error` is None, else failed."""
    now = iso(utcnow())
    status = "failed" if error else "sent"
    with write_transaction(db):
        db.execute(
            """
            INSERT INTO digest_sends (day, recipient, status, lang, subject, content_hash, message_id, attempts,
                                      sends, error, first_attempt_at, last_attempt_at, sent_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)
            ON CONFLICT (day, recipient) DO UPDATE SET
                status = CASE WHEN excluded.status = 'failed' AND digest_sends.sends > 0 AND digest_sends.status = 'sent'
                              THEN 'sent' ELSE excluded.status END,
                lang = excluded.lang, subject = excluded.subject, content_hash = excluded.content_hash,
                message_id = excluded.message_id, attempts = digest_sends.attempts + 1,
                sends = digest_sends.sends + excluded.sends, error = excluded.error,
                last_attempt_at = excluded.last_attempt_at,
                sent_at = COALESCE(excluded.sent_at, digest_sends.sent_at)
            """,
            [
                digest.day, recipient, status, digest.lang, digest.subject, digest_hash, message_id,
                0 if error else 1, error, now, now, None if error else now,
            ],
        )
    record = get_send(db, digest.day, recipient)
    assert record is not None
    return record
