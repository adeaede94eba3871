"""Feed bytes + response headers -> ParsedFeed of normalised entries. Hostile input is expected.

The steps, in order (reference sections 2.2-2.4, 2.8):

1. Decode: feedparser's own charset rules (HTTP header, BOM, XML prolog, fallbacks) turn the body into
   UTF-8 once, here; a body that is mostly valid UTF-8 with a few bad bytes keeps its UTF-8 reading
   with U+FFFD instead of becoming windows-1252 mojibake. Encoding problems become warnings.
2. Neutralise: every DOCTYPE internal subset and `<!ENTITY` declaration is removed from the (now UTF-8,
   so UTF-16/32/EBCDIC bodies cannot hide them) prolog. This stops the quadratic blowup that
   feedparser's loose parser would expand to hundreds of MB; the feed is flagged `hostile`.
3. Parse: `feedparser.parse(io.BytesIO(...))` - never a str, so it cannot open a file or URL - with
   expat as the SAX driver whatever else is installed, and without feedparser's HTML sanitiser
   (which keeps forms, pixels and SVG links): every field is cleaned by `monitor.ingest.clean` instead.
4. Normalise each entry: clean text, allowlisted HTML, http(s) links and canonical URLs, UTC dates.

A body that is not a feed raises `NotAFeed`; a broken feed keeps what parsed, with warnings.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.api
from feedparser.encodings import convert_to_utf8

from monitor.errors import NotAFeed
from monitor.ingest import clean, urls
from monitor.ingest import feed_dates as dates
from monitor.models import ParsedEntry, ParsedFeed

# expat only: feedparser prefers libxml2's SAX driver when its bindings are installed, and that
# driver opened DTDs named in a DOCTYPE (kurtmckee/feedparser#107). Naming expat (rather than `[]`)
# also ignores a PY_SAX_PARSER environment variable.
SAX_DRIVERS = ["xml.sax.expatreader"]
feedparser.api.PREFERRED_XML_PARSERS = SAX_DRIVERS

MAX_NAME_CHARS = 200  # one author or tag
MAX_NAMES = 50  # authors or tags kept per entry
MAX_GUID_CHARS = 2048
MAX_WARNING_CHARS = 300
SUMMARY_FROM_CONTENT_CHARS = 600  # summary made from the content when the feed gives none

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_XML_DECLARATION = re.compile(rb"^<\?xml[^>]*?>")
_UTF8_DECLARATION = b"<?xml version='1.0' encoding='utf-8'?>"
_PROLOG_MARKUP = re.compile(rb"<!DOCTYPE|(<[A-Za-z_])", re.IGNORECASE)  # a DOCTYPE, or the root element
_ENTITY = re.compile(rb"<!ENTITY\b[^>]*>?", re.IGNORECASE)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


# --- 1. decoding ------------------------------------------------------------------------------


def _mostly_utf8(body: bytes) -> str | None:
    """`body` read as UTF-8 with U+FFFD for bad bytes, when more of it is valid UTF-8 than not."""
    text = body.decode("utf-8", "replace")
    bad = text.count("\ufffd")
    good = len(_NON_ASCII.findall(text)) - bad
    return text if good > bad else None


def to_utf8(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, list[str]]:
    """The body as UTF-8 bytes declared as such, and the encoding warnings met on the way."""
    info: dict[str, Any] = {}
    data = convert_to_utf8(dict(headers), body, info)
    warnings: list[str] = []
    error = info.get("bozo_exception")
    chosen = info.get("encoding", "")
    if chosen in ("windows-1252", "iso-8859-2") and type(error).__name__ == "CharacterEncodingOverride":
        raw = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
        text = _mostly_utf8(raw)
        if text is not None:
            warnings.append("invalid UTF-8 bytes replaced with U+FFFD")
            data = _declare_utf8(text.encode("utf-8"))
            error = None
    elif not chosen:  # nothing decoded it; keep what UTF-8 can read
        data = _declare_utf8(body.decode("utf-8", "replace").encode("utf-8"))
    if error is not None:
        warnings.append(_describe(error))
    return data, warnings


def _declare_utf8(data: bytes) -> bytes:
    if _XML_DECLARATION.match(data):
        return _XML_DECLARATION.sub(_UTF8_DECLARATION, data, count=1)
    return _UTF8_DECLARATION + b"\n" + data


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:MAX_WARNING_CHARS]


# --- 2. neutralising DTDs ---------------------------------------------------------------------


def _doctype_end(data: bytes, start: int) -> tuple[int, int]:
    """(end of the DOCTYPE after '>', position of its '[' or -1), honouring quotes and comments."""
    i, n, depth, bracket, quote = start + 9, len(data), 0, -1, 0
    while i < n:
        c = data[i]
        if quote:
            if c == quote:
                quote = 0
        elif c in (0x22, 0x27):  # " '
            quote = c
        elif c == 0x5B:  # [
            depth += 1
            if bracket < 0:
                bracket = i
        elif c == 0x5D:  # ]
            depth = max(0, depth - 1)
        elif c == 0x3C and data.startswith(b"<!--", i):  # comment inside the subset
            close = data.find(b"-->", i + 4)
            i = n if close < 0 else close + 2
        elif c == 0x3E and depth == 0:  # >
            return i + 1, bracket
        i += 1
    return n, bracket


def neutralise_dtd(data: bytes) -> tuple[bytes, int]:
    """`data` without DOCTYPE internal subsets or ENTITY declarations, and how many were removed.

    A DOCTYPE without an internal subset (RSS 0.91's Netscape DTD) is kept: feedparser reads the
    version from it and drops it before parsing. `data` must be ASCII-compatible (UTF-8 here).
    """
    removed = 0
    pos = 0
    while (match := _PROLOG_MARKUP.search(data, pos)) and match.group(1) is None:  # until the root element
        start = match.start()
        end, bracket = _doctype_end(data, start)
        if bracket >= 0:
            removed += 1 + len(_ENTITY.findall(data, bracket, end))
            keep = data[start:bracket].rstrip() + b">"
            data = data[:start] + keep + data[end:]
            end = start + len(keep)
        pos = end
    # ENTITY declarations outside a DOCTYPE: only the prolog matters to the parsers.
    root = _FIRST_ELEMENT.search(data)
    prolog_end = root.start() if root else len(data)
    stray = len(_ENTITY.findall(data, 0, prolog_end))
    if stray:
        removed += stray
        data = _ENTITY.sub(b"", data[:prolog_end]) + data[prolog_end:]
    return data, removed


# --- 3./4. parsing and normalising ------------------------------------------------------------


def _detail_is_html(detail: Mapping[str, Any] | None) -> bool:
    return bool(detail) and str(detail.get("type", "")).lower() in _HTML_TYPES  # type: ignore[union-attr]


def _text(value: Any, detail: Mapping[str, Any] | None, max_chars: int) -> str:
    if not isinstance(value, str):
        return ""
    if _detail_is_html(detail) or clean.has_active_markup(value):
        return clean.text_from_html(value, max_chars)
    return clean.plain_text(value, max_chars)


def _summary_detail(entry: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The summary's type. feedparser copies an entry's content into `summary` without a
    `summary_detail` when the feed gives no summary: the copied content block's type applies."""
    detail = entry.get("summary_detail")
    if detail:
        return detail  # type: ignore[no-any-return]
    summary = entry.get("summary")
    for block in entry.get("content") or ():
        if isinstance(block, Mapping) and block.get("value") == summary:
            return block
    return None


def _content(entry: Mapping[str, Any], max_chars: int, base: str | None) -> tuple[str | None, str | None]:
    """(content_html, content_text) from the entry's first HTML content, else its first text one."""
    blocks = [c for c in entry.get("content") or () if isinstance(c, Mapping) and c.get("value")]
    if not blocks:
        return None, None
    block = next((c for c in blocks if _detail_is_html(c)), blocks[0])
    value = str(block["value"])
    if _detail_is_html(block) or clean.has_active_markup(value):
        # "text/plain" carrying script/img/form/svg tags is read as HTML and cleaned, like summaries,
        # so no tag of it reaches the stored text that translation, analysis and readers see
        safe = clean.clean_html(value, max_chars, base) or None
        text = clean.paragraphs_from_html(safe, max_chars) if safe else ""
    else:  # text/plain: escaped, never interpreted
        safe = clean.html_from_text(value, max_chars) or None
        text = clean.paragraphs_from_text(value, max_chars)
    if not text:  # only images, embeds or markup: nothing a reader would see
        return None, None
    return safe, text


def _names(items: Any, keys: tuple[str, ...]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for item in items or ():
        raw = next((item.get(k) for k in keys if isinstance(item, Mapping) and item.get(k)), None)
        name = clean.text_from_html(raw, MAX_NAME_CHARS) if isinstance(raw, str) else ""
        if name and name.casefold() not in {s.casefold() for s in seen}:
            seen[name] = None
        if len(seen) >= MAX_NAMES:
            break
    return tuple(seen)


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    authors = entry.get("authors") or ()
    if not authors and entry.get("author"):
        authors = [{"name": entry.get("author")}]
    return _names(authors, ("name", "email"))


def _guid(entry: Mapping[str, Any]) -> str | None:
    raw = entry.get("id")
    if not isinstance(raw, str):
        return None
    guid = raw.strip()[:MAX_GUID_CHARS]
    return guid or None


def _raw_date(entry: Mapping[str, Any]) -> tuple[str | None, Any]:
    for key in ("published", "updated", "created"):
        if entry.get(key) or entry.get(key + "_parsed"):
            return entry.get(key), entry.get(key + "_parsed")
    return None, None


def content_hash(title: str, summary: str, content_text: str | None) -> str:
    """SHA-256 of the entry's visible text: changes when an outlet edits the title or the body."""
    joined = "\x1f".join((title, summary, content_text or ""))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def normalise_entry(
    entry: Mapping[str, Any],
    *,
    timezone: str,
    now: datetime,
    max_field_chars: int,
    base: str | None = None,
) -> ParsedEntry:
    """One feedparser entry as a ParsedEntry (clean text, safe HTML, http(s) links, UTC date)."""
    warnings: list[str] = []
    title = _text(entry.get("title"), entry.get("title_detail"), max_field_chars)
    summary = _text(entry.get("summary"), _summary_detail(entry), max_field_chars)
    content_html, content_text = _content(entry, max_field_chars, base)
    if not summary and content_text:
        summary = clean.cap(content_text.replace("\n", " "), min(SUMMARY_FROM_CONTENT_CHARS, max_field_chars))
    link, problem = urls.safe_link(entry.get("link") if isinstance(entry.get("link"), str) else None)
    if problem:
        warnings.append(problem)
    raw_date, parsed_date = _raw_date(entry)
    published, date_flag = dates.normalise_date(
        raw_date if isinstance(raw_date, str) else None, timezone=timezone, now=now, fallback=parsed_date
    )
    return ParsedEntry(
        title=title,
        summary=summary,
        url=urls.canonical_url(link),
        link=link,
        guid=_guid(entry),
        content_html=content_html,
        content_text=content_text,
        authors=_authors(entry),
        tags=_names(entry.get("tags"), ("label", "term")),
        published=published,
        date_flag=date_flag,
        content_hash=content_hash(title, summary, content_text),
        warnings=tuple(warnings),
    )


def _ttl(value: Any) -> int | None:
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes if 0 < minutes <= 7 * 24 * 60 else None


def _not_a_feed_reason(body: bytes, result: Mapping[str, Any]) -> str:
    head = body[:512].lstrip().lower()
    if not head:
        return "the body is empty"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "the body is an HTML page, not RSS/Atom"
    error = result.get("bozo_exception")
    detail = f" ({_describe(error)})" if error is not None else ""
    return f"no RSS, Atom or RDF root element{detail}"


def _base(base_url: str, headers: Mapping[str, str]) -> str:
    """The base for relative links: the response's Content-Location (resolved) when it is http(s)."""
    location = headers.get("content-location", "").strip()
    if location:
        joined = urljoin(base_url, location)
        if urls.safe_link(joined)[0]:
            return joined
    return base_url


def parse_feed(
    body: bytes,
    headers: Mapping[str, str],
    base_url: str,
    *,
    timezone: str,
    now: datetime,
    max_field_chars: int = 20_000,
) -> ParsedFeed:
    """Parse one fetched feed body. `timezone` (IANA) is the outlet's, for naive times.

    Raises NotAFeed when the body is not RSS/Atom/RDF; otherwise never raises for bad content.
    """
    if not isinstance(body, bytes):
        raise TypeError("parse_feed() takes the response body as bytes")
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    warnings: list[str] = []
    data, encoding_warnings = to_utf8(body, lowered) if body.strip() else (b"", [])
    warnings.extend(encoding_warnings)
    data, removed = neutralise_dtd(data)
    if removed:
        warnings.append(f"hostile: removed {removed} DOCTYPE internal subset/ENTITY declaration(s)")
    base = _base(base_url, lowered)
    parse_headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    if lowered.get("content-language"):
        parse_headers["content-language"] = lowered["content-language"]
    result = feedparser.parse(
        # feedparser's sanitiser and its relative-URI pass over HTML are slow pure Python: nh3 does
        # both (allowlist; hrefs resolved against the feed's base) in one Rust pass per field.
        io.BytesIO(data),
        response_headers=parse_headers,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = result.get("entries") or []
    if not entries and not result.get("version"):
        raise NotAFeed(f"not a feed: {_not_a_feed_reason(body, result)}")
    if result.get("bozo") and result.get("bozo_exception") is not None:
        warnings.append("bozo: " + _describe(result["bozo_exception"]))
    html_base = base if urls.safe_link(base)[0] else None
    parsed = tuple(
        normalise_entry(e, timezone=timezone, now=now, max_field_chars=max_field_chars, base=html_base)
        for e in entries
    )
    guids = Counter(e.guid for e in parsed if e.guid)
    repeated = sum(n for n in guids.values() if n > 1)
    if repeated:
        warnings.append(
            f"duplicate guids: {repeated} entries share {sum(1 for n in guids.values() if n > 1)} guid(s)"
        )
    dropped = sum(1 for e in parsed if any(w.startswith("link dropped") for w in e.warnings))
    if dropped:
        warnings.append(f"links dropped: {dropped} entries had no usable http(s) link")
    feed = result.get("feed") or {}
    return ParsedFeed(
        entries=parsed,
        title=_text(feed.get("title"), feed.get("title_detail"), min(max_field_chars, 1000)),
        language=clean.plain_text(feed.get("language") if isinstance(feed.get("language"), str) else "", 35),
        ttl_min=_ttl(feed.get("ttl")),
        warnings=tuple(warnings),
        hostile=bool(removed),
    )
