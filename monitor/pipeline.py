"""`monitor run`: every stage once, in order, over one database.

A stage is a function `run(db, settings, *, now, progress=None, **options) -> StageReport` in its
own module; STAGES lists them, in order, as function references. It returns a `monitor.models.StageReport`
(its counters, `changed`, `summary()` for a log line, `describe()` for a person) and never prints:
it sends `ProgressEvent`s to `progress` (the CLI's bars or lines, the watcher's log, a test's list;
None: silent). `now` is the one reading of the clock (a timezone-aware UTC datetime, taken with
`monitor.store.db.utcnow()` by the command or the watcher) that the stage treats as the present: which
feeds are due, which day "today" is, what is recent. Stages never read the wall clock themselves,
so tests freeze time by passing it.

Each stage reads what the previous stages stored; a stage that fails is reported and the later
stages still run on what is in the database, so one broken feed or model never costs the digest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlite_utils

from monitor import digest
from monitor.analysis import analyze, cluster
from monitor.config.settings import Settings
from monitor.embedding import stage as embedding_stage
from monitor.errors import MonitorError
from monitor.ingest import poll
from monitor.models import Progress, StageReport
from monitor.store.db import open_db, record_run, utcnow
from monitor.translation import language as langdetect
from monitor.translation import translate

StageFn = Callable[..., StageReport]
OnStage = Callable[[str, StageReport | None, str | None], None]

# (name, stage function), in pipeline order. Later issues add their stage here.
STAGES: list[tuple[str, StageFn]] = [
    ("poll", poll.run),
    ("language", langdetect.run),
    ("translate", translate.run),
    ("embed", embedding_stage.run),  # vectors of the original headline + lede (monitor/embedding)
    ("analyze", analyze.run),
    ("cluster", cluster.run),
    ("digest", digest.run),  # last: today's digest files, sent when [digest] send is set
]


def stage_function(name: str, stages: list[tuple[str, StageFn]] | None = None) -> StageFn:
    """The stage called `name`; KeyError when there is none."""
    found = dict(stages or STAGES).get(name)
    if found is None:
        raise KeyError(f"no stage named {name!r}")
    return found


def describe_failure(exc: BaseException) -> str:
    """One line for a failed stage: a MonitorError's own message, else the exception type and message."""
    return str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"


@dataclass
class RunReport:
    stages: dict[str, StageReport] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_stage(
    db: sqlite_utils.Database,
    settings: Settings,
    name: str,
    fn: StageFn | None = None,
    *,
    now: datetime,
    progress: Progress | None = None,
    **options: Any,
) -> StageReport:
    """Run one stage (`fn`, default the stage called `name`) at `now` and log it in `runs`;
    `options` go to the stage (e.g. poll's force/outlets)."""
    stage = fn or stage_function(name)
    started = utcnow()  # the `runs` log records when the work really happened, whatever `now` says
    report = stage(db, settings, now=now, progress=progress, **options)
    record_run(db, name, started, report)
    return report


def run_named(
    settings: Settings, name: str, *, now: datetime, progress: Progress | None = None, **options: Any
) -> StageReport:
    """Open the database, run the stage called `name` (from STAGES) and close: what `monitor <stage>` does."""
    fn = stage_function(name)
    db = open_db(settings.db_path)
    try:
        return run_stage(db, settings, name, fn, now=now, progress=progress, **options)
    finally:
        db.close()


def run_all(
    db: sqlite_utils.Database,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    on_stage: OnStage | None = None,
    stages: list[tuple[str, StageFn]] | None = None,
) -> RunReport:
    """Run every stage in order at `now`; a failing stage (any exception) is recorded and the next
    one still runs."""
    result = RunReport()
    for name, fn in stages or STAGES:
        try:
            report = run_stage(db, settings, name, fn, now=now, progress=progress)
        except Exception as exc:  # one stage's failure never costs the later stages
            result.failed[name] = describe_failure(exc)
            if on_stage:
                on_stage(name, None, result.failed[name])
            continue
        result.stages[name] = report
        if on_stage:
            on_stage(name, report, None)
    return result
