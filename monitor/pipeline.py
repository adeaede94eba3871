"""`monitor run`: every stage once, in order, over one database.

A stage is a function `run(db, settings, quiet=False) -> Report` (a dataclass) in its own module.
Each stage reads what the previous stages stored; a stage that fails is reported and the later
stages still run on what is in the database, so one broken feed or model never costs the digest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from monitor.errors import MonitorError
from monitor.settings import Settings
from monitor.store import open_db, record_run, utcnow

StageFn = Callable[..., Any]

# (name, "module:function"), in pipeline order. Later issues add their stage here.
STAGES: list[tuple[str, str]] = [
    ("poll", "monitor.poll:run"),
    # --- later stages ---
    ("language", "monitor.langdetect:run"),
    ("translate", "monitor.translate:run"),
    ("analyze", "monitor.analyze:run"),
    ("cluster", "monitor.cluster:run"),
    ("digest", "monitor.digest:run"),  # last: today's digest files, sent when [digest] send is set
]


def stage_function(spec: str) -> StageFn:
    module_name, _, func = spec.partition(":")
    module = importlib.import_module(module_name)
    fn: StageFn = getattr(module, func)
    return fn


@dataclass
class RunReport:
    stages: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def run_stage(
    db: sqlite_utils.Database, settings: Settings, name: str, spec: str, quiet: bool = False, **options: Any
) -> Any:
    """Run one stage and log it in `runs`; `options` go to the stage (e.g. poll's force/outlets)."""
    started = utcnow()
    report = stage_function(spec)(db, settings, quiet=quiet, **options)
    record_run(db, name, started, report)
    return report


def run_named(settings: Settings, name: str, quiet: bool = False, **options: Any) -> Any:
    """Open the database, run the stage called `name` (from STAGES) and close: what `monitor <stage>` does."""
    spec = dict(STAGES).get(name)
    if spec is None:
        raise KeyError(f"no stage named {name!r}")
    db = open_db(settings.db_path)
    try:
        return run_stage(db, settings, name, spec, quiet=quiet, **options)
    finally:
        db.close()


def run_all(
    db: sqlite_utils.Database,
    settings: Settings,
    quiet: bool = False,
    on_stage: Callable[[str, Any | None, str | None], None] | None = None,
    stages: list[tuple[str, str]] | None = None,
) -> RunReport:
    """Run every stage in order; a failing stage is recorded and the next one still runs."""
    result = RunReport()
    for name, spec in stages or STAGES:
        try:
            report = run_stage(db, settings, name, spec, quiet=quiet)
        except MonitorError as exc:
            result.failed[name] = str(exc)
            if on_stage:
                on_stage(name, None, str(exc))
            continue
        result.stages[name] = report
        if on_stage:
            on_stage(name, report, None)
    return result
