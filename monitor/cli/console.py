"""Terminal output shared by the commands: progress (rich bar on a tty, plain lines otherwise),
one-line logging, and JSON printing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from monitor.ingest.urls import redact_text
from monitor.models import Advance, Milestones, ProgressEvent, track
from monitor.store.db import to_jsonable


def is_tty() -> bool:
    return sys.stderr.isatty()


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def log(message: str) -> None:
    """One plain, greppable line on stderr (never on stdout, which --json keeps clean)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} {redact_text(message)}", file=sys.stderr, flush=True)  # no feed credentials in logs


class TerminalProgress:
    """What the commands pass to a stage as `progress`: a rich bar per stage on a terminal, a plain
    line at every ~10% otherwise (logs, pipes, cron); a stage's notes are log lines either way."""

    def __init__(self, tty: bool | None = None):
        self.tty = is_tty() if tty is None else tty
        self.milestones = Milestones(0.1)
        self._bars: dict[str, tuple[Progress, TaskID]] = {}

    def __call__(self, event: ProgressEvent) -> None:
        if event.kind == "note":
            log(event.note)
        elif self.tty:
            self._bar(event)
        elif event.kind == "start":
            self.milestones.due(event)
            log(f"{event.stage}: starting ({_of(event.total)} items)")
        elif self.milestones.due(event):
            log(f"{event.stage}: {event.done}/{_of(event.total)}" + (f" {event.note}" if event.note else ""))

    def _bar(self, event: ProgressEvent) -> None:
        if event.kind == "start":
            bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[note]}"),
                console=err_console(),
                transient=False,
            )
            bar.start()
            self._bars[event.stage] = (bar, bar.add_task(event.stage, total=event.total, note=""))
            return
        if event.stage not in self._bars:
            return
        bar, task = self._bars[event.stage]
        if event.kind == "advance":
            bar.update(task, completed=event.done, note=event.note)
        else:  # done
            bar.stop()
            del self._bars[event.stage]


def _of(total: int | None) -> str:
    return str(total) if total is not None else "?"


def stage_progress(quiet: bool = False) -> TerminalProgress | None:
    """The `progress` a command gives a stage: None (silent) with --json, else bars or lines."""
    return None if quiet else TerminalProgress()


@contextmanager
def progress(label: str, total: int | None, quiet: bool = False) -> Iterator[Advance]:
    """Progress of a command's own loop (checking feeds, installing models): a rich bar on a
    terminal, a log line every ~10% otherwise; nothing when `quiet`."""
    with track(stage_progress(quiet), label, total) as advance:
        yield advance


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (UTF-8, non-ASCII kept)."""
    sys.stdout.write(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
