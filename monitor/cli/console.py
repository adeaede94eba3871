"""Terminal output shared by the commands: progress (rich bar on a tty, plain lines otherwise),
one-line logging, and JSON printing."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from monitor.ingest.urls import redact_text
from monitor.store.db import to_jsonable


class Advance(Protocol):
    def __call__(self, n: int = 1, note: str = "") -> None: ...


def is_tty() -> bool:
    return sys.stderr.isatty()


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def log(message: str) -> None:
    """One plain, greppable line on stderr (never on stdout, which --json keeps clean)."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    print(f"{stamp} {redact_text(message)}", file=sys.stderr, flush=True)  # no feed credentials in logs


@contextmanager
def progress(label: str, total: int | None, quiet: bool = False) -> Iterator[Advance]:
    """Report progress of `total` steps: a rich bar on a terminal, a log line every ~10% otherwise."""
    if quiet:
        yield lambda n=1, note="": None
        return
    if is_tty():
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=err_console(),
            transient=False,
        ) as bar:
            task = bar.add_task(label, total=total, note="")

            def advance(n: int = 1, note: str = "") -> None:
                bar.update(task, advance=n, note=note)

            yield advance
        return
    done = 0
    step = max(1, (total or 10) // 10)
    next_report = step
    log(f"{label}: starting ({total if total is not None else '?'} items)")

    def advance_plain(n: int = 1, note: str = "") -> None:
        nonlocal done, next_report
        done += n
        if done >= next_report or (total is not None and done >= total):
            log(f"{label}: {done}/{total if total is not None else '?'}" + (f" {note}" if note else ""))
            while next_report <= done:
                next_report += step

    yield advance_plain


def print_json(data: Any) -> None:
    """Print data as JSON on stdout (UTF-8, non-ASCII kept)."""
    sys.stdout.write(json.dumps(to_jsonable(data), ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
