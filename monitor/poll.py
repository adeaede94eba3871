"""The poll stage: fetch every due feed politely and store its articles.

`run(db, settings) -> PollReport`. Feeds are grouped by host: one task per host fetches that host's
feeds one after another (per-host concurrency 1; the fetcher adds the spacing and the global
concurrency limit), and stops early when the host answers 429/503 with Retry-After. Each feed is
claimed with a short lease before it is fetched, so two `monitor poll` processes on one database
never fetch or store the same feed twice; a lease left by a killed process is taken over at once.
For every feed one write transaction stores its articles, its new validators, its health and the
fetch log together: a crash keeps either all of it or none of it.
"""

from __future__ import annotations

import asyncio
import hashlib
import multiprocessing
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlsplit

import sqlite_utils

from monitor import schedule
from monitor.console import log, progress
from monitor.errors import DiskFull, FeedError, HttpStatusError, StorageError
from monitor.fetch import Fetcher, FetchResult
from monitor.ingest import store_entries
from monitor.models import Outlet, ParsedFeed, PollReport
from monitor.parse import parse_feed
from monitor.registry import load_registry, sync_registry
from monitor.settings import Settings
from monitor.store import iso, parse_iso, utcnow, write_transaction

_T = TypeVar("_T")


@dataclass(frozen=True)
class FeedJob:
    """One feed to poll, with the state the poll needs from its row."""

    feed_id: int
    url: str  # the URL fetched: the registry's, or where it permanently moved
    registry_url: str
    outlet: Outlet
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    failures: int
    moved_to: str | None
    moved_count: int
    unconditional: bool

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


def _lease_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_alive(owner: str | None) -> bool:
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


def select_jobs(
    db: sqlite_utils.Database,
    settings: Settings,
    now: datetime,
    force: bool = False,
    outlet_ids: list[str] | None = None,
) -> tuple[list[FeedJob], int]:
    """The feeds due now (all active feeds with `force`), and how many were skipped as not due."""
    outlets = {
        r["id"]: Outlet(
            id=r["id"],
            name=r["name"],
            country=r["country"],
            language=r["language"],
            homepage=r["homepage"] or "",
            timezone=r["timezone"] or "UTC",
        )
        for r in db.query("SELECT * FROM outlets")
    }
    jobs: list[FeedJob] = []
    skipped = 0
    unconditional_after = timedelta(hours=settings.poll.unconditional_every_h)
    for r in db.query("SELECT * FROM feeds WHERE status IN ('active', 'failing') ORDER BY id"):
        if outlet_ids and r["outlet"] not in outlet_ids:
            continue
        if not force and r["next_check_at"] and parse_iso(r["next_check_at"]) > now:
            skipped += 1
            continue
        moved = r["moved_to"] if r["moved_count"] >= settings.poll.permanent_redirect_after else None
        last_uncond = r["last_unconditional_at"]
        unconditional = last_uncond is None or parse_iso(last_uncond) + unconditional_after <= now
        jobs.append(
            FeedJob(
                feed_id=r["id"],
                url=moved or r["url"],
                registry_url=r["url"],
                outlet=outlets[r["outlet"]],
                etag=r["etag"],
                last_modified=r["last_modified"],
                body_hash=r["body_hash"],
                failures=r["consecutive_failures"],
                moved_to=r["moved_to"],
                moved_count=r["moved_count"],
                unconditional=unconditional and r["last_success_at"] is not None,
            )
        )
    return jobs, skipped


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
        if lease_until and parse_iso(lease_until) > now and _owner_alive(lease_owner):
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
) -> None:
    db.execute(
        "INSERT INTO fetches (feed, started_at, duration_ms, outcome, http_status, error, bytes, items, "
        "new_articles, updated_articles) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [
            job.feed_id,
            iso(started),
            int((utcnow() - started).total_seconds() * 1000),
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
    parsed: ParsedFeed | None,
    started: datetime,
    report: PollReport,
) -> None:
    """Store the articles and the feed's new state in one transaction."""
    now = utcnow()
    body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else job.body_hash
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
        log(f"feed_id={job.feed_id} event=moved from={job.registry_url} to={moved_to} (update feeds/outlets.toml)")
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
) -> datetime | None:
    """Record a failed attempt; returns the host's retry-until time for 429/503."""
    now = utcnow()
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
            _log_fetch(db, job, started, "gone", status=410, error=str(exc))
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
            _log_fetch(db, job, started, "rate_limited", status=status, error=str(exc))
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
            _log_fetch(db, job, started, "failed", status=status, error=str(exc))
            report.failed += 1
    report.errors.append({"outlet": job.outlet.id, "url": job.url, "kind": exc.kind, "error": str(exc)})
    return host_until


def release(db: sqlite_utils.Database, job: FeedJob) -> None:
    try:
        with write_transaction(db):
            db.execute("UPDATE feeds SET lease_until = NULL, lease_owner = NULL WHERE id = ?", [job.feed_id])
    except StorageError:
        pass


def duplicate_of(db: sqlite_utils.Database, job: FeedJob, result: FetchResult) -> int | None:
    """The id of another registered feed that this feed's redirects ended at, if any."""
    if result.final_url in (job.url, job.registry_url):
        return None
    row = db.execute(
        "SELECT id FROM feeds WHERE url = ? AND id != ? AND status != 'removed'", [result.final_url, job.feed_id]
    ).fetchone()
    return int(row[0]) if row else None


def record_duplicate(db: sqlite_utils.Database, job: FeedJob, other: int, started: datetime, report: PollReport) -> None:
    """A feed that redirects to another registered feed is marked, not stored twice."""
    message = f"redirects to feed #{other}, which is already registered; remove one of them from the registry"
    with write_transaction(db):
        db.execute(
            "UPDATE feeds SET status = 'duplicate', last_error = ?, last_error_kind = 'duplicate', last_fetched_at = ?, "
            "lease_until = NULL, lease_owner = NULL WHERE id = ?",
            [message, iso(utcnow()), job.feed_id],
        )
        _log_fetch(db, job, started, "failed", error=message)
    report.failed += 1
    report.errors.append({"outlet": job.outlet.id, "url": job.url, "kind": "duplicate", "error": message})


class DbWorker:
    """Runs every database call of a poll run on one dedicated thread, one at a time.

    The event loop thread then only waits on the network: while a feed's articles are written
    (SQLite releases the GIL while it works) the other feeds' requests keep flowing, and the one
    connection is never used by two threads at once.
    """

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="monitor-db")

    async def __call__(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class ParseWorkers:
    """Where feed bodies are parsed: worker processes for a big run (feedparser is pure Python, so
    threads would share one core), a thread for a small one (no process start-up to pay)."""

    PROCESSES_FROM = 24  # feeds in a run from which worker processes pay for their start-up

    def __init__(self, feeds: int) -> None:
        cores = os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        if feeds >= self.PROCESSES_FROM and cores > 1:
            methods = multiprocessing.get_all_start_methods()  # never fork this threaded process
            method = "forkserver" if "forkserver" in methods else "spawn"
            self._pool = ProcessPoolExecutor(max_workers=min(cores, 4), mp_context=multiprocessing.get_context(method))

    async def __call__(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        if self._pool is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(fn, *args, **kwargs))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


async def _poll_feed(
    db: sqlite_utils.Database,
    settings: Settings,
    fetcher: Fetcher,
    job: FeedJob,
    report: PollReport,
    db_call: DbWorker,
    parse_call: ParseWorkers,
) -> datetime | None:
    started = utcnow()
    use_validators = not job.unconditional
    try:
        result = await fetcher.fetch(
            job.url,
            etag=job.etag if use_validators else None,
            last_modified=job.last_modified if use_validators else None,
        )
        other = await db_call(duplicate_of, db, job, result)
        if other is not None:
            await db_call(record_duplicate, db, job, other, started, report)
            return None
        parsed: ParsedFeed | None = None
        if not result.not_modified:
            body = result.body or b""
            if job.body_hash and hashlib.sha256(body).hexdigest() == job.body_hash:
                parsed = None  # same bytes as last time: nothing to parse or store
            else:
                parsed = await parse_call(
                    parse_feed,
                    body,
                    result.headers,
                    result.final_url,
                    timezone=job.outlet.timezone,
                    now=utcnow(),
                    max_field_chars=settings.poll.max_field_chars,
                )
    except FeedError as exc:
        return await db_call(record_failure, db, settings, job, exc, started, report)
    await db_call(record_success, db, settings, job, result, parsed, started, report)
    return None


async def _poll_host(
    db: sqlite_utils.Database,
    settings: Settings,
    fetcher: Fetcher,
    jobs: list[FeedJob],
    owner: str,
    force: bool,
    report: PollReport,
    advance: Callable[..., None],
    disk_full: list[DiskFull],
    db_call: DbWorker,
    parse_call: ParseWorkers,
) -> None:
    for job in jobs:
        if disk_full:
            advance(1, job.outlet.id)
            continue
        try:
            why = await db_call(claim, db, job, owner, settings, force)
            if why:
                report.skipped += 1
                log(f"feed_id={job.feed_id} outlet={job.outlet.id} event=skipped reason={why!r}")
                advance(1, job.outlet.id)
                continue
            host_until = await _poll_feed(db, settings, fetcher, job, report, db_call, parse_call)
        except DiskFull as exc:
            disk_full.append(exc)
            await db_call(release, db, job)
            report.failed += 1
            report.errors.append({"outlet": job.outlet.id, "url": job.url, "kind": "disk_full", "error": str(exc)})
            advance(1, job.outlet.id)
            continue
        except BaseException:
            await asyncio.shield(db_call(release, db, job))
            raise
        advance(1, job.outlet.id)
        if host_until is not None:
            # Retry-After applies to the whole host: the rest of its feeds wait.
            rest = jobs[jobs.index(job) + 1 :]
            for later in rest:
                report.skipped += 1
                log(f"feed_id={later.feed_id} outlet={later.outlet.id} event=skipped reason='host rate limited'")
                advance(1, later.outlet.id)
            return


async def _poll_all(
    db: sqlite_utils.Database,
    settings: Settings,
    jobs: list[FeedJob],
    force: bool,
    report: PollReport,
    advance: Callable[..., None],
) -> list[DiskFull]:
    by_host: dict[str, list[FeedJob]] = defaultdict(list)
    for job in jobs:
        by_host[job.host].append(job)
    owner = _lease_owner()
    disk_full: list[DiskFull] = []
    db_call = DbWorker()
    parse_call = ParseWorkers(len(jobs))
    try:
        async with Fetcher(settings.poll) as fetcher:
            await asyncio.gather(
                *(
                    _poll_host(
                        db, settings, fetcher, host_jobs, owner, force, report, advance, disk_full, db_call, parse_call
                    )
                    for host_jobs in by_host.values()
                )
            )
    finally:
        db_call.close()  # waits for a write in progress: never a half-finished transaction
        parse_call.close()
    return disk_full


def run(
    db: sqlite_utils.Database,
    settings: Settings,
    quiet: bool = False,
    force: bool = False,
    outlets: list[str] | None = None,
) -> PollReport:
    """Poll every due feed (every active feed with `force`), optionally only some outlets."""
    registry = load_registry(settings.feeds_path)
    if outlets:
        unknown = [o for o in outlets if registry.by_id(o) is None]
        if unknown:
            from monitor.errors import UsageError

            raise UsageError(f"unknown outlet id(s): {', '.join(unknown)} (see `monitor feeds list`)")
    sync_registry(db, registry)
    jobs, skipped = select_jobs(db, settings, utcnow(), force=force, outlet_ids=outlets)
    report = PollReport(feeds_total=len(jobs) + skipped, skipped=skipped)
    with progress("polling feeds", total=len(jobs), quiet=quiet) as advance:
        disk_full = asyncio.run(_poll_all(db, settings, jobs, force, report, advance))
    if disk_full:
        raise disk_full[0]
    return report
