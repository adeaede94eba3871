"""Retention: the `runs` and `fetches` logs are pruned of rows older than `[poll] retention_days`
at the end of every poll, so a monitor that polls every 15 minutes for years keeps a bounded log.

Articles are never pruned here (they are the archive). The latest run of each stage is always
kept, whatever its age: `monitor status` and the web page show when each stage last ran. Rows are
deleted in small batches, each in its own short transaction, so a first prune of a big database
never holds the write lock long enough to make `watch` or another poll wait.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlite_utils

from monitor.config.settings import Settings
from monitor.store.db import iso, write_transaction

BATCH = 2000  # rows per delete transaction


@dataclass
class PruneReport:
    runs: int = 0
    fetches: int = 0
    cutoff: str | None = None  # rows older than this were removed; None when retention is off


def cutoff(settings: Settings, now: datetime) -> datetime | None:
    """The oldest time kept at `now`, or None when `retention_days` is 0 (keep everything)."""
    days = settings.poll.retention_days
    return now - timedelta(days=days) if days > 0 else None


# Each statement deletes up to BATCH rows older than the cutoff and returns nothing else to read.
_PRUNE_FETCHES = "DELETE FROM fetches WHERE id IN (SELECT id FROM fetches WHERE started_at < ? LIMIT ?)"
_PRUNE_RUNS = (
    "DELETE FROM runs WHERE id IN (SELECT id FROM runs AS r WHERE r.finished_at < ? AND EXISTS "
    "(SELECT 1 FROM runs AS later WHERE later.stage = r.stage AND (later.finished_at > r.finished_at "
    "OR (later.finished_at = r.finished_at AND later.id > r.id))) LIMIT ?)"
)  # a run is old and not its stage's latest (by finish time)


def _prune(db: sqlite_utils.Database, statement: str, before: str) -> int:
    removed = 0
    while True:
        with write_transaction(db):
            n = db.execute(statement, [before, BATCH]).rowcount
        removed += n
        if n < BATCH:
            return removed


def prune(db: sqlite_utils.Database, settings: Settings, *, now: datetime) -> PruneReport:
    """Delete `fetches` and `runs` rows older than the retention period (the latest run per stage stays)."""
    oldest = cutoff(settings, now)
    if oldest is None:
        return PruneReport()
    before = iso(oldest)
    return PruneReport(
        runs=_prune(db, _PRUNE_RUNS, before),
        fetches=_prune(db, _PRUNE_FETCHES, before),
        cutoff=before,
    )
