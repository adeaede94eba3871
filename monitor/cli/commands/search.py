"""Commands: search, show. Thin adapters over `monitor.search.query` and `monitor.search.engine`."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from monitor.cli.console import print_json
from monitor.config.bounds import id_in_range
from monitor.errors import MonitorError, UsageError
from monitor.search.engine import (
    SORTS,
    ArticleDetail,
    Hit,
    SearchResult,
    get_article,
    search,
    snippet_segments,
    snippet_text,
)
from monitor.search.query import QueryError, parse_query
from monitor.store.db import open_db, to_jsonable

SYNTAX_HELP = """\b
Query syntax (either language; the query is translated and both languages are searched):
  cartel drones              every word must match (plural/singular forms too)
  "guerra contra el narco"   an exact phrase (also matches only that exact form)
  drones OR misiles          either word (OR in capitals)
  cartel -sinaloa            leave out articles with a word (NOT sinaloa works too)
  terror*                    words starting with a prefix
  country:MX  outlet:la-jornada  lang:es  frame:sovereignty  story:42
  since:2026-11-01  until:2026-11-30  since:7d  since:24h
Matching ignores case and accents (méxico = Mexico = MÉXICO); common words
("de", "the") are ignored unless quoted. Dates are UTC; until: includes its day."""


def _tz(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _local(iso: str | None, tz: ZoneInfo | None) -> str:
    if not iso:
        return ""
    try:
        dt = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return (dt.astimezone(tz) if tz else dt).strftime("%Y-%m-%d %H:%M")


def _hit_json(hit: Hit) -> dict[str, Any]:
    data = to_jsonable(hit)
    data["snippet_text"] = snippet_text(hit.snippet)
    return data


def _result_json(result: SearchResult) -> dict[str, Any]:
    data = to_jsonable(result)
    data["hits"] = [_hit_json(h) for h in result.hits]
    data["elapsed_ms"] = round(result.elapsed_ms, 1)
    return data


def _mark(translated: bool, rough: bool, original: str | None) -> str:
    """The mark a machine-translated story title carries (empty for an original headline)."""
    if not translated:
        return ""
    return f"  ({'rough ' if rough else ''}machine translation of: {original})" if original else " (machine translation)"


def _story_line(hit: Hit) -> str | None:
    """`story 7: <its headline title> (marked when translated)`, or None for an article in no story."""
    if hit.story is None:
        return None
    title = hit.story_title or hit.story_label_en or ""
    return f"story {hit.story}: {title}" + _mark(hit.story_title_translated, hit.story_title_rough, hit.story_title_original)


def _title_text(title: dict[str, Any]) -> str:
    """A story title (StoryTitle as a dict) on one line: headline, source, translation mark."""
    lede = " (first sentence of the lede: no headline)" if title.get("source") == "lede" else ""
    mark = _mark(bool(title.get("translated")), bool(title.get("rough")), title.get("original"))
    return f"{title['headline']}  [{title['country']} · {title['outlet']}{lede}]{mark}"


def _print_notes(result: SearchResult, by_meaning: bool = False) -> None:
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    for lang, text in result.translated_query.items():
        click.echo(f"note: searched in {lang} as: {text}", err=True)
    shown = len(result.hits)
    total = f"{result.total_estimate}" + ("" if result.total_exact else "+")
    if shown:
        order = "similarity" if by_meaning and result.sort == "relevance" else result.sort
        click.echo(f"{shown} of {total} matching articles (by {order}, {result.elapsed_ms:.0f} ms)", err=True)
    else:
        click.echo(f"no articles match: {result.query}", err=True)


def _render_plain(result: SearchResult, tz: ZoneInfo | None) -> None:
    for hit in result.hits:
        meta = [f"#{hit.id}", _local(hit.published, tz), hit.country, hit.outlet_name, f"[{hit.language}]"]
        if hit.top_frame:
            meta.append(f"frame: {hit.top_frame}")
        if hit.matched_in == "meaning":
            meta.append(f"similarity {hit.score:.2f}")
        click.echo("  ".join(meta))
        click.echo(f"    {hit.title}")
        if hit.title_translated:
            rough = " (rough translation)" if hit.translation_rough else ""
            click.echo(f"    = [{hit.translation_language}] {hit.title_translated}{rough}")
        if hit.snippet:
            click.echo(f"    {snippet_text(hit.snippet)}")
        if story := _story_line(hit):
            click.echo(f"    {story}")
        if hit.url:
            click.echo(f"    {hit.url}")
        click.echo("")


def _render_table(result: SearchResult, tz: ZoneInfo | None) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=True, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("Date", no_wrap=True)
    table.add_column("", no_wrap=True)  # country
    table.add_column("Outlet", max_width=18)
    table.add_column("Headline (original / translation)", ratio=3)
    table.add_column("Frame", max_width=14)
    table.add_column("Snippet", ratio=3)
    for hit in result.hits:
        headline = Text()
        headline.append(hit.title, style="bold")
        if hit.title_translated:
            headline.append("\n" + hit.title_translated, style="italic dim")
            if hit.translation_rough:
                headline.append(" (rough)", style="yellow")
        if story := _story_line(hit):
            headline.append("\n" + story, style="cyan")
        snippet = Text()
        for part, highlighted in snippet_segments(hit.snippet):
            snippet.append(part, style="bold reverse" if highlighted else "")
        table.add_row(
            str(hit.id),
            _local(hit.published, tz),
            hit.country,
            Text(hit.outlet_name),
            headline,
            Text(hit.top_frame or ""),
            snippet,
        )
    Console(highlight=False).print(table)


@click.command("search", context_settings={"ignore_unknown_options": True}, epilog=SYNTAX_HELP)
@click.argument("query", nargs=-1)
@click.option("--country", multiple=True, help="Only these countries (US, MX); repeat or comma-separate.")
@click.option("--outlet", multiple=True, help="Only these outlet ids (see `monitor feeds`).")
@click.option("--lang", multiple=True, help="Only articles originally in this language (en, es).")
@click.option("--frame", multiple=True, help="Only articles with this frame (ids from the debate file).")
@click.option("--story", multiple=True, help="Only articles of this story id.")
@click.option("--since", help="Published on or after: 2026-11-01, 2026-11-01T14:00, 7d, 24h.")
@click.option("--until", help="Published on or before this day (or before this time).")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="Articles to show.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True, help="Ranking order.")
@click.option("--raw", is_flag=True, help="Treat QUERY as FTS5 syntax (NOT, NEAR, column:...); not translated.")
@click.option("--no-translate", is_flag=True, help="Do not translate the query (stored translations are still searched).")
@click.option(
    "--semantic", is_flag=True,
    help="Rank by meaning (embedding similarity), across languages without translation; filters still apply.",
)
@click.option("--like", "like", type=int, metavar="ARTICLE_ID", help="More like this: articles nearest in meaning to this one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the query, notes and one object per article.")
@click.pass_obj
def search_cmd(
    app: Any,
    query: tuple[str, ...],
    country: tuple[str, ...],
    outlet: tuple[str, ...],
    lang: tuple[str, ...],
    frame: tuple[str, ...],
    story: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int,
    sort: str,
    raw: bool,
    no_translate: bool,
    semantic: bool,
    like: int | None,
    as_json: bool,
) -> None:
    """Search articles in English and Spanish with one query in either language.

    An article's story is shown by its headline title: in Spanish with lang:es (or --lang es), in
    English with lang:en, else in the [digest] lang (as `monitor stories`); a machine-translated title
    is marked. --json adds story_title, story_title_language, story_title_translated (and _rough, _original).

    \b
    Examples:
      monitor search cárteles drones
      monitor search "fentanyl tariffs" country:MX since:7d
      monitor search '"guerra contra el narco" OR narcoterrorismo' --sort date
      monitor search --frame sovereignty --country US --limit 50
      monitor search --raw 'cartel NOT sinaloa'
      monitor search terror* --json | jq '.hits[].url'
      monitor search --semantic "drone strikes on cartels" country:MX since:7d
      monitor search --like 1234 --country US
    """
    text = " ".join(query)
    settings = app.settings
    try:
        if like is not None and not id_in_range(like):
            raise UsageError(f"no article #{like}; article ids are whole numbers from 1, see `monitor search`")
        if raw and (semantic or like is not None):
            raise UsageError("--raw is FTS5 syntax; it does not combine with --semantic or --like")
        by_meaning = semantic or like is not None
        parsed = parse_query(
            text, raw=raw, country=country, outlet=outlet, lang=lang, frame=frame, story=story, since=since, until=until,
            allow_empty=like is not None,
        )
        db = open_db(settings.db_path, readonly=True)
        try:
            if by_meaning:
                from monitor.search.semantic import semantic_search

                result = semantic_search(db, settings, parsed, like=like, limit=limit, sort=sort)
            else:
                result = search(db, settings, parsed, limit=limit, sort=sort, translate=not no_translate)
        finally:
            db.close()
    except MonitorError as exc:
        if as_json:
            print_json({"error": str(exc), "query": text, "hits": []})
        raise
    if as_json:
        print_json(_result_json(result))
        return
    _print_notes(result, by_meaning)
    tz = _tz(settings.digest.timezone)
    if sys.stdout.isatty():
        _render_table(result, tz)
    else:
        _render_plain(result, tz)


def _render_article(a: ArticleDetail, tz: ZoneInfo | None, lang: str = "en") -> None:
    echo = click.echo
    echo(f"#{a.id}  {a.outlet_name} ({a.outlet}, {a.country})  [{a.language}]")
    echo(f"published {_local(a.published, tz)}  first seen {_local(a.first_seen, tz)}" + (f"  date: {a.date_flag}" if a.date_flag else ""))
    if a.url:
        echo(a.url)
    if a.authors:
        echo("by " + ", ".join(a.authors))
    echo("")
    echo(a.title)
    echo("")
    if a.summary:
        echo(a.summary)
        echo("")
    if a.content_text and a.content_text.strip() != a.summary.strip():
        echo(a.content_text)
        echo("")
    for t in a.translations:
        label = f"Translation [{t['language']}] by {t['engine']}"
        if t["rough"]:
            label += " (ROUGH: word-for-word machine translation)"
        echo(f"--- {label}")
        echo(t["title"])
        if t["summary"]:
            echo("")
            echo(t["summary"])
        if t.get("content"):
            echo("")
            echo(t["content"])
        echo("")
    if not a.translations:
        echo("--- not translated yet (run `monitor translate`)")
        echo("")
    if a.analysis:
        an = a.analysis
        echo(f"--- Analysis: {'relevant' if an['relevant'] else 'not relevant'} (relevance {an['relevance']:.2f})")
        if an.get("probability") is not None:
            words = ", ".join(str(x) for x in an.get("model_terms") or [])
            echo(f"trained model: P(relevant) {an['probability']:.2f}" + (f"  [{words}]" if words else ""))
        for ev in an.get("evidence") or []:
            if isinstance(ev, dict) and ev.get("sentence"):
                terms = ", ".join(str(x) for x in ev.get("terms") or [])
                echo(f"  why: {ev['sentence']}" + (f"  [{terms}]" if terms else ""))
                if ev.get("sentence_translated"):
                    echo(f"     = {ev['sentence_translated']}")
        if an["top_frame"]:
            echo(f"top frame: {an['top_frame']}   frames: {', '.join(an['frames'])}")
        if an["actors"]:
            echo("actors: " + ", ".join(str(x) for x in an["actors"]))
        if an["keywords"]:
            echo("keywords: " + ", ".join(str(x) for x in an["keywords"]))
        echo("")
    for f in a.frames:
        echo(f"frame {f['frame']} (score {f['score']:.2f})")
        for ev in f["evidence"] if isinstance(f["evidence"], list) else []:
            if not isinstance(ev, dict):
                continue
            terms = ", ".join(str(x) for x in ev.get("terms") or [])
            echo(f"  - {ev.get('sentence', '')}" + (f"  [{terms}]" if terms else ""))
            if ev.get("sentence_translated"):
                echo(f"    = {ev['sentence_translated']}")
    if a.frames:
        echo("")
    if a.story:
        s = a.story
        title = s.get(f"title_{lang}")
        title = to_jsonable(title) if title is not None else None
        head = _title_text(title) if title else f"{s['label_en']} / {s['label_es']}"
        echo(f"--- Story {s['id']}: {head} ({s['size']} articles)")
        if title and title.get("other"):
            echo(f"    {title['other']['country']}: {_title_text(title['other'])}")
        if title and (s["label_en"] or s["label_es"]):
            echo(f"    keywords: {s['label_en']} / {s['label_es']}")
        for m in s["articles"]:
            mark = "*" if m["this"] else " "
            echo(f" {mark} #{m['id']}  {_local(m['published'], tz)}  {m['country']}  {m['outlet_name']}: {m['title']}")
            if m.get("title_translated"):
                echo(f"        = {m['title_translated']}")
    else:
        echo("--- not in a story")


@click.command("show")
@click.argument("article_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
@click.pass_obj
def show_cmd(app: Any, article_id: int, as_json: bool) -> None:
    """Show one article in full: original, translation, frames with evidence, and its story.

    \b
    Examples:
      monitor show 1234
      monitor show 1234 --json
    """
    settings = app.settings
    if not id_in_range(article_id):  # a huge id would overflow SQLite's INTEGER
        raise UsageError(f"no article #{article_id}; article ids are whole numbers from 1, see `monitor search`")
    db = open_db(settings.db_path, readonly=True)
    try:
        article = get_article(db, article_id)
    finally:
        db.close()
    if article is None:
        raise UsageError(f"no article #{article_id}; find article ids with `monitor search`")
    if as_json:
        print_json(to_jsonable(article))
        return
    _render_article(article, _tz(settings.digest.timezone), settings.digest.lang)


@click.command("similar", context_settings={"ignore_unknown_options": True})
@click.argument("article_id", type=int)
@click.argument("filters", nargs=-1)
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="Articles to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the query, notes and one object per article.")
@click.pass_context
def similar_cmd(ctx: click.Context, article_id: int, filters: tuple[str, ...], limit: int, as_json: bool) -> None:
    """More like this: the articles nearest in meaning to one article, in either language.

    The same as `monitor search --like ARTICLE_ID`; FILTERS are the search filters (country:US, since:7d ...).

    \b
    Examples:
      monitor similar 1234
      monitor similar 1234 country:US since:3d --json
    """
    ctx.invoke(
        search_cmd, query=filters, country=(), outlet=(), lang=(), frame=(), story=(), since=None, until=None,
        limit=limit, sort="relevance", raw=False, no_translate=False, semantic=True, like=article_id, as_json=as_json,
    )


COMMANDS: list[click.Command] = [search_cmd, show_cmd, similar_cmd]

__all__ = ["COMMANDS", "QueryError"]
