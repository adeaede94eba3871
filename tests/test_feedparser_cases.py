"""feedparser's own test corpus (../shared/feedparser-cases, ~2,100 files) through parse_feed.

Every file: no exception other than NotAFeed, every text field a str. Files whose `Expect:` line
states an entry's title, link or id: when feedparser itself satisfies the Expect line (so the case
applies to this feedparser build), our normalised field must agree with the expected value:

- title: the visible text of the expected value (read with the stdlib HTML parser when feedparser
  typed the title as HTML, as-is otherwise), whitespace folded;
- link: the expected value when it is an absolute http(s) URL, else None (we drop other schemes);
- id: our guid equals the expected id, stripped (None when empty).
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
from monitor.models import ParsedEntry, ParsedFeed
from monitor.parse import parse_feed
from tests.conftest import FEEDPARSER_CASES

NOW = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
CASES = sorted(p for p in FEEDPARSER_CASES.rglob("*") if p.is_file() and p.name != "README.md")
KEYS = {"title": "title", "link": "link", "id": "guid"}
_HEADER = re.compile(r"^Header:\s*([^:]+):\s*(.*?)\s*$", re.MULTILINE)
_EXPECT = re.compile(r"Description:\s*(.*?)\s*Expect:\s*(.*)\s*-->", re.DOTALL)
_SKIP_UNLESS = re.compile(r"SkipUnless:\s*(.*?)\n")
_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr", "td"}

pytestmark = pytest.mark.skipif(not CASES, reason="../shared/feedparser-cases is not available")


class _VisibleText(HTMLParser):
    """An independent oracle for 'the text of this HTML': stdlib parser, script/style skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(value: str, is_html: bool) -> str:
    if is_html:
        parser = _VisibleText()
        parser.feed(value)
        parser.close()
        value = "".join(parser.parts)
    return " ".join(value.split())


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


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.relative_to(FEEDPARSER_CASES).as_posix())
def test_corpus_case(path: Path) -> None:
    check_case(path)


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
