"""Renderers of the digest model: plain text, Markdown, HTML for email (Jinja2 templates shipped as
package data in monitor/digest/templates/digest.*) and JSON (the model itself).

The HTML environment autoescapes everything; no template marks feed text `|safe`. Links go through
`href`, which lets only http(s) URLs through. Markdown escapes feed text so a headline can never
become markup or a link. Plain text is plain: nothing in it is ever interpreted.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from monitor.digest import i18n
from monitor.digest.model import Digest, EngineUse, FeedProblem, StoryHeadline, as_dict
from monitor.ingest.urls import http_url

FORMATS = ("text", "markdown", "html", "json")
EXTENSIONS = {"text": "txt", "markdown": "md", "html": "html", "json": "json"}
_TEMPLATES = {"text": "digest.txt.j2", "markdown": "digest.md.j2", "html": "digest.html.j2"}
# One colour per country, used for bars and tags; countries beyond these get the neutral one.
COLOURS = {"US": "#1d4ed8", "MX": "#0f766e"}
NEUTRAL = "#6b7280"

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def md_escape(value: object) -> str:
    """Feed text for Markdown: every character that could start markup, a link or HTML is escaped."""
    text = "" if value is None else str(value)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return text.replace("&", "&amp;")  # no HTML entities sneak through: "&lt;script&gt;" stays visible text


def md_url(value: object) -> str | None:
    """A URL for a Markdown link target: http(s) only, parentheses and angle brackets percent-encoded."""
    url = http_url(None if value is None else str(value))
    if url is None:
        return None
    return url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")


def href(value: object) -> str | None:
    return http_url(None if value is None else str(value))


def _templates_dir() -> Path:
    from monitor.digest import templates
    return Path(templates.__file__).resolve().parent


@cache
def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_dir())),
        autoescape=autoescape,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["md"] = md_escape
    env.filters["md_url"] = md_url
    env.filters["href"] = href
    return env


def _context(digest: Digest) -> dict[str, Any]:
    lang = digest.lang

    def t(key: str, **values: object) -> str:
        return i18n.t(lang, key, **values)

    def pct(share: float) -> str:
        return i18n.percent(lang, share)

    def press(code: str) -> str:
        return digest.press.get(code) or i18n.country(lang, code)

    def short(code: str) -> str:
        return i18n.country(lang, code, "short")

    def colour(code: str) -> str:
        return COLOURS.get(code, NEUTRAL)

    def signed(points: int) -> str:
        return f"+{points}" if points > 0 else str(points)

    def language_tag(code: str | None) -> str:
        return (code or "").upper()

    def problem(p: FeedProblem) -> str:
        """What is wrong with a feed, in one short phrase."""
        parts = []
        if p.error:
            parts.append(p.error)
        if p.failures:
            parts.append(t("failures", n=p.failures))
        if not p.error and not p.failures:
            parts.append(t("last_article", date=p.last_article) if p.last_article else t("no_article"))
        return "; ".join(parts)

    def mark(h: StoryHeadline | None) -> str:
        """" (machine translation)" after a story title that is one ("rough" when word-for-word), else ""."""
        if h is None or not h.translated:
            return ""
        return f" ({t('rough') if h.rough else t('machine_translation')})"

    def engines(uses: list[EngineUse]) -> str:
        if not uses:
            return t("engine_none")
        listed = "; ".join(
            t("engine_use", engine=u.engine, model=u.model, articles=u.articles) + (f" ({t('rough')})" if u.rough else "")
            for u in uses
        )
        return f"{t('engine')}: {listed}"

    return {
        "d": digest,
        "t": t,
        "pct": pct,
        "press": press,
        "short": short,
        "colour": colour,
        "signed": signed,
        "lang_tag": language_tag,
        "problem": problem,
        "engines": engines,
        "mark": mark,
        "cap": i18n.capital,
        "generated": digest.footer.generated_at.replace("T", " ").replace("+00:00", " UTC"),
    }


def render(digest: Digest, fmt: str) -> str:
    """The digest in `fmt`: text | markdown | html | json."""
    if fmt == "json":
        return json.dumps(as_dict(digest), ensure_ascii=False, indent=2) + "\n"
    if fmt not in _TEMPLATES:
        from monitor.errors import UsageError

        raise UsageError(f"unknown digest format {fmt!r}; use one of: {', '.join(FORMATS)}")
    env = _environment(autoescape=fmt == "html")
    text = env.get_template(_TEMPLATES[fmt]).render(**_context(digest))
    if fmt != "html":
        text = re.sub(r"\n{3,}", "\n\n", text)
    return text
