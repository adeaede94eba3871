"""Sending the digest over SMTP: one multipart/alternative message (text + HTML) per recipient.

Headers are built with `email.message.EmailMessage(policy=email.policy.SMTP)` from values that went
through `one_line` (line breaks, Unicode separators and control characters collapsed), so a feed title
can neither inject a header nor crash the digest. Recipients come only from the config or `--to`.
Each (day, language, recipient) is claimed before it is sent and sent once: a `sent` row is skipped
unless `resend`; a failure is recorded and retried on the next run; a claim left by a killed process
expires and is retried (at-least-once: see monitor/digest/claims.py for why e-mail cannot be
exactly-once). The Message-ID is deterministic (day, language, sender, recipient, delivery n), so a
repeat after a crash carries the id of the copy that may already have arrived.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime
from typing import Literal

import sqlite_utils

from monitor.config.settings import Settings
from monitor.digest.claims import Clock, claim_ttl, claimant
from monitor.digest.model import Digest
from monitor.digest.storage import SendRecord, claim_send, finish_send
from monitor.mail import Session, check_address, one_line

SENDER_NAME = "US–MX news monitor"


@dataclass
class SendResult:
    recipient: str
    status: Literal["sent", "failed", "skipped", "in_progress"]  # in_progress: another process holds the claim
    message_id: str | None
    error: str | None
    sent_at: str | None  # for skipped: when it was sent before


def message_id(digest: Digest, sender: str, recipient: str, delivery: int) -> str:
    """Deterministic: the same digest day/language to the same recipient gets the same id per delivery."""
    key = hashlib.sha256(f"{digest.lang}\x1f{sender}\x1f{recipient}".encode()).hexdigest()[:16]
    domain = re.sub(r"[^A-Za-z0-9.-]", "", sender.rpartition("@")[2]) or "localhost"
    return f"<digest.{digest.day}.{digest.lang}.{key}.{delivery}@{domain}>"


def build_message(
    digest: Digest, text: str, html: str, sender: str, recipient: str, msg_id: str, now: datetime
) -> EmailMessage:
    msg = EmailMessage(policy=SMTP_POLICY)
    local, _, domain = sender.partition("@")
    msg["From"] = Address(display_name=SENDER_NAME, username=local, domain=domain)
    local, _, domain = recipient.partition("@")
    msg["To"] = Address(username=local, domain=domain)
    msg["Subject"] = one_line(digest.subject)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = msg_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    msg["Content-Language"] = digest.lang  # after the body: set_content drops every Content-* header set before
    return msg


def send_digest(
    db: sqlite_utils.Database,
    settings: Settings,
    digest: Digest,
    digest_hash: str,
    text: str,
    html: str,
    recipients: list[str],
    *,
    now: datetime,
    resend: bool = False,
    owner: str | None = None,
) -> list[SendResult]:
    """Send to every recipient not yet served for this (day, language) (all of them with `resend`).

    Each send is claimed in the ledger before the SMTP conversation (see monitor/digest/claims.py):
    any number of concurrent processes send each (day, language, recipient) once; a recipient
    another process is sending to right now is reported `in_progress` and left to it.
    """
    sender = check_address(settings.digest.sender, "[digest] sender")
    addresses = list(dict.fromkeys(check_address(r) for r in recipients))
    owner = owner or claimant()
    clock = Clock(now)
    ttl = claim_ttl(settings.smtp.timeout_s)
    results: list[SendResult] = []
    session = Session(settings)
    try:
        for addr in addresses:
            claim = claim_send(db, digest, digest_hash, addr, owner, clock(), ttl, resend=resend)
            if not claim.ok:
                results.append(_not_ours(claim.record))
                continue
            mid = message_id(digest, sender, addr, claim.record.sends)
            error = session.send(build_message(digest, text, html, sender, addr, mid, clock()), sender, addr)
            record = finish_send(db, digest, addr, owner, mid, error, clock())
            results.append(SendResult(addr, "failed" if error else "sent", mid, error, None if error else record.sent_at))
    finally:
        session.close()
    return results


def _not_ours(record: SendRecord) -> SendResult:
    if record.status == "sent":
        return SendResult(record.recipient, "skipped", record.message_id, None, record.sent_at)
    return SendResult(record.recipient, "in_progress", None, f"being sent by {record.claimed_by} (claim until {record.claim_until})", None)
