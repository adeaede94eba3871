"""Untrusted feed HTML -> clean text, or HTML cleaned with a narrow allowlist (nh3).

Everything a feed sends is treated as hostile: feedparser's own sanitiser keeps forms, tracking
pixels and SVG `xlink:href` (reference 2.4), so this module is the only place feed HTML is made safe.

- `text_from_html()`: tags removed (script/style/svg ... with their content), entities decoded,
  whitespace folded, invisible control and bidi-override characters removed, length capped.
- `paragraphs_from_html()`: the same, keeping one line per paragraph/block.
- `plain_text()`: for values that are text, not HTML (never interpreted as markup).
- `clean_html()`: p, a, em, strong, b, i, ul, ol, li, blockquote, br; `a[href]` with http(s) only,
  `rel="noopener noreferrer"`; no img, svg, form, style, script, iframe or attributes elsewhere.
- `html_from_text()`: text/plain content escaped into paragraphs, so `<script>` stays visible text.

The cleaners are built once (per feed base URL); each call is one pass of ammonia (Rust).
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import nh3

ALLOWED_TAGS = frozenset({"p", "a", "em", "strong", "b", "i", "ul", "ol", "li", "blockquote", "br"})
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {"a": {"href"}, "*": set()}
URL_SCHEMES = frozenset({"http", "https"})
LINK_REL = "noopener noreferrer"
# Elements removed together with everything inside them (their text is not article text).
# fmt: off
DROP_WITH_CONTENT = frozenset(
    {"script", "style", "svg", "math", "iframe", "template", "noscript", "title",
     "textarea", "select", "head"}
)
# fmt: on
HTML_INPUT_FACTOR = 8  # HTML longer than this many times the text cap is cut before cleaning


@lru_cache(maxsize=256)
def _html_cleaner(base: str | None) -> nh3.Cleaner:
    """The allowlist cleaner; relative hrefs are resolved against `base` (denied without one)."""
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        clean_content_tags=set(DROP_WITH_CONTENT),
        url_relative=("rewrite_with_base", base) if base else "deny",
        strip_comments=True,
    )


_TEXT_CLEANER = nh3.Cleaner(
    tags=set(),
    attributes={},
    clean_content_tags=set(DROP_WITH_CONTENT),
    url_relative="deny",
    strip_comments=True,
)

_PARA = "\ue000"  # private-use marker for block boundaries while text is extracted
# Block-level tags: their boundaries separate words ("<p>a</p><p>b</p>" is "a b", not "ab").
_BLOCK_TAG = re.compile(
    r"<(?=/?(?:p|div|br|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|blockquote|section|article|header|"
    r"footer|aside|figure|figcaption|pre|hr|nav|main|address|center)\b)",
    re.IGNORECASE,
)
_ACTIVE_TAG = re.compile(
    r"</?(?:script|style|iframe|frame|frameset|svg|math|object|embed|applet|form|input|button|"
    r"textarea|select|img|image|video|audio|source|link|meta|base|template|noscript)\b",
    re.IGNORECASE,
)
# Invisible characters that only hide or reorder text: C0/C1 controls (except whitespace, folded
# below), zero-width spaces, BOM, and the bidi overrides used to disguise text.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\ufeff\u202a-\u202e\u2066-\u2069" + _PARA + "]"
)
_WHITESPACE = re.compile(r"\s+")
_ELLIPSIS = "…"


def cap(text: str, max_chars: int) -> str:
    """`text` cut to at most `max_chars` characters, ending in an ellipsis when cut."""
    if len(text) <= max_chars:
        return text
    if max_chars <= 1:
        return text[:max_chars]
    cut = text[: max_chars - 1]
    space = cut.rfind(" ", max(0, max_chars - 80))
    return (cut[:space] if space > 0 else cut).rstrip() + _ELLIPSIS


def _fold(text: str) -> str:
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def plain_text(value: str | None, max_chars: int) -> str:
    """A text value (not HTML) on one line: invisible characters removed, whitespace folded, capped."""
    if not value:
        return ""
    return cap(_fold(value[: max_chars * HTML_INPUT_FACTOR]), max_chars)


def has_active_markup(value: str) -> bool:
    """True when a value typed as text carries markup that is never prose: script, img, form, svg ...

    Feeds mislabel HTML as text; a literal "<blink>" in an Atom text title is prose and stays, but
    a "<script>" or "<img onerror=...>" in a text field is markup, and is read as HTML instead.
    """
    return "<" in value and _ACTIVE_TAG.search(value) is not None


def _strip_tags(value: str, boundary: str) -> str:
    marked = _BLOCK_TAG.sub(boundary + "<", value) if "<" in value else value
    return html.unescape(_TEXT_CLEANER.clean(marked))


def text_from_html(value: str | None, max_chars: int) -> str:
    """The visible text of an HTML fragment on one line, entities decoded, capped."""
    if not value:
        return ""
    value = value[: max_chars * HTML_INPUT_FACTOR]
    if "<" not in value and "&" not in value:
        return cap(_fold(value), max_chars)
    return cap(_fold(_strip_tags(value, " ")), max_chars)


def paragraphs_from_html(value: str | None, max_chars: int) -> str:
    """The visible text of an HTML fragment, one line per block (paragraph, list item ...), capped."""
    if not value:
        return ""
    value = value[: max_chars * HTML_INPUT_FACTOR].replace(_PARA, "")
    text = _strip_tags(value, _PARA) if ("<" in value or "&" in value) else value
    lines = (_fold(part) for part in text.split(_PARA))
    return cap("\n".join(line for line in lines if line), max_chars)


def paragraphs_from_text(value: str | None, max_chars: int) -> str:
    """Plain text with its line structure kept (one line per non-blank line), folded and capped."""
    if not value:
        return ""
    lines = (_fold(line) for line in value[: max_chars * HTML_INPUT_FACTOR].splitlines())
    return cap("\n".join(line for line in lines if line), max_chars)


def clean_html(value: str | None, max_chars: int, base: str | None = None) -> str:
    """HTML reduced to the narrow allowlist (see module doc), relative links resolved against `base`
    (an http(s) URL; without one they are dropped). Input beyond the cap is cut first."""
    if not value:
        return ""
    return _html_cleaner(base).clean(_INVISIBLE.sub("", value[: max_chars * HTML_INPUT_FACTOR])).strip()


def html_from_text(value: str | None, max_chars: int) -> str:
    """Plain text as safe HTML: escaped, one <p> per line, so markup in it stays visible text."""
    text = paragraphs_from_text(value, max_chars)
    if not text:
        return ""
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in text.split("\n"))
