"""Command: export."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import click

from monitor.errors import UsageError
from monitor.export import ExportFilter, iter_articles
from monitor.store import open_db

CSV_FIRST = ["id", "outlet", "country", "language", "url", "title", "summary", "published", "first_seen"]


def _date(value: str | None, name: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat() + value[10:]
    except ValueError:
        raise UsageError(f"--{name} must be a date like 2026-11-01, got {value!r}") from None


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--since", help="Published on or after this date (UTC), e.g. 2026-11-01.")
@click.option("--until", help="Published before this date (UTC).")
@click.option("--country", help="Only this country (US, MX).")
@click.option("--outlet", help="Only this outlet id.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
def export(
    fmt: str, since: str | None, until: str | None, country: str | None, outlet: str | None, out_path: str | None
) -> None:
    """Export one row per article with every stored field (JSON Lines or CSV).

    Stable field names: id, outlet, country, language, url, title, summary, published, first_seen,
    translations, relevant, relevance, top_frame, frames, actors, story. In CSV, lists and objects
    are JSON strings.

    \b
    Examples:
      monitor export --since 2026-11-01 --country MX > mx.jsonl
      monitor export --format csv --out articles.csv
    """
    ctx = click.get_current_context()
    settings = ctx.obj.settings
    f = ExportFilter(since=_date(since, "since"), until=_date(until, "until"), country=country, outlet=outlet)
    db = open_db(settings.db_path)
    try:
        if out_path:
            # written beside the target and renamed: a crash never leaves a truncated export
            target = Path(out_path)
            tmp = target.with_name(target.name + ".part")
            with tmp.open("w", encoding="utf-8", newline="") as fh:
                count = _write(fh, fmt, iter_articles(db, f))
            os.replace(tmp, target)
            click.echo(f"{count} articles written to {out_path}", err=True)
        else:
            _write(sys.stdout, fmt, iter_articles(db, f))
    finally:
        db.close()


def _write(out: TextIO, fmt: str, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    writer: csv.DictWriter[str] | None = None
    for row in rows:
        if fmt == "jsonl":
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        else:
            flat = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v for k, v in row.items()}
            if writer is None:
                fields = CSV_FIRST + [k for k in flat if k not in CSV_FIRST]
                writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore")
                writer.writeheader()
            writer.writerow(flat)
        count += 1
    return count

COMMANDS: list[click.Command] = [export]
