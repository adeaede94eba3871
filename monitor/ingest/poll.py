"""The poll stage: fetch every due feed politely and store its articles.

`run(db, settings) -> PollReport`. Feeds are grouped by host: one task per host fetches that host's
feeds one after another (per-host concurrency 1; the fetcher adds the spacing and the global
concurrency limit), and stops early when the host answers 429/503 with Retry-After. Each feed is
claimed with a lease first (`monitor.store.leases`); what an attempt leaves behind is written by
`monitor.ingest.feed_health` in one transaction per feed; database calls and parsing run off the event
loop (`monitor.ingest.workers`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlite_utils

from monitor.config.settings import Settings
from monitor.errors import DiskFull, FeedError, StorageError, UsageError
from monitor.ingest import feed_health
from monitor.ingest.fetch import Fetcher
from monitor.ingest.parse import parse_feed
from monitor.ingest.registry import load_registry, sync_registry
from monitor.ingest.urls import redact, redact_text
from monitor.ingest.workers import DbWorker, ParseWorkers
from monitor.models import FeedJob, Outlet, ParsedFeed, PollReport, Progress, note, track
from monitor.store import leases, retention
from monitor.store.db import parse_iso

Clock = Callable[[], datetime]


def run_clock(now: datetime) -> Clock:
    """The poll run's clock: `now` when the run starts, advancing with the monotonic clock. Fetch times,
    feed schedules and first-seen dates follow the run's `now` (a test's frozen time, the watcher's tick),
    never the wall clock; leases alone use the wall clock, since they are shared with other processes."""
    start = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - start)


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


async def _poll_feed(
    db: sqlite_utils.Database,
    settings: Settings,
    fetcher: Fetcher,
    job: FeedJob,
    report: PollReport,
    db_call: DbWorker,
    parse_call: ParseWorkers,
    clock: Clock,
) -> datetime | None:
    started = clock()
    use_validators = not job.unconditional
    try:
        result = await fetcher.fetch(
            job.url,
            etag=job.etag if use_validators else None,
            last_modified=job.last_modified if use_validators else None,
        )
        other = await db_call(feed_health.duplicate_of, db, job, result)
        if other is not None:
            await db_call(feed_health.record_duplicate, db, job, other, started, report, clock())
            return None
        parsed: ParsedFeed | None = None
        body_hash = hashlib.sha256(result.body).hexdigest() if result.body is not None else None
        if not result.not_modified:
            if body_hash == job.body_hash:
                parsed = None  # same bytes as last time: nothing to parse or store
            else:
                parsed = await parse_call(
                    parse_feed,
                    result.body or b"",
                    result.headers,
                    result.final_url,
                    timezone=job.outlet.timezone,
                    now=clock(),
                    max_field_chars=settings.poll.max_field_chars,
                )
    except FeedError as exc:
        return await db_call(feed_health.record_failure, db, settings, job, exc, started, report, clock())
    except DiskFull:
        raise
    except Exception as exc:  # a parser bug or a dead parse worker: this feed's failure, not the run's
        return await _record_unexpected(db, settings, job, exc, started, report, db_call, clock())
    try:
        await db_call(feed_health.record_success, db, settings, job, result, body_hash, parsed, started, report, clock())
    except DiskFull:
        raise  # the whole run stops: nothing else can be stored either
    except Exception as exc:  # the transaction was rolled back; if recording fails too, that raises
        return await _record_unexpected(db, settings, job, exc, started, report, db_call, clock())
    return None


class UnexpectedFeedError(FeedError):
    """Anything a feed's fetch, parse or store raised that no rule expected (recorded, never raised)."""

    kind = "internal"


async def _record_unexpected(
    db: sqlite_utils.Database,
    settings: Settings,
    job: FeedJob,
    exc: Exception,
    started: datetime,
    report: PollReport,
    db_call: DbWorker,
    now: datetime,
) -> datetime | None:
    """Record an unexpected exception as this feed's failure (feed health and the fetch log)."""
    error = UnexpectedFeedError(f"unexpected {type(exc).__name__}: {exc}"[:500])  # reported in report.errors
    return await db_call(feed_health.record_failure, db, settings, job, error, started, report, now)


async def _poll_host(
    db: sqlite_utils.Database,
    settings: Settings,
    fetcher: Fetcher,
    jobs: list[FeedJob],
    owner: str,
    force: bool,
    report: PollReport,
    advance: Callable[..., None],
    say: Callable[[str], None],
    disk_full: list[DiskFull],
    db_call: DbWorker,
    parse_call: ParseWorkers,
    clock: Clock,
) -> None:
    for position, job in enumerate(jobs):
        if disk_full:
            advance(1, job.outlet.id)
            continue
        try:
            why = await db_call(leases.claim, db, job, owner, settings, force)
            if why:
                report.skipped += 1
                say(f"feed_id={job.feed_id} outlet={job.outlet.id} event=skipped reason={why!r}")
                advance(1, job.outlet.id)
                continue
            host_until = await _poll_feed(db, settings, fetcher, job, report, db_call, parse_call, clock)
        except DiskFull as exc:
            disk_full.append(exc)
            await db_call(leases.release, db, job)
            report.failed += 1
            report.errors.append(
                {"outlet": job.outlet.id, "url": redact(job.url), "kind": "disk_full", "error": redact_text(str(exc))}
            )
            advance(1, job.outlet.id)
            continue
        except BaseException:
            await asyncio.shield(db_call(leases.release, db, job))
            raise
        advance(1, job.outlet.id)
        if host_until is not None:
            # Retry-After applies to the whole host: the rest of its feeds wait.
            for later in jobs[position + 1 :]:
                report.skipped += 1
                say(f"feed_id={later.feed_id} outlet={later.outlet.id} event=skipped reason='host rate limited'")
                advance(1, later.outlet.id)
            return


async def _poll_all(
    db: sqlite_utils.Database,
    settings: Settings,
    jobs: list[FeedJob],
    force: bool,
    report: PollReport,
    advance: Callable[..., None],
    say: Callable[[str], None],
    clock: Clock,
) -> list[DiskFull]:
    by_host: dict[str, list[FeedJob]] = defaultdict(list)
    for job in jobs:
        by_host[job.host].append(job)
    owner = leases.lease_owner()
    disk_full: list[DiskFull] = []
    db_call = DbWorker()
    parse_call = ParseWorkers(len(jobs))
    try:
        async with Fetcher(settings.poll) as fetcher:
            await asyncio.gather(
                *(
                    _poll_host(
                        db, settings, fetcher, host_jobs, owner, force, report, advance, say, disk_full, db_call,
                        parse_call, clock,
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
    *,
    now: datetime,
    progress: Progress | None = None,
    force: bool = False,
    outlets: list[str] | None = None,
) -> PollReport:
    """Poll every feed due at `now` (every active feed with `force`), optionally only some outlets."""
    registry = load_registry(settings.feeds_path)
    if outlets:
        unknown = [o for o in outlets if registry.by_id(o) is None]
        if unknown:
            raise UsageError(f"unknown outlet id(s): {', '.join(unknown)} (see `monitor feeds list`)")
    sync_registry(db, registry)
    jobs, skipped = select_jobs(db, settings, now, force=force, outlet_ids=outlets)
    report = PollReport(feeds_total=len(jobs) + skipped, skipped=skipped)
    def say(message: str) -> None:
        note(progress, "poll", message)

    with track(progress, "poll", len(jobs)) as advance:
        disk_full = asyncio.run(_poll_all(db, settings, jobs, force, report, advance, say, run_clock(now)))
    if disk_full:
        raise disk_full[0]
    _prune_logs(db, settings, now, say)
    return report


def _prune_logs(db: sqlite_utils.Database, settings: Settings, now: datetime, say: Callable[[str], None]) -> None:
    """The end of every poll: fetch and run log rows older than `[poll] retention_days` go."""
    try:
        pruned = retention.prune(db, settings, now=now)
    except StorageError as exc:  # the feeds are stored; the log is pruned by a later poll
        say(f"event=prune_failed error={str(exc)!r}")
        return
    if pruned.runs or pruned.fetches:
        say(f"event=pruned runs={pruned.runs} fetches={pruned.fetches} before={pruned.cutoff}")
