"""`monitor watch`: the long-running newsroom loop.

Every tick (`watch.tick_s`) the watcher:

1. polls the feeds that are due (the poll stage's own schedule, `feeds.next_check_at`; the poll
   interval in watch mode is `watch.interval_min`);
2. runs the later stages (language, translate, analyze, cluster ...) when the poll brought new or
   changed articles, on start-up (to finish what an interrupted run left), and at least every
   `watch.stages_every_min`;
3. evaluates the alert rules and hands new alerts to a background dispatcher (monitor.watch.alerts), so
   a slow or failing sink never blocks polling;
4. runs the daily digest once a day at `watch.digest_time` local time (`digest.timezone`),
   sending it when `[digest] recipients` are set (`digest_time = "off"`: no digest from the
   watcher). The day is recorded once its digest is done, so a restart does not redo it; a digest
   that failed (e.g. the mail server was down) is retried every `watch.interval_min`.

Time is an input: the loop reads its clock (`clock`, default `store.utcnow`) once per tick and
passes that `now` to every stage, the alert evaluation and the digest; tests freeze it.

Every event is one greppable logfmt line on stderr (`ts=... level=info event=poll fetched=3 ...`),
written through stdlib `logging` (the `monitor.watch` logger, `LogfmtFormatter`): values with
spaces are quoted, feed credentials redacted. A stage's own line is its report's `summary()`;
its progress and notes arrive through `WatchProgress`. A failing feed or stage (any exception)
is logged with its stage name and the loop goes on; a report's fields never collide with an
event's own (`event_fields`). SIGINT/SIGTERM stop it between steps:
each stage writes in short transactions, so nothing is half-written, and the next run resumes.
A second signal interrupts the step in progress (its open transaction is rolled back).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time as monotonic_time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import sqlite_utils

from monitor.config.settings import Settings
from monitor.errors import ConfigError
from monitor.ingest.urls import redact_text
from monitor.models import Milestones, PollReport, ProgressEvent, StageReport
from monitor.pipeline import STAGES, StageFn, run_stage
from monitor.store.db import iso, open_db, utcnow, write_transaction
from monitor.watch import alerts

DIGEST_STAGES = ("digest",)
DIGEST_OFF = "off"  # [watch] digest_time = "off": the watcher sends no digest (e.g. cron does)
Clock = Callable[[], datetime]
RESERVED_FIELDS = ("ts", "level", "event")  # every log line's own keys
LOGGER = logging.getLogger("monitor.watch")
ERROR_EVENTS = {"poll": "feed_error"}  # a report's `errors`, one line each; other stages: stage_error
PROGRESS_MIN_TOTAL = 100  # shorter work gets no progress lines in the log, only its stage line


def event_fields(fixed: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """An event's `fixed` fields plus `extra` ones (e.g. a stage report's), without a collision.

    An extra field whose name is taken (by a fixed field, or by `ts`/`event`) is dropped when it
    says the same as the field it collides with, else kept as `report_<name>`; a fixed field
    named `ts` or `event` is renamed the same way. Deterministic: the same input, the same line."""
    out: dict[str, Any] = {}
    for key, value in [*fixed.items(), *(extra or {}).items()]:
        name = key
        if name in out and out[name] == value:
            continue
        while name in out or name in RESERVED_FIELDS:
            name = f"report_{name}"
        out[name] = value
    return out


def _logfmt_value(value: Any) -> str:
    text = "" if value is None else redact_text(str(value)) or ""  # no feed credentials in logs
    text = text.replace("\n", " ").replace("\r", " ")
    if text == "" or any(c in text for c in ' "=\t'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def logfmt_line(event: str, fields: Mapping[str, Any], *, ts: datetime, level: str = "info") -> str:
    """`ts=... level=... event=NAME key=value ...`: values with spaces or quotes are quoted, None
    values left out, a field named like the line's own keys renamed (`event_fields`)."""
    parts = [f"ts={iso(ts)}", f"level={level}", f"event={event}"]
    parts += [f"{k}={_logfmt_value(v)}" for k, v in event_fields(fields).items() if v is not None]
    return " ".join(parts)


def event_level(event: str) -> int:
    """WARNING for what went wrong (failed, error, retry, gave up, traceback, stopping), else INFO."""
    bad = ("_failed", "_error", "_retry", "_gave_up")
    return logging.WARNING if event.endswith(bad) or event in ("traceback", "stopping") else logging.INFO


class LogfmtFormatter(logging.Formatter):
    """Formats the records `EventLog` makes (an event name and its fields) as one logfmt line; any
    other record becomes `event=log message=...`. `ts` is the record's time (or `clock()`)."""

    def __init__(self, clock: Clock | None = None):
        super().__init__()
        self.clock = clock

    def format(self, record: logging.LogRecord) -> str:
        event = getattr(record, "event", None)
        fields: Mapping[str, Any] = getattr(record, "fields", None) or {}
        if event is None:
            event, fields = "log", {"message": record.getMessage()}
        ts = self.clock() if self.clock else datetime.fromtimestamp(record.created, UTC)
        return logfmt_line(str(event), fields, ts=ts, level=record.levelname.lower())


class EventLog:
    """The watcher's `emit(event, **fields)`: one record on `logger` (default `monitor.watch`)."""

    def __init__(self, logger: logging.Logger = LOGGER):
        self.logger = logger

    def __call__(self, event: str, **fields: Any) -> None:
        self.logger.log(event_level(event), "%s", event, extra={"event": event, "fields": fields})


@contextmanager
def stderr_handler(logger: logging.Logger = LOGGER, stream: TextIO | None = None) -> Iterator[None]:
    """While the block runs, `logger` writes logfmt lines to `stream` (default stderr), and only there,
    unless the application configured a handler of its own."""
    if logger.handlers:
        yield
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(LogfmtFormatter())
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


class WatchProgress:
    """The `progress` the watcher gives the stages: a stage's notes as `stage_note` lines and, for
    long work (`PROGRESS_MIN_TOTAL` items or more), `progress` lines at every quarter."""

    def __init__(self, emit: Callable[..., None]):
        self.emit = emit
        self.milestones = Milestones(0.25)

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "note":
            self.emit("stage_note", stage=event.stage, note=event.note)
            return
        if event.total is None or event.total < PROGRESS_MIN_TOTAL:
            return
        if self.milestones.due(event) or event.kind == "start":
            self.emit("progress", stage=event.stage, done=event.done, total=event.total)


class StopFlag:
    """Set by SIGINT/SIGTERM (or a test); the loop checks it between steps and wakes from sleep."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signals = 0
        self.acknowledged = False  # the first signal's "stopping" line has been written
        self.in_step = False

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)


@contextmanager
def signal_handlers(stop: StopFlag, emit: Callable[..., None]) -> Iterator[None]:
    """First SIGINT/SIGTERM: stop after the current step. Second: interrupt the step (rolled back)."""

    def handle(signum: int, _frame: Any) -> None:
        stop.signals += 1
        if stop.signals == 1:
            stop.set()
            name = signal.Signals(signum).name
            emit("stopping", signal=name, detail="finishing the current step; send again to interrupt it")
            stop.acknowledged = True
            # a second signal that arrived while this line was being written is acted on now
            if stop.signals > 1 and stop.in_step:
                raise KeyboardInterrupt
        elif stop.acknowledged and stop.in_step:
            raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in previous:
        signal.signal(s, handle)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass
class WatchReport:
    cycles: int = 0
    polls: int = 0
    new_articles: int = 0
    updated_articles: int = 0
    feed_errors: int = 0
    stage_runs: int = 0
    stage_failures: int = 0
    alerts_fired: int = 0
    digests: int = 0
    stopped_by: str = ""  # signal | max_cycles


def parse_digest_time(value: str) -> time | None:
    """`HH:MM` (24-hour local time), or None for "off"."""
    if value.strip().lower() == DIGEST_OFF:
        return None
    try:
        hours, minutes = value.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ConfigError(
            f"[watch] digest_time must be HH:MM (24-hour local time) or {DIGEST_OFF!r}, got {value!r}"
        ) from None


def _state(db: sqlite_utils.Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM watch_state WHERE key = ?", [key]).fetchone()
    return str(row[0]) if row else None


def _set_state(db: sqlite_utils.Database, key: str, value: str, now: datetime) -> None:
    with write_transaction(db):
        db.execute(
            "INSERT INTO watch_state (key, value, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            [key, value, iso(now)],
        )


def digest_due(db: sqlite_utils.Database, settings: Settings, now: datetime) -> str | None:
    """The local day (YYYY-MM-DD) whose digest is due at `now` and not yet done, or None."""
    at = parse_digest_time(settings.watch.digest_time)
    if at is None:
        return None
    local = now.astimezone(ZoneInfo(settings.digest.timezone))
    if local.time() < at:
        return None
    day = local.date().isoformat()
    return None if _state(db, "digest_day") == day else day


def feeds_due(db: sqlite_utils.Database, now: datetime) -> int:
    row = db.execute(
        "SELECT count(*) FROM feeds WHERE status IN ('active', 'failing') AND (next_check_at IS NULL OR next_check_at <= ?)",
        [iso(now)],
    ).fetchone()
    return int(row[0])


class TickClock:
    """The watcher's present: `tick()` reads the clock once per cycle; calling the object (what the
    alert dispatcher does between ticks) gives the last tick's `now` plus the monotonic time since,
    so the background thread never reads the wall clock on its own and follows a frozen clock."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._base: tuple[datetime, float] | None = None  # (the last tick's now, its monotonic time): one assignment

    def tick(self) -> datetime:
        now = self.clock()
        self._base = (now, monotonic_time.monotonic())
        return now

    def __call__(self) -> datetime:
        base = self._base
        if base is None:
            return self.tick()
        return base[0] + timedelta(seconds=monotonic_time.monotonic() - base[1])


class Watcher:
    """The loop's state between cycles: only counters and a few timestamps (memory stays flat)."""

    def __init__(self, db: sqlite_utils.Database, settings: Settings, emit: Callable[..., None], stop: StopFlag,
                 clock: Clock = utcnow, dispatcher: alerts.AlertDispatcher | None = None):
        self.db = db
        self.settings = settings.replace(poll__interval_min=settings.watch.interval_min)
        self.emit = emit
        self.progress = WatchProgress(emit)
        self.stop = stop
        self.clock = clock
        self.dispatcher = dispatcher
        self.rules = alerts.load_rules(settings)
        parse_digest_time(settings.watch.digest_time)
        self.report = WatchReport()
        self.last_poll: datetime | None = None
        self.last_stages: datetime | None = None
        self.pending_stages = True  # run the later stages on start-up: finish what a previous run left
        self.digest_retry_at: datetime | None = None  # after a failed digest: not again before this

    def _step(self, name: str, fn: Callable[[], Any]) -> Any:
        """Run one step; any failure (any exception) is logged with `name` and the loop continues."""
        outer = self.stop.in_step
        self.stop.in_step = True
        try:
            return fn()
        except KeyboardInterrupt:
            raise
        except Exception as exc:
            self.report.stage_failures += 1
            self._log_failure(name, exc)
            return None
        finally:
            self.stop.in_step = outer

    def _log_failure(self, name: str, exc: Exception) -> None:
        """The failure's line (and a short traceback for what is not an expected error); a log that
        cannot be written never stops the loop either."""
        try:
            self.emit("stage_failed", stage=name, error=f"{type(exc).__name__}: {exc}")
            if not isinstance(exc, ConfigError | OSError) and getattr(exc, "exit_code", None) is None:
                self.emit("traceback", stage=name, detail=traceback.format_exc(limit=3).replace("\n", " | "))
        except Exception:  # the log itself is broken: nothing left to report to
            pass

    def _run(self, name: str, fn: StageFn, now: datetime, settings: Settings | None = None) -> StageReport | None:
        """Run the pipeline stage `fn` at `now` inside the error wrapper."""
        report: StageReport | None = self._step(
            name, lambda: run_stage(self.db, settings or self.settings, name, fn, now=now, progress=self.progress)
        )
        return report

    def _log_report(self, event: str, name: str, report: StageReport, fixed: Mapping[str, Any]) -> None:
        """The report's summary line, then one line per error in it (`feed_error` for the poll)."""
        self.emit(event, **event_fields(fixed, report.summary()))
        error_event = ERROR_EVENTS.get(name, "stage_error")
        for err in report.errors:
            if name == "poll":
                self.report.feed_errors += 1
            scalars = {k: v for k, v in dict(err).items() if isinstance(v, str | int | float)}
            self.emit(error_event, **event_fields({} if name in ERROR_EVENTS else {"stage": name}, scalars))

    def poll(self, now: datetime) -> None:
        due = feeds_due(self.db, now)
        registry_check = self.last_poll is None or now - self.last_poll >= timedelta(minutes=self.settings.watch.interval_min)
        if not due and not registry_check:
            return
        report = self._run("poll", dict(STAGES)["poll"], now)
        self.last_poll = now
        if report is None:
            return
        self.report.polls += 1
        if isinstance(report, PollReport):
            self.report.new_articles += report.new_articles
            self.report.updated_articles += report.updated_articles
        self._log_report("poll", "poll", report, {})
        if report.changed:
            self.pending_stages = True

    def later_stages(self, now: datetime) -> None:
        every = timedelta(minutes=self.settings.watch.stages_every_min)
        if not self.pending_stages and self.last_stages is not None and now - self.last_stages < every:
            return
        for name, fn in STAGES:
            if name == "poll" or name in DIGEST_STAGES:
                continue
            if self.stop.is_set():
                return
            report = self._run(name, fn, now)
            self.report.stage_runs += 1
            if report is not None:
                self._log_report("stage", name, report, {"stage": name})
        self.pending_stages = False
        self.last_stages = now
        self.evaluate_alerts(now)

    def evaluate_alerts(self, now: datetime) -> None:
        if not self.rules or self.stop.is_set():
            return
        fired = self._step("alerts", lambda: alerts.evaluate(self.db, self.settings, self.rules, now, emit=self.emit))
        if fired:
            self.report.alerts_fired += len(fired)
            if self.dispatcher:
                self.dispatcher.wake()

    def digest(self, now: datetime) -> None:
        """The day's digest once it is due; the day is recorded when it succeeded (a restart does not
        redo it), a failure is retried after `watch.interval_min`."""
        day = digest_due(self.db, self.settings, now)
        specs = [(n, fn) for n, fn in STAGES if n in DIGEST_STAGES]
        if day is None or not specs or self.stop.is_set():
            return
        if self.digest_retry_at is not None and now < self.digest_retry_at:
            return
        settings = self.settings.replace(digest__send=bool(self.settings.digest.recipients))
        done = True
        for name, fn in specs:
            report = self._run(name, fn, now, settings)
            if report is None:
                done = False
                continue
            self.report.digests += 1
            self._log_report("digest", name, report, {"day": day, "sent": settings.digest.send})
        if done:
            _set_state(self.db, "digest_day", day, now)
            self.digest_retry_at = None
        else:
            self.digest_retry_at = now + timedelta(minutes=self.settings.watch.interval_min)
            self.emit("digest_retry", day=day, retry_at=iso(self.digest_retry_at))

    def cycle(self, now: datetime | None = None) -> None:
        """One tick: poll, later stages (and alerts), digest, all at one `now` (default: read the clock
        once). A failure anywhere in a step, even in its own bookkeeping, is logged and the next
        step still runs."""
        self.report.cycles += 1
        now = self.clock() if now is None else now
        for name, step in (("poll", self.poll), ("stages", self.later_stages), ("digest", self.digest)):
            if self.stop.is_set():
                return
            self._step(name, lambda step=step: step(now))


def run_watch(
    settings: Settings,
    *,
    max_cycles: int | None = None,
    tick_s: float | None = None,
    stop: StopFlag | None = None,
    emit: Callable[..., None] | None = None,
    clock: Clock = utcnow,
    handle_signals: bool = True,
) -> WatchReport:
    """Run the watcher until a signal (or `max_cycles`); returns the counters. `clock` is read once
    per tick (cycle); stages, alerts, deliveries and the digest all take their `now` from it.
    Events go to `emit(event, **fields)`; by default to the `monitor.watch` logger, which writes
    logfmt lines on stderr unless the application gave it a handler."""
    if emit is None:
        with stderr_handler():
            return run_watch(settings, max_cycles=max_cycles, tick_s=tick_s, stop=stop, emit=EventLog(),
                             clock=clock, handle_signals=handle_signals)
    stop = stop or StopFlag()
    tick = settings.watch.tick_s if tick_s is None else tick_s
    ticks = TickClock(clock)
    db = open_db(settings.db_path)
    dispatcher = alerts.AlertDispatcher(settings, settings.db_path, emit=emit, idle_s=max(tick, 0.05), clock=ticks)
    try:
        watcher = Watcher(db, settings, emit, stop, clock=ticks.tick, dispatcher=dispatcher)
    except BaseException:  # an invalid rule or digest time: one clear error, nothing left open
        db.close()
        raise
    emit("start", db=settings.db_path, tick_s=tick, interval_min=settings.watch.interval_min,
         rules=len(watcher.rules), digest_time=settings.watch.digest_time)
    guard = signal_handlers(stop, emit) if handle_signals else _nothing()
    started = False
    try:
        with guard:
            while not stop.is_set():
                watcher.cycle()
                if not started and not stop.is_set():
                    dispatcher.start()  # after the first tick: its clock follows the ticks
                    started = True
                if max_cycles is not None and watcher.report.cycles >= max_cycles:
                    watcher.report.stopped_by = "max_cycles"
                    break
                stop.wait(tick)
            else:
                watcher.report.stopped_by = "signal"
    finally:
        if started:
            dispatcher.stop(timeout=settings.watch.webhook_timeout_s + 5)
        if watcher.report.stopped_by == "max_cycles" and not dispatcher.alive:
            # a bounded run (tests, `--max-cycles` from cron) sends what is due before it exits
            dispatcher.report.sent += alerts.deliver_due(db, settings, ticks(), emit=emit).sent
        db.close()
    report = watcher.report
    emit("stopped", reason=report.stopped_by or "interrupted", cycles=report.cycles, new=report.new_articles,
         alerts=report.alerts_fired, delivered=dispatcher.report.sent)
    return report


@contextmanager
def _nothing() -> Iterator[None]:
    yield
