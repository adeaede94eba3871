"""Commands: analyze, cluster, stories, compare."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import click
import sqlite_utils

from monitor.analysis.compare import Comparison, compare
from monitor.analysis.frame_mix import MIXES
from monitor.analysis.stories import StoryView, list_stories
from monitor.analysis.titles import StoryTitle
from monitor.cli.console import print_json, stage_progress
from monitor.days import day_range
from monitor.store.db import open_db, utcnow

_DATE_OPT = click.option("--date", "day", metavar="D", help="Calendar day YYYY-MM-DD, 'today' (default) or 'yesterday', in digest.timezone.")
_DAYS_OPT = click.option("--days", type=click.IntRange(min=1, max=366), default=1, show_default=True, help="Number of days ending with --date.")
_JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")

T = TypeVar("T")


def _read_days(ctx: click.Context, day: str | None, days: int, read: Callable[[sqlite_utils.Database, datetime, datetime], T]) -> tuple[datetime, datetime, T]:
    """`read(db, start, end)` over the calendar days --date/--days name (in digest.timezone), then close the db."""
    settings = ctx.obj.settings
    start, end = day_range(settings.digest.timezone, day, days, now=utcnow())
    db = open_db(settings.db_path)
    try:
        return start, end, read(db, start, end)
    finally:
        db.close()


@click.command()
@_JSON_OPT
@click.pass_context
def analyze(ctx: click.Context, as_json: bool) -> None:
    """Score new and changed articles: relevance to the debate, frames with evidence, actors, keywords.

    Unchanged articles are skipped; editing the debate file (--debate / MONITOR_DEBATE) re-analyses all.

    \b
    Examples:
      monitor analyze
      monitor --debate my-debate.toml analyze --json
    """
    from monitor.pipeline import run_named  # the stages are slow to import: only when one runs

    report = run_named(ctx.obj.settings, "analyze", now=utcnow(), progress=stage_progress(as_json))
    if as_json:
        print_json(report)
    else:
        click.echo(f"analyze: {report.describe()}")


@click.command()
@_JSON_OPT
@click.pass_context
def cluster(ctx: click.Context, as_json: bool) -> None:
    """Group relevant articles of both countries and languages into stories (incremental, stable ids).

    \b
    Examples:
      monitor cluster
      MONITOR_CLUSTER_JOIN=1.5 monitor cluster --json
    """
    from monitor.pipeline import run_named

    report = run_named(ctx.obj.settings, "cluster", now=utcnow(), progress=stage_progress(as_json))
    if as_json:
        print_json(report)
    else:
        click.echo(f"cluster: {report.describe()}")


def _title_text(t: StoryTitle) -> str:
    """A headline with its source, marked when it is a machine translation."""
    mark = f"  ({'rough ' if t.rough else ''}machine translation of: {t.original})" if t.translated else ""
    lede = " (first sentence of the lede: no headline)" if t.source == "lede" else ""
    return f"{t.headline}  [{t.country} · {t.outlet}{lede}]{mark}"


def _story_text(v: StoryView, lang: str) -> list[str]:
    sizes = ", ".join(f"{c} {n}" for c, n in v.size_by_country.items())
    title = v.title(lang)
    head = _title_text(title) if title else (v.label_en if lang == "en" else v.label_es) or f"story {v.id}"
    lines = [f"#{v.id}  {head}"]
    if title and title.other:
        lines.append(f"    {title.other.country}: {_title_text(title.other)}")
    lines.append(f"    keywords: {v.label_en}  |  {v.label_es}   ({sizes}; {len(v.outlets)} outlets)")
    for country, frames in sorted(v.frames_by_country.items()):
        mix = ", ".join(f"{f} {share:.0%}" for f, share in list(frames.items())[:4])
        lines.append(f"    frames {country}: {mix}")
    for country, arts in v.articles_by_country.items():
        first = v.first_seen_by_country.get(country, "")
        lines.append(f"  {country} (first {first[:16].replace('T', ' ')} UTC)")
        for a in arts:
            lines.append(f"    [{a.outlet_name}] {a.title}")
            if a.title_translated:
                rough = " (rough translation)" if a.translation_rough else ""
                lines.append(f"        {a.translated_language}: {a.title_translated}{rough}")
    return lines


@click.command()
@_DATE_OPT
@_DAYS_OPT
@click.option("--limit", type=click.IntRange(min=1), help="Show at most N stories.")
@click.option("--lang", type=click.Choice(["en", "es"]), help="Language of the story titles (default: [digest] lang).")
@_JSON_OPT
@click.pass_context
def stories(ctx: click.Context, day: str | None, days: int, limit: int | None, lang: str | None, as_json: bool) -> None:
    """Stories of a day: a headline title, size and frames per country, headlines in both languages.

    A story is titled by its most central article's headline in the reader's language (a machine
    translation is marked), with the other country's central headline beneath when both presses
    covered it; its keywords follow. Stories that both countries' press covered come first. --json
    carries both languages' titles (title_en, title_es) whatever --lang says.

    \b
    Examples:
      monitor stories
      monitor stories --date 2026-11-22 --days 2 --limit 5
      monitor stories --lang es
      monitor stories --date yesterday --json
    """
    start, end, views = _read_days(ctx, day, days, lambda db, start, end: list_stories(db, start, end, limit=limit))
    if as_json:
        print_json({"start": start, "end": end, "stories": views})
        return
    if not views:
        click.echo("no stories in this range (run `monitor run`, or try another --date)")
        return
    for v in views:
        click.echo("\n".join(_story_text(v, lang or ctx.obj.settings.digest.lang)) + "\n")


def _short_title(title: StoryTitle | None, keywords: str) -> str:
    """A story's English headline title on one line ("(machine translation)" marked), else its keywords."""
    if title is None:
        return keywords
    return f"{title.headline} ({'rough ' if title.rough else ''}machine translation)" if title.translated else title.headline


def _comparison_text(c: Comparison) -> list[str]:
    lines = [f"{c.debate}: {c.start} .. {c.end}", f"stories covered by both: {c.shared_stories}"]
    for country, cc in c.countries.items():
        lines.append(f"\n{country}: {cc.articles} relevant articles of {cc.analysed}, {cc.outlets} outlets, {cc.stories} stories")
        lines.append(f"  frame shares by {cc.shares_by}" + (" summed" if cc.shares_by == MIXES else " counted"))
        for f in cc.frames[:6]:
            lines.append(f"  {f.label_en:<36} {f.share:>5.0%}  ({f.articles} articles)")
            for e in f.examples[:1]:
                lines.append(f"      \u201c{e.sentence[:140]}\u201d  [{', '.join(e.terms)}]")
        if cc.distinctive_words:
            words = ", ".join(f"{w.word}{'/' + w.word_es if w.word_es else ''} (z {w.z:.1f})" for w in cc.distinctive_words[:10])
            lines.append(f"  distinctive words: {words}")
    if c.blindspots:
        lines.append("\nblindspots (covered by one country's press only):")
        for b in c.blindspots:
            lines.append(f"  #{b.story} {_short_title(b.title_en, b.label_en)}: {b.covered_by} only, {b.size} articles")
    if c.lead_lag:
        lines.append("\nwho covered shared stories first:")
        for ll in c.lead_lag:
            lines.append(f"  #{ll.story} {_short_title(ll.title_en, ll.label_en)}: {ll.first_country} first, by {ll.lead_minutes // 60} h {ll.lead_minutes % 60:02d} min")
    return lines


@click.command("compare")
@_DATE_OPT
@_DAYS_OPT
@_JSON_OPT
@click.pass_context
def compare_cmd(ctx: click.Context, day: str | None, days: int, as_json: bool) -> None:
    """Compare the US and Mexican press: counts, frame shares with evidence, distinctive words,
    blindspots and who covered shared stories first.

    \b
    Examples:
      monitor compare
      monitor compare --date 2026-11-22 --json
      monitor compare --date yesterday --days 7
    """
    _, _, result = _read_days(ctx, day, days, lambda db, start, end: compare(db, ctx.obj.settings, start, end))
    if as_json:
        print_json(result)
    else:
        click.echo("\n".join(_comparison_text(result)))


COMMANDS: list[click.Command] = [analyze, cluster, stories, compare_cmd]
