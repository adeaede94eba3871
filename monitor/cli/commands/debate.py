"""Commands: debate check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import sqlite_utils

from monitor.analysis.analyze import ArticleText, load_articles
from monitor.analysis.debate import Debate, load_debate
from monitor.analysis.debate_lint import (
    Collision,
    TranslationOnly,
    Untranslated,
    lower_case_words,
    stem_collisions,
    translation_only_terms,
    untranslated_words,
    word_forms,
)
from monitor.cli.console import print_json, progress
from monitor.errors import TranslationError
from monitor.models import Advance
from monitor.store.db import open_db


@click.group()
def debate() -> None:
    """The debate file (feeds/debates/*.toml or --debate): check it before you rely on it.

    \b
    Examples:
      monitor debate check
      monitor --debate my-debate.toml debate check --json
    """


def _texts(db_path: Path, limit: int) -> Iterator[tuple[str, str]]:
    """(language, headline + summary) of the `limit` most recently stored articles, read-only."""
    db = open_db(db_path, readonly=True)
    try:
        rows = db.execute("SELECT language, title, summary FROM articles ORDER BY id DESC LIMIT ?", [limit])
        for language, title, summary in rows:
            yield str(language), f"{title or ''}. {summary or ''}"
    finally:
        db.close()


def _translated_ids(db: sqlite_utils.Database, limit: int) -> dict[int, bool]:
    """Article id -> found relevant, of the `limit` most recently stored articles that have a translation."""
    rows = db.execute(
        """SELECT a.id, COALESCE(an.relevant, 0) FROM articles a LEFT JOIN analyses an ON an.article = a.id
           WHERE EXISTS (SELECT 1 FROM article_translations t WHERE t.article = a.id) ORDER BY a.id DESC LIMIT ?""",
        [limit],
    ).fetchall()
    return {int(a): bool(r) for a, r in rows}


def _translated(db: sqlite_utils.Database, relevant: dict[int, bool], advance: Advance) -> Iterator[tuple[ArticleText, bool]]:
    """(text with its translations, found relevant) of these articles, 500 at a time (an article's
    body is read too: the whole set is never held at once)."""
    ids = sorted(relevant)
    for start in range(0, len(ids), 500):
        for text, _, _ in load_articles(db, ids[start : start + 500]):
            yield text, relevant[text.id]
            advance(1)


def _translation_only(d: Debate, db_path: Path, limit: int, quiet: bool) -> list[TranslationOnly]:
    db = open_db(db_path, readonly=True)
    try:
        relevant = _translated_ids(db, limit)
        with progress("reading translations", len(relevant), quiet=quiet) as advance:
            return translation_only_terms(d, _translated(db, relevant, advance))
    finally:
        db.close()


def _translation_only_line(t: TranslationOnly) -> str:
    return f"  {t.language} articles: \"{t.term}\" ({t.term_language}) {t.articles}× ({t.relevant} relevant), e.g. \"{t.example}\""


def _counts(d: Debate) -> dict[str, int]:
    return {
        "relevance_patterns": sum(len(g.patterns) for g in d.terms),
        "exclusions": len(d.exclusions),
        "frames": len(d.frames),
        "actors": len(d.actors),
        "parties": len(d.parties),
    }


def _untranslated(d: Debate, texts: list[tuple[str, str]], min_count: int) -> tuple[list[Untranslated], str]:
    """The frequent words apertium leaves untranslated, and why none could be listed ("" when it ran)."""
    from monitor.translation.apertium import ApertiumTranslator, is_installed

    if not is_installed():
        return [], "apertium is not installed: no glossary candidates (apt-get install apertium apertium-eng-spa)"
    engine = ApertiumTranslator([])
    other = {"en": "es", "es": "en"}
    try:
        found = untranslated_words(
            d, lower_case_words(texts), lambda lang, examples: engine.unknown(examples, lang, other.get(lang, lang)), min_count
        )
    except TranslationError as exc:
        return [], f"could not ask apertium: {exc}"
    return found, ""


def _collision_line(c: Collision) -> str:
    others = ", ".join(f"{w} {n}" for w, n in c.others)
    more = " …" if c.other_count > sum(n for _, n in c.others) else ""
    return (
        f"  {c.language} \"{c.word}\" ({'; '.join(c.used_in)}) also matches {c.other_count}×: {others}{more}"
        f"  [its own forms: {c.own}×]"
    )


@debate.command("check")
@click.option("--limit", type=click.IntRange(min=1), default=20000, show_default=True, help="Read the words of the N most recently stored articles.")
@click.option("--min-count", type=click.IntRange(min=1), default=3, show_default=True, help="List a word whose stem matched other words at least this often.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def check_cmd(ctx: click.Context, limit: int, min_count: int, as_json: bool) -> None:
    """Validate the debate file, then list its one-word patterns whose stem also matches other words
    in the stored articles, the frequent words the rough translation (apertium) leaves as written,
    and the core terms the stored articles matched only through their translation.

    A one-word pattern matches every form of the word by its stem, and a stem can join words of
    different meanings: "aseguramiento" (a drug seizure) also matches "aseguró" (he said). Where the
    extra words are wrong, write a word beginning instead ("aseguramient*"). A word apertium does
    not know ("fentanilo", "airspace") stays as written in its translations: a line in the file's
    [glossary] translates it. A core term found only in an article's translation, its original
    holding none ("sovereignty ~ mexic*" in the English of "Senado aprueba reforma sobre soberanía
    nacional"), means the article's own language lacks an equivalent: with translation off, or a
    rougher translation, the article is missed. An invalid file exits 2 with the section and field at fault; the
    lists are advice and never fail the check.

    \b
    Examples:
      monitor debate check
      monitor --debate my-debate.toml debate check --min-count 10
      monitor debate check --json
    """
    settings = ctx.obj.settings
    d = load_debate(settings.debate_path)
    stored = settings.db_path.exists()
    texts = list(_texts(settings.db_path, limit)) if stored else []
    collisions = stem_collisions(d, word_forms(texts), min_count) if stored else []
    untranslated, why_not = _untranslated(d, texts, min_count) if stored else ([], "")
    only_translated = _translation_only(d, settings.db_path, limit, as_json) if stored else []
    if as_json:
        payload: dict[str, Any] = {
            "file": str(d.path), "debate": d.id, "valid": True, **_counts(d),
            "articles_read": stored, "stem_collisions": collisions,
            "untranslated": untranslated, "untranslated_unavailable": why_not or None,
            "translation_only": only_translated,
        }
        print_json(payload)
        return
    counts = _counts(d)
    click.echo(
        f"{d.path}: valid: debate {d.id}, {counts['relevance_patterns']} relevance patterns, "
        f"{counts['exclusions']} exclusions, {counts['frames']} frames, {counts['actors']} actors"
    )
    if not stored:
        click.echo(f"no database at {settings.db_path}: run `monitor run` (or `monitor demo`) to check the patterns against stored articles")
    elif not collisions:
        click.echo(f"no one-word pattern's stem matched other words {min_count} times or more in the stored articles")
    else:
        click.echo(f"one-word patterns whose stem also matched other words (where those are wrong, write the word as a beginning, e.g. \"{collisions[0].word}*\"):")
        for c in collisions:
            click.echo(_collision_line(c))
    if why_not:
        click.echo(why_not)
    elif untranslated:
        click.echo("words the rough translation (apertium) leaves as written; a [glossary] line translates one, e.g. \"lancha\" = \"boat\":")
        for language in sorted({u.language for u in untranslated}):
            click.echo(f"  {language}: " + ", ".join(f"{u.word} {u.count}" for u in untranslated if u.language == language))
    elif stored:
        click.echo(f"apertium knows every word used {min_count} times or more in the stored articles, or the glossary translates it")
    if only_translated:
        click.echo(
            "core terms found only in the translation of articles whose original holds none (where such an article"
            " belongs to the debate, add the term's equivalent in the article's language; without translation it is missed):"
        )
        for t in only_translated:
            click.echo(_translation_only_line(t))
    elif stored:
        click.echo("no stored article was found through a core term of its translation alone")


COMMANDS = [debate]
