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

Every event is one greppable `key=value` line on stderr (`ts=... event=poll fetched=3 new=5`).
A failing feed or stage (any exception) is logged with its stage name and the loop goes on; a
report's fields never collide with an event's own (`event_fields`). SIGINT/SIGTERM stop it between steps:
each stage writes in short transactions, so nothing is half-written, and the next run resumes.
A second signal interrupts the step in progress (its open transaction is rolled back).
"""

from __future__ import annotations

import signal
import sys
import threading
import time as monotonic_time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime, time, timedelta
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import sqlite_utils

from monitor.config.settings import Settings
from monitor.errors import ConfigError
from monitor.ingest.urls import redact_text
from monitor.pipeline import STAGES, StageFn, run_stage
from monitor.store.db import iso, open_db, utcnow, write_transaction
from monitor.watch import alerts

DIGEST_STAGES = ("digest",)
DIGEST_OFF = "off"  # [watch] digest_time = "off": the watcher sends no digest (e.g. cron does)
Clock = Callable[[], datetime]
RESERVED_FIELDS = ("ts", "event")  # every log line's own keys


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


class EventLog:
    """One `ts=... event=NAME key=value ...` line per event (logfmt: values with spaces are quoted)."""

    def __init__(self, stream: TextIO | None = None, clock: Clock = utcnow):
        self.stream = stream
        self.clock = clock
        self._lock = threading.Lock()

    @staticmethod
    def _value(value: Any) -> str:
        text = "" if value is None else redact_text(str(value)) or ""  # no feed credentials in logs
        text = text.replace("\n", " ").replace("\r", " ")
        if text == "" or any(c in text for c in ' "=\t'):
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return text

    def line(self, event: str, **fields: Any) -> str:
        parts = [f"ts={iso(self.clock())}", f"event={event}"]
        parts += [f"{k}={self._value(v)}" for k, v in event_fields(fields).items() if v is not None]
        return " ".join(parts)

    def __call__(self, event: str, **fields: Any) -> None:
        text = self.line(event, **fields)
        with self._lock:
            stream = self.stream or sys.stderr
            stream.write(text + "\n")
            stream.flush()


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


def summarize(report: Any) -> dict[str, Any]:
    """The scalar fields of a stage report, for one log line."""
    if not is_dataclass(report) or isinstance(report, type):
        return {}
    out: dict[str, Any] = {}
    for f in fields(report):
        value = getattr(report, f.name)
        if isinstance(value, bool | int | float | str):
            out[f.name] = value
        elif isinstance(value, list | dict | tuple):
            out[f.name] = len(value)
    return out


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

    def _run(self, name: str, fn: StageFn, now: datetime, settings: Settings | None = None) -> Any:
        """Run the pipeline stage `fn` at `now` inside the error wrapper."""
        return self._step(name, lambda: run_stage(self.db, settings or self.settings, name, fn, now=now, quiet=True))

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
        new = int(getattr(report, "new_articles", 0))
        updated = int(getattr(report, "updated_articles", 0))
        self.report.new_articles += new
        self.report.updated_articles += updated
        fields_ = summarize(report)
        fields_.pop("errors", None)
        self.emit("poll", **event_fields(fields_))
        for err in getattr(report, "errors", []) or []:
            self.report.feed_errors += 1
            self.emit("feed_error", **event_fields({k: v for k, v in dict(err).items() if isinstance(v, str | int | float)}))
        if new or updated:
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
                self.emit("stage", **event_fields({"stage": name}, summarize(report)))
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
            self.emit("digest", **event_fields({"day": day, "sent": settings.digest.send}, summarize(report)))
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
    per tick (cycle); stages, alerts, deliveries and the digest all take their `now` from it."""
    emit = emit or EventLog()
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
