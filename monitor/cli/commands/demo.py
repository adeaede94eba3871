"""Command: demo."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import click

from monitor.cli import demo_report
from monitor.cli.commands.core import summarize
from monitor.cli.console import stage_progress
from monitor.demo import runner as demo_mod
from monitor.store.db import open_db


def _write_digest(db: Any, settings: Any, folder: Path) -> list[str]:
    """The demo day's digest as HTML, text and Markdown files (the sample news is from that day)."""
    from datetime import date

    from monitor.digest.stage import make_digest

    report = make_digest(db, settings, date.fromisoformat(demo_mod.DEMO_DAY), now=demo_mod.DEMO_NOW, out_dir=folder)
    return [str(f) for f in report.files]


@click.command()
@click.option(
    "--dir",
    "workdir",
    type=click.Path(file_okay=False),
    help="Keep the demo database and digest files here (default: a new temporary folder).",
)
def demo(workdir: str | None) -> None:
    """Run everything on bundled sample feeds served from loopback (no network needed).

    Serves 12+ sample outlets (US in English, Mexico in Spanish) on 127.0.0.1, polls them into a
    temporary database, runs every stage, and prints what happened: articles, translations,
    stories with both countries' coverage side by side, the frame comparison and the digest files.

    \b
    Examples:
      monitor demo
      monitor demo --dir ./demo-out
    """
    ctx = click.get_current_context()
    base = ctx.obj.settings
    folder = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="monitor-demo-"))

    def on_stage(name: str, report: Any, error: str | None) -> None:
        if error:
            click.echo(f"{name}: FAILED: {error}", err=True)
        else:
            click.echo(f"{name}: {summarize(name, report)}")

    click.echo(f"Serving the sample feeds on loopback; database and files in {folder}")
    settings, result = demo_mod.build_demo_db(folder, base.replace(db="", feeds=""), progress=stage_progress(), on_stage=on_stage)
    db = open_db(settings.db_path)
    try:
        demo_report.print_articles(db)
        demo_report.print_translations(db)
        demo_report.print_analysis(db, settings, demo_mod.DEMO_DAY)
        files = _write_digest(db, settings, folder)
    finally:
        db.close()
    if files:
        click.echo(f"\nDigest for the demo day {demo_mod.DEMO_DAY}:")
        for f in files:
            click.echo(f"  {f}")
    if not result.ok:
        raise SystemExit(1)


COMMANDS: list[click.Command] = [demo]
