"""Command: export."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from monitor.config.bounds import day_range_text, instant_in_range
from monitor.errors import MonitorError, UsageError
from monitor.store.db import iso, open_db
from monitor.store.export import ExportFilter, iter_articles

CSV_FIRST = ["id", "outlet", "country", "language", "url", "title", "summary", "published", "first_seen"]


def _date(value: str | None, name: str) -> str | None:
    """A date or date-time (any UTC offset) as the stored form: an instant in UTC ISO-8601, so that
    comparing strings compares instants. A date alone is midnight UTC; no offset means UTC."""
    if value is None:
        return None
    example = "a date like 2026-11-01 or a time like 2026-11-01T00:00:00-06:00"
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--{name} must be {example}, got {value!r}") from None
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    if not instant_in_range(dt):
        raise UsageError(f"--{name} {value!r} is out of range: use a day {day_range_text()}")
    return iso(dt)


def _out_file(out_path: str) -> Path:
    """The --out file, checked before anything is read: its folder must exist (nothing is created)."""
    target = Path(out_path)
    folder = target.parent
    if not folder.is_dir():
        raise UsageError(f"--out {out_path}: folder {folder} does not exist; create it first or choose another path")
    if target.is_dir():
        raise UsageError(f"--out {out_path}: is a folder; name a file")
    return target


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--since", help="Published at or after this date or time (UTC unless it has an offset), e.g. 2026-11-01 or 2026-11-01T00:00-06:00.")
@click.option("--until", help="Published before this date or time (UTC unless it has an offset).")
@click.option("--country", help="Only this country (US, MX).")
@click.option("--outlet", help="Only this outlet id.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def export(
    fmt: str, since: str | None, until: str | None, country: str | None, outlet: str | None, out_path: str | None
) -> None:
    """Export one row per article with every stored field (JSON Lines or CSV).

    Stable field names: id, outlet, country, language, url, title, summary, published, first_seen,
    translations, relevant, relevance, top_frame, frames, actors, story. In CSV, lists and objects
    are JSON strings, and a cell starting with = + - @ TAB or CR gets a leading ' so that a
    spreadsheet shows it as text instead of running it as a formula.

    \b
    Examples:
      monitor export --since 2026-11-01 --country MX > mx.jsonl
      monitor export --format csv --out articles.csv
    """
    ctx = click.get_current_context()
    settings = ctx.obj.settings
    f = ExportFilter(since=_date(since, "since"), until=_date(until, "until"), country=country, outlet=outlet)
    target = _out_file(out_path) if out_path else None
    db = open_db(settings.db_path)
    try:
        if target is not None:
            # written beside the target and renamed: a crash never leaves a truncated export
            tmp = target.with_name(target.name + ".part")
            try:
                with tmp.open("w", encoding="utf-8", newline="") as fh:
                    count = _write(fh, fmt, iter_articles(db, f))
                os.replace(tmp, target)
            except OSError as exc:
                tmp.unlink(missing_ok=True)
                raise MonitorError(f"--out {out_path}: cannot write: {exc.strerror or exc}; nothing was written") from None
            click.echo(f"{count} articles written to {out_path}", err=True)
        else:
            _write(sys.stdout, fmt, iter_articles(db, f))
    finally:
        db.close()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string starting like a formula (= + - @ TAB CR, the
    OWASP CSV-injection list; feed titles are attacker-controlled) gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _write(out: TextIO, fmt: str, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if fmt == "jsonl":
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            flat = {k: csv_cell(json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v) for k, v in row.items()}
            if writer is None:
                fields = CSV_FIRST + [k for k in flat if k not in CSV_FIRST]
                writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
                writer.writeheader()
            writer.writerow(flat)
        count += 1
    return count

COMMANDS: list[click.Command] = [export]
