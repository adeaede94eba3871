"""What a poll attempt leaves behind: the feed's articles, validators, health and schedule, and a
row in `fetches`, all in one write transaction per feed."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from monitor.cli.console import log
from monitor.config.settings import Settings
from monitor.errors import FeedError, HttpStatusError
from monitor.ingest import schedule
from monitor.ingest.articles import store_entries
from monitor.ingest.fetch import FetchResult
from monitor.ingest.urls import redact, redact_text
from monitor.models import FeedJob, ParsedFeed, PollReport
from monitor.store.db import iso, write_transaction


def _newest(parsed: ParsedFeed) -> str | None:
    dates = [e.published for e in parsed.entries if e.published]
    return max(dates) if dates else None


def _log_fetch(
    db: sqlite_utils.Database,
    job: FeedJob,
    started: datetime,
    outcome: str,
    status: int | None = None,
    error: str | None = None,
    size: int | None = None,
    items: int | None = None,
    new: int = 0,
    updated: int = 0,
    *,
    now: datetime,
) -> None:
    db.execute(
        "INSERT INTO fetches (feed, started_at, duration_ms, outcome, http_status, error, bytes, items, "
        "new_articles, updated_articles) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            job.feed_id,
            iso(started),
            max(0, int((now - started).total_seconds() * 1000)),
            outcome,
            status,
            error,
            size,
            items,
            new,
            updated,
        ],
    )


def _redirect_state(job: FeedJob, result: FetchResult) -> tuple[str | None, int]:
    if result.permanent_redirect:
        if result.permanent_redirect == job.moved_to:
            return job.moved_to, job.moved_count + 1
        return result.permanent_redirect, 1
    if job.moved_to and job.moved_count >= 1 and job.url == job.moved_to:
        return job.moved_to, job.moved_count  # we fetch the new address directly now
    return None, 0


def record_success(
    db: sqlite_utils.Database,
    settings: Settings,
    job: FeedJob,
    result: FetchResult,
    body_hash: str | None,
    parsed: ParsedFeed | None,
    started: datetime,
    report: PollReport,
    now: datetime,
) -> None:
    """Store the articles and the feed's new state in one transaction, at `now` (the poll run's clock).

    `body_hash` is the SHA-256 of `result.body`, computed once by the caller (None on a 304)."""
    body_hash = body_hash or job.body_hash
    hints = schedule.cache_hints(result.headers, parsed.ttl_min if parsed else None, now)
    next_check = schedule.next_check_ok(now, settings.poll, hints)
    keep_validators = not hints.expires_zero
    etag = result.headers.get("etag") if keep_validators else None
    last_modified = result.headers.get("last-modified") if keep_validators else None
    if result.not_modified:  # a 304 keeps our validators; a new Last-Modified is still saved
        etag = etag or job.etag
        last_modified = last_modified or job.last_modified
    moved_to, moved_count = _redirect_state(job, result)
    if moved_to and moved_count == settings.poll.permanent_redirect_after:
        log(
            f"feed_id={job.feed_id} event=moved from={redact(job.registry_url)} to={redact(moved_to)} "
            "(update feeds/outlets.toml)"
        )
    with write_transaction(db):
        new = updated = 0
        warning = None
        if result.not_modified:
            outcome = "not_modified"
        elif parsed is None:
            outcome = "unchanged"
        else:
            stored = store_entries(db, job.feed_id, job.outlet, parsed.entries, iso(now))
            new, updated = stored.new, stored.updated
            warnings = list(parsed.warnings) + stored.warnings
            warning = "; ".join(warnings)[:2000] if warnings else None
            outcome = "fetched"
        db.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ?, last_fetched_at = ?, last_success_at = ?, "
            "last_status = ?, last_error = NULL, last_error_kind = NULL, consecutive_failures = 0, "
            "status = 'active', next_check_at = ?, moved_to = ?, moved_count = ?, lease_until = NULL, "
            "lease_owner = NULL, last_unconditional_at = CASE WHEN ? THEN ? ELSE last_unconditional_at END "
            + (", warning = ?, items_last = ?, newest_published = ? " if parsed is not None else " ")
            + "WHERE id = ?",
            [
                etag,
                last_modified,
                body_hash,
                iso(now),
                iso(now),
                result.status,
                iso(next_check),
                moved_to,
                moved_count,
                job.unconditional or (job.etag is None and job.last_modified is None),
                iso(now),
                *([warning, len(parsed.entries), _newest(parsed)] if parsed is not None else []),
                job.feed_id,
            ],
        )
        _log_fetch(
            db,
            job,
            started,
            outcome,
            status=result.status,
            size=len(result.body) if result.body is not None else None,
            items=len(parsed.entries) if parsed else None,
            new=new,
            updated=updated,
            now=now,
        )
    if outcome == "fetched":
        report.fetched += 1
    elif outcome == "not_modified":
        report.not_modified += 1
    else:
        report.unchanged += 1
    report.new_articles += new
    report.updated_articles += updated


def record_failure(
    db: sqlite_utils.Database,
    settings: Settings,
    job: FeedJob,
    exc: FeedError,
    started: datetime,
    report: PollReport,
    now: datetime,
) -> datetime | None:
    """Record a failed attempt at `now`; returns the host's retry-until time for 429/503."""
    status = exc.status if isinstance(exc, HttpStatusError) else None
    retry_after = schedule.retry_after_until(getattr(exc, "retry_after", None), now)
    host_until: datetime | None = None
    with write_transaction(db):
        if status == 410:
            db.execute(
                "UPDATE feeds SET status = 'gone', last_status = 410, last_error = ?, last_error_kind = 'gone', "
                "last_fetched_at = ?, next_check_at = NULL, lease_until = NULL, lease_owner = NULL WHERE id = ?",
                [str(exc), iso(now), job.feed_id],
            )
            _log_fetch(db, job, started, "gone", status=410, error=str(exc), now=now)
            report.gone += 1
        elif status in (429, 503):
            host_until = schedule.host_retry_until(now, settings.poll, retry_after)
            db.execute(
                "INSERT INTO hosts (host, retry_after_until, reason) VALUES (?, ?, ?) ON CONFLICT(host) DO UPDATE "
                "SET retry_after_until = excluded.retry_after_until, reason = excluded.reason",
                [job.host, iso(host_until), f"HTTP {status}"],
            )
            next_check = schedule.clamp(host_until - now, settings.poll) + now
            db.execute(
                "UPDATE feeds SET last_status = ?, last_error = ?, last_error_kind = 'rate_limited', "
                "last_fetched_at = ?, next_check_at = ?, lease_until = NULL, lease_owner = NULL WHERE id = ?",
                [status, f"{exc} (host rate limited until {iso(host_until)})", iso(now), iso(next_check), job.feed_id],
            )
            _log_fetch(db, job, started, "rate_limited", status=status, error=str(exc), now=now)
            report.failed += 1
        else:
            failures = job.failures + 1
            next_check = schedule.next_check_error(now, settings.poll, failures, retry_after)
            state = "failing" if failures >= settings.poll.failing_after else "active"
            db.execute(
                "UPDATE feeds SET status = ?, last_status = ?, last_error = ?, last_error_kind = ?, "
                "last_fetched_at = ?, consecutive_failures = ?, next_check_at = ?, lease_until = NULL, "
                "lease_owner = NULL WHERE id = ?",
                [state, status, str(exc), exc.kind, iso(now), failures, iso(next_check), job.feed_id],
            )
            _log_fetch(db, job, started, "failed", status=status, error=str(exc), now=now)
            report.failed += 1
    report.errors.append({"outlet": job.outlet.id, "url": redact(job.url), "kind": exc.kind, "error": redact_text(str(exc))})
    return host_until


def duplicate_of(db: sqlite_utils.Database, job: FeedJob, result: FetchResult) -> int | None:
    """The id of another registered feed that this feed's redirects ended at, if any."""
    if result.final_url in (job.url, job.registry_url):
        return None
    row = db.execute(
        "SELECT id FROM feeds WHERE url = ? AND id != ? AND status != 'removed'", [result.final_url, job.feed_id]
    ).fetchone()
    return int(row[0]) if row else None


def record_duplicate(
    db: sqlite_utils.Database, job: FeedJob, other: int, started: datetime, report: PollReport, now: datetime
) -> None:
    """A feed that redirects to another registered feed is marked, not stored twice."""
    message = f"redirects to feed #{other}, which is already registered; remove one of them from the registry"
    with write_transaction(db):
        db.execute(
            "UPDATE feeds SET status = 'duplicate', last_error = ?, last_error_kind = 'duplicate', last_fetched_at = ?, "
            "lease_until = NULL, lease_owner = NULL WHERE id = ?",
            [message, iso(now), job.feed_id],
        )
        _log_fetch(db, job, started, "failed", error=message, now=now)
    report.failed += 1
    report.errors.append({"outlet": job.outlet.id, "url": redact(job.url), "kind": "duplicate", "error": message})
