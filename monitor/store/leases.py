"""Feed leases: a poll process claims a feed before fetching it, so two processes on one database
never fetch or store the same feed twice; a lease left by a killed process is taken over at once."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

import sqlite_utils

from monitor.config.settings import Settings
from monitor.errors import StorageError
from monitor.models import FeedJob
from monitor.store.db import iso, parse_iso, utcnow, write_transaction


def lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_alive(owner: str | None) -> bool:
    """False when the lease belongs to a process of this machine that no longer exists."""
    if not owner:
        return False
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's lease: trust its expiry
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(db: sqlite_utils.Database, job: FeedJob, owner: str, settings: Settings, force: bool) -> str | None:
    """Take the feed's lease; None when claimed, else why it was skipped."""
    now = utcnow()
    with write_transaction(db):
        row = db.execute(
            "SELECT lease_until, lease_owner, next_check_at, status FROM feeds WHERE id = ?", [job.feed_id]
        ).fetchone()
        lease_until, lease_owner, next_check_at, status = row
        if status not in ("active", "failing"):
            return f"feed is {status}"
        if lease_until and parse_iso(lease_until) > now and owner_alive(lease_owner):
            return "being polled by another process"
        if not force and next_check_at and parse_iso(next_check_at) > now:
            return "polled by another process meanwhile"
        host_row = db.execute("SELECT retry_after_until FROM hosts WHERE host = ?", [job.host]).fetchone()
        if host_row and host_row[0] and parse_iso(host_row[0]) > now:
            return f"host rate limited until {host_row[0]}"
        lease = now + timedelta(seconds=settings.poll.deadline_s * 2 + 30)
        db.execute(
            "UPDATE feeds SET lease_until = ?, lease_owner = ? WHERE id = ?", [iso(lease), owner, job.feed_id]
        )
    return None


def release(db: sqlite_utils.Database, job: FeedJob) -> None:
    try:
        with write_transaction(db):
            db.execute("UPDATE feeds SET lease_until = NULL, lease_owner = NULL WHERE id = ?", [job.feed_id])
    except StorageError:
        pass
