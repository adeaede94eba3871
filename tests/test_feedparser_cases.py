"""feedparser's own test corpus (../shared/feedparser-cases, ~2,100 files) through parse_feed.

Every file is checked against what feedparser itself returns for it (`feedparser.parse` on the same
bytes and headers, its sanitiser and relative-URI pass off, as ours):

- entries: the same number; NotAFeed only when feedparser found neither an entry nor a feed version;
- links: each entry's link after our URL rule: feedparser's link, stripped, when it is an absolute
  http(s) URL with a host, else None;
- visible text: each entry's title and summary equal the visible text of feedparser's value, where
  "visible text" is defined independently of monitor.ingest.clean (see `visible_text`): a value typed as
  HTML (or untyped, like an RSS description), or a text value carrying markup that is never prose
  (script, img, svg, form ...: `clean.has_active_markup`), is read with the stdlib HTML parser,
  dropping what a browser never shows as text (script, style, svg, math, iframe, object ... and
  their content; comments; declarations); other text is taken as-is; then control characters are
  removed and whitespace runs collapse to one space. Where our decoding reads a body as UTF-8 with
  U+FFFD (feedparser: windows-1252 mojibake), the oracle parses that UTF-8 reading.
- every text field is a str.

Files whose `Expect:` line states an entry's title, link or id are also checked against the stated
value, when feedparser itself satisfies the Expect line (so the case applies to this build).
Differences we mean to have are listed in DIFFERENT_ON_PURPOSE, each with its reason.
"""

from __future__ import annotations

import ast
import builtins
import datetime as dt
import io
import re
import time
from dataclasses import fields
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import feedparser
import pytest

from monitor.errors import NotAFeed
from monitor.ingest import clean
from monitor.ingest.parse import parse_feed
from monitor.models import ParsedEntry, ParsedFeed
from tests.conftest import FEEDPARSER_CASES, shared_files

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
CASES = shared_files(FEEDPARSER_CASES)
KEYS = {"title": "title", "link": "link", "id": "guid"}
_HEADER = re.compile(r"^Header:\s*([^:]+):\s*(.*?)\s*$", re.MULTILINE)
_EXPECT = re.compile(r"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->", re.DOTALL)
_SKIP_UNLESS = re.compile(r"SkipUnless:\s*(.*?)\n")
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "td"}


# Elements whose content a browser never shows as text (drawn, embedded, scripted or fallback).
_HIDDEN = {
    "script",
    "style",
    "template",
    "noscript",
    "svg",
    "math",
    "iframe",
    "frameset",
    "noframes",
    "select",
    "textarea",
    "button",
    "audio",
    "video",
    "head",
    "title",
}  # not object/applet: their fallback content is what a browser shows when it cannot run them
_INVISIBLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class _VisibleText(HTMLParser):
    """An independent oracle for 'the text of this HTML': the stdlib parser, hidden elements skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        # HTML ignores "/>" on elements that are not void: <iframe/> opens an iframe like <iframe>
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(value: str, is_html: bool) -> str:
    """HTML: the text a browser shows; text: as-is. Then invisible characters dropped, whitespace folded."""
    if is_html:
        parser = _VisibleText()
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    return " ".join(_INVISIBLE.sub("", value).split())


def _headers(text: str) -> dict[str, str]:
    return {name.strip().lower(): value for name, value in _HEADER.findall(text)}


def _subscript_key(node: ast.AST) -> tuple[int, str] | None:
    """(entry index, key) for `entries[N]['key']`."""
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, str)
        and isinstance(node.value, ast.Subscript)
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "entries"
        and isinstance(node.value.slice, ast.Constant)
        and isinstance(node.value.slice.value, int)
    ):
        return node.value.slice.value, node.slice.value
    return None


def entry_claims(expect: str) -> list[tuple[int, str, str]]:
    """(index, key, expected value) for every `entries[N]['title'|'link'|'id'] == <literal>`."""
    try:
        tree = ast.parse(expect.strip(), mode="eval")
    except SyntaxError:
        return []
    claims = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare) or not all(isinstance(op, ast.Eq) for op in node.ops):
            continue
        operands = [node.left, *node.comparators]
        targets = [t for t in map(_subscript_key, operands) if t and t[1] in KEYS]
        literals = []
        for operand in operands:
            if _subscript_key(operand) is None:
                try:
                    literals.append(ast.literal_eval(operand))
                except ValueError:
                    try:  # 'a' + 'b' concatenations
                        literals.append(eval(compile(ast.Expression(operand), "<expect>", "eval"), {}))
                    except Exception:
                        continue
        values = [v for v in literals if isinstance(v, str)]
        if targets and len(values) == 1:
            claims.extend((index, key, values[0]) for index, key in targets)
    return claims


@cache
def _case(path: Path) -> tuple[bytes, dict[str, str], str, list[tuple[int, str, str]], str | None]:
    body = path.read_bytes()
    head = body[:4000].decode("utf-8", "replace")
    match = _EXPECT.search(head)
    expect = match.group(2) if match else ""
    skip = _SKIP_UNLESS.search(head)
    rel = path.relative_to(FEEDPARSER_CASES).as_posix()
    headers = _headers(head)
    # feedparser's harness serves http/ cases from this address and parses the others as files (no base)
    base = f"http://127.0.0.1:8097/{rel}" if headers else ""
    return body, headers, base, entry_claims(expect), (skip.group(1) if skip else None)


def _applicable(body: bytes, headers: dict[str, str], base: str, expect_skip: str | None, expect: str) -> Any:
    """feedparser's own result when it satisfies the case's Expect line, else None."""
    if expect_skip:
        try:
            if not eval(expect_skip, {"feedparser": feedparser, "__builtins__": builtins}):
                return None
        except Exception:
            return None
    served = {"content-type": "application/xml", "content-location": base, **headers} if headers else None
    raw = feedparser.parse(io.BytesIO(body), response_headers=served)
    try:
        ok = eval(expect, {"datetime": dt.datetime, "time": time, "__builtins__": builtins}, raw)
    except Exception:
        return None
    return raw if ok else None


def _all_text_is_str(parsed: ParsedFeed) -> None:
    assert isinstance(parsed.title, str) and isinstance(parsed.language, str)
    assert all(isinstance(w, str) for w in parsed.warnings)
    for entry in parsed.entries:
        for f in fields(ParsedEntry):
            value = getattr(entry, f.name)
            if isinstance(value, tuple):
                assert all(isinstance(v, str) for v in value), (f.name, value)
            else:
                assert value is None or isinstance(value, str), (f.name, value)
        assert isinstance(entry.title, str) and isinstance(entry.summary, str)
        assert isinstance(entry.content_hash, str) and len(entry.content_hash) == 64


def _expected(key: str, value: str, raw_entry: Any) -> str | None:
    if key == "title":
        detail = raw_entry.get("title_detail") or {}
        return visible_text(value, "html" in str(detail.get("type", "")))
    if key == "link":
        parts = urlsplit(value.strip())
        return value.strip() if parts.scheme.lower() in ("http", "https") and parts.hostname else None
    return value.strip() or None


def check_case(path: Path) -> int:
    """Run one corpus file through parse_feed; returns how many Expect claims were compared."""
    body, headers, base, claims, skip = _case(path)
    try:
        parsed = parse_feed(
            body,
            {"content-type": "application/xml", **headers} if headers else {},
            base,
            timezone="UTC",
            now=NOW,
        )
    except NotAFeed:
        return 0
    _all_text_is_str(parsed)
    if not claims:
        return 0
    expect = _EXPECT.search(body[:4000].decode("utf-8", "replace")).group(2)  # type: ignore[union-attr]
    raw = _applicable(body, headers, base, skip, expect)
    if raw is None:
        return 0
    for index, key, value in claims:
        ours = getattr(parsed.entries[index], KEYS[key])
        if key == "title":
            ours = " ".join(ours.split())
        assert ours == _expected(key, value, raw.entries[index]), (key, value)
    return len(claims)


# (file, field) -> why our value differs from the visible text of feedparser's, on purpose: in both,
# a browser's HTML tokenizer reads "<!" as a bogus comment up to the next ">" (or the end), while the
# stdlib parser keeps the characters as text; we show what a reader's browser would.
DIFFERENT_ON_PURPOSE: dict[tuple[str, str], str] = {
    (
        "wellformed/rss/item_description_not_a_doctype2.xml",
        "summary",
    ): "an unterminated <!DOCTYPE shows nothing",
    (
        "wellformed/sanitize/item_content_encoded_script_nested_cdata.xml",
        "summary",
    ): "<![CDATA[ in HTML is a comment",
}


def _oracle(body: bytes, headers: dict[str, str], base: str, parsed: ParsedFeed) -> Any:
    """feedparser's result for the same bytes, read the way ours decoded them."""
    if any(w.startswith("invalid UTF-8 bytes replaced") for w in parsed.warnings):
        # we read a mostly-UTF-8 body as UTF-8 with U+FFFD where feedparser falls back to windows-1252
        text = body[3:] if body.startswith(b"\xef\xbb\xbf") else body
        body = re.sub(rb"^<\?xml[^>]*?>", b"", text.decode("utf-8", "replace").encode("utf-8"))
        body = b"<?xml version='1.0' encoding='utf-8'?>" + body
        headers = {k: v for k, v in headers.items() if k != "content-type"}
    served = {"content-type": "application/xml", "content-location": base, **headers} if headers else None
    return feedparser.parse(
        io.BytesIO(body), response_headers=served, sanitize_html=False, resolve_relative_uris=False
    )


def _read_as_html(value: str, detail: Any) -> bool:
    return "html" in str((detail or {}).get("type", "")).lower() or clean.has_active_markup(value)


def _detail(raw_entry: Any, key: str) -> Any:
    """A field's type; a summary feedparser copied from the content (no summary_detail) has the content's."""
    detail = raw_entry.get(key + "_detail")
    if detail or key != "summary":
        return detail
    return next(
        (c for c in raw_entry.get("content") or () if c.get("value") == raw_entry.get("summary")), None
    )


def _expected_link(raw_entry: Any) -> str | None:
    link = raw_entry.get("link")
    if not isinstance(link, str):
        return None
    link = link.strip()
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme.lower() + link[len(parts.scheme) :]  # the scheme is case-insensitive (RFC 3986)


def _expected_text(raw_entry: Any, key: str) -> str:
    value = raw_entry.get(key)
    if not isinstance(value, str):
        return ""
    return visible_text(value, _read_as_html(value, _detail(raw_entry, key)))


def compare_with_feedparser(path: Path, parsed: ParsedFeed | None) -> list[str]:
    """Where our result differs from feedparser's for this file (empty when they agree)."""
    body, headers, base, _claims, _skip = _case(path)
    rel = path.relative_to(FEEDPARSER_CASES).as_posix()
    if parsed is None:
        raw = _oracle(body, headers, base, ParsedFeed(entries=()))
        return (
            []
            if not raw.entries and not raw.get("version")
            else [f"NotAFeed, feedparser: {len(raw.entries)} entries"]
        )
    raw = _oracle(body, headers, base, parsed)
    if len(parsed.entries) != len(raw.entries):
        return [f"{len(parsed.entries)} entries, feedparser {len(raw.entries)}"]
    problems = []
    for i, (raw_entry, ours) in enumerate(zip(raw.entries, parsed.entries, strict=True)):
        expected = {"link": _expected_link(raw_entry), "title": _expected_text(raw_entry, "title")}
        got: dict[str, str | None] = {"link": ours.link, "title": " ".join(ours.title.split())}
        if isinstance(raw_entry.get("summary"), str) and raw_entry["summary"].strip():
            expected["summary"] = _expected_text(raw_entry, "summary")
            got["summary"] = " ".join(ours.summary.split())
        for key, want in expected.items():
            if got[key] != want and (rel, key) not in DIFFERENT_ON_PURPOSE:
                problems.append(f"entry {i} {key}: ours {got[key]!r}, feedparser {want!r}")
    return problems


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.relative_to(FEEDPARSER_CASES).as_posix())
def test_corpus_case(path: Path) -> None:
    check_case(path)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.relative_to(FEEDPARSER_CASES).as_posix())
def test_corpus_case_agrees_with_feedparser(path: Path) -> None:
    body, headers, base, _claims, _skip = _case(path)
    try:
        parsed = parse_feed(
            body,
            {"content-type": "application/xml", **headers} if headers else {},
            base,
            timezone="UTC",
            now=NOW,
        )
    except NotAFeed:
        parsed = None
    assert compare_with_feedparser(path, parsed) == []


def test_corpus_is_complete_and_expect_lines_were_checked() -> None:
    assert len(CASES) >= 2000
    with_claims = [p for p in CASES if _case(p)[3]]
    counts = [check_case(p) for p in with_claims]
    checked = sum(1 for n in counts if n)
    print(
        f"feedparser-cases: {len(CASES)} files; {len(with_claims)} state an entry title/link/id; "
        f"{checked} applicable files checked, {sum(counts)} claims compared"
    )
    assert len(with_claims) >= 100
    assert checked >= 0.8 * len(with_claims)
