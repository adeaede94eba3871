"""What `monitor demo` prints after the pipeline: what was stored, originals beside translations,
stories with both countries' coverage side by side, and how each press framed the debate that day."""

from __future__ import annotations

from datetime import date

import click
import sqlite_utils
from rich.console import Console
from rich.table import Table

from monitor.analysis.compare import compare
from monitor.analysis.stories import StoryArticle, StoryView, list_stories
from monitor.cli.console import is_tty
from monitor.config.settings import Settings
from monitor.days import day_bounds

COUNTRIES = ("US", "MX")


def print_articles(db: sqlite_utils.Database) -> None:
    click.echo("\nArticles stored, by country:")
    for row in db.query(
        "SELECT o.country, count(DISTINCT o.id) AS outlets, count(a.id) AS articles FROM articles a "
        "JOIN outlets o ON o.id = a.outlet GROUP BY o.country ORDER BY o.country"
    ):
        click.echo(f"  {row['country']}: {row['articles']} articles from {row['outlets']} outlets")


def print_translations(db: sqlite_utils.Database, limit: int = 6) -> None:
    """A few originals beside their translations, articles about the debate first."""
    rows = list(
        db.query(
            "SELECT a.outlet, a.language, a.title, t.language AS tlang, t.title AS ttitle, t.engine, t.rough "
            "FROM articles a JOIN article_translations t ON t.article = a.id LEFT JOIN analyses an ON an.article = a.id "
            "ORDER BY COALESCE(an.relevant, 0) DESC, a.language DESC, a.published DESC LIMIT ?",
            [limit],
        )
    )
    if not rows:
        click.echo("\nTranslations: none (no translation engine available; see `monitor models list`).")
        return
    click.echo("\nOriginals beside translations:")
    for row in rows:
        rough = " (rough)" if row["rough"] else ""
        click.echo(f"  [{row['outlet']}, {row['language']}] {row['title']}")
        click.echo(f"      -> [{row['tlang']}, {row['engine']}{rough}] {row['ttitle']}")


def _headlines(articles: list[StoryArticle], limit: int = 3) -> str:
    lines = []
    for a in articles[:limit]:
        lines.append(f"[{a.outlet_name}] {a.title}")
        if a.title_translated:
            lines.append(f"  → {a.title_translated}" + (" (rough)" if a.translation_rough else ""))
    more = len(articles) - limit
    if more > 0:
        lines.append(f"  (+{more} more)")
    return "\n".join(lines) or "—"


def stories_table(views: list[StoryView]) -> Table:
    table = Table(title="Stories covered by both countries' press, side by side", show_lines=True, expand=True)
    table.add_column("story", ratio=1)
    for c in COUNTRIES:
        table.add_column(f"{c} press", ratio=3)
    for v in views:
        t = v.title_en  # the central headline (analysis/titles.py); the keywords beneath
        head = f"{t.headline}{' (machine translation)' if t.translated else ''}\n" if t else ""
        label = f"#{v.id} {head}{v.label_en}\n{v.label_es}"
        table.add_row(label, *(_headlines(v.articles_by_country.get(c, [])) for c in COUNTRIES))
    return table


def _bar(share: float, width: int = 20) -> str:
    n = round(share * width)
    return "█" * n + "·" * (width - n) + f" {share:>4.0%}"


def frames_table(db: sqlite_utils.Database, settings: Settings, day: date) -> Table | None:
    start, end = day_bounds(day, settings.digest.timezone)
    result = compare(db, settings, start, end, translate_words=None)
    if not result.countries:
        return None
    shares: dict[str, dict[str, float]] = {}
    labels: dict[str, str] = {}
    for country, cc in result.countries.items():
        for f in cc.frames:
            shares.setdefault(f.frame, {})[country] = f.share
            labels[f.frame] = f.label_en
    table = Table(title=f"How each press framed the debate on {day} (share of relevant articles' top frames)")
    table.add_column("frame")
    for c in COUNTRIES:
        n = result.countries[c].articles if c in result.countries else 0
        table.add_column(f"{c} ({n} articles)")
    order = sorted(shares, key=lambda f: -max(shares[f].values()))
    for frame in order:
        table.add_row(labels[frame], *(_bar(shares[frame].get(c, 0.0)) for c in COUNTRIES))
    return table


def print_analysis(db: sqlite_utils.Database, settings: Settings, day_iso: str) -> None:
    day = date.fromisoformat(day_iso)
    start, end = day_bounds(day, settings.digest.timezone)
    views = [v for v in list_stories(db, start, end) if all(c in v.articles_by_country for c in COUNTRIES)]
    console = Console(highlight=False, width=None if is_tty() else 140)
    if views:
        click.echo("")
        console.print(stories_table(views[:5]))
    else:
        click.echo(f"\nNo story on {day_iso} was covered by both countries' press.")
    table = frames_table(db, settings, day)
    if table is not None:
        click.echo("")
        console.print(table)
