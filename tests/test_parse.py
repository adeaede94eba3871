"""parse_feed on the hostile fixtures (tests/fixtures/hostile, reference 2.2-2.4, 2.8, 2.9, 2.15)."""

from __future__ import annotations

import re
import sys
import tracemalloc
import xml.sax
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import feedparser.api
import pytest

from monitor.errors import NotAFeed
from monitor.ingest.parse import neutralise_dtd, parse_feed
from monitor.models import ParsedFeed
from tests.conftest import FIXTURES

HOSTILE = FIXTURES / "hostile"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
MX = "America/Mexico_City"

# --- an audit hook: every file open and network call made while a test watches ---------------
_WATCH: list[list[tuple[str, tuple[Any, ...]]]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _WATCH and (event == "open" or event.startswith(("socket.", "urllib."))):
        _WATCH[-1].append((event, args))


sys.addaudithook(_audit)


class _Watched:
    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def opened(self, path: str | Path) -> bool:
        return any(event == "open" and str(args[0]) == str(path) for event, args in self.events)

    def network(self) -> list[tuple[str, tuple[Any, ...]]]:
        return [(e, a) for e, a in self.events if e != "open"]


@pytest.fixture
def watched() -> Iterator[_Watched]:
    record = _Watched()
    _WATCH.append(record.events)
    try:
        yield record
    finally:
        _WATCH.pop()


def parse(name: str, headers: dict[str, str] | None = None, **kw: Any) -> ParsedFeed:
    body = (HOSTILE / name).read_bytes()
    return parse_feed(
        body, headers or {}, "https://example.com/feed.xml", timezone=kw.pop("timezone", MX), now=NOW, **kw
    )


def _markup_problems(html: str) -> list[str]:
    problems = re.findall(
        r"<\s*(script|style|svg|math|form|input|button|img|iframe|object|textarea)\b", html, re.I
    )
    problems += re.findall(r"\son\w+\s*=", html, re.I)
    problems += re.findall(r"(?:javascript|data|file|vbscript):", html, re.I)
    problems += re.findall(r"\b(?:style|src|xlink:href|action|formaction)\s*=", html, re.I)
    return problems


# --- expat only, no files, no network ---------------------------------------------------------


def test_expat_is_the_sax_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[Any, type]] = []
    real = xml.sax.make_parser

    def recording(parser_list: Any = ()) -> Any:
        parser = real(parser_list)
        made.append((list(parser_list), type(parser)))
        return parser

    monkeypatch.setattr(xml.sax, "make_parser", recording)
    parse("dup-guids.xml")
    assert made, "feedparser did not use its strict (SAX) parser"
    assert all(cls is xml.sax.expatreader.ExpatParser for _, cls in made)
    assert "drv_libxml2" not in feedparser.api.PREFERRED_XML_PARSERS
    assert made[0][0] == feedparser.api.PREFERRED_XML_PARSERS


def test_xxe_never_opens_the_file(tmp_path: Path, watched: _Watched) -> None:
    sentinel = tmp_path / "sentinel.txt"
    secret = "SENTINEL-9f3c-DO-NOT-LEAK"
    sentinel.write_text(secret)
    body = (HOSTILE / "xxe.xml").read_bytes().replace(b"@SENTINEL@", str(sentinel).encode())
    watched.events.clear()  # writing the sentinel above was us
    parsed = parse_feed(body, {}, "https://example.com/feed.xml", timezone=MX, now=NOW)
    assert not watched.opened(sentinel)
    assert not watched.network()
    assert secret not in repr(parsed)
    assert parsed.hostile and any(w.startswith("hostile:") for w in parsed.warnings)
    assert len(parsed.entries) == 1 and parsed.entries[0].link == "https://example.com/xxe"


def test_body_that_is_a_path_is_not_a_feed_and_is_not_opened(watched: _Watched) -> None:
    body = (HOSTILE / "body-is-a-path.txt").read_bytes()
    with pytest.raises(NotAFeed, match="not a feed"):
        parse_feed(body, {}, "https://example.com/feed", timezone=MX, now=NOW)
    with pytest.raises(NotAFeed):
        parse_feed(b"file:///etc/hostname", {}, "https://example.com/feed", timezone=MX, now=NOW)
    assert not watched.opened("/etc/hostname")
    assert not watched.network()


@pytest.mark.parametrize(
    "body",
    [b"", b"   \n", b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Hi</p></body></html>"],
    ids=["empty", "blank", "html"],
)
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(NotAFeed, match=r"^not a feed: "):
        parse_feed(body, {"content-type": "text/html"}, "https://example.com/", timezone=MX, now=NOW)


def test_empty_feed_is_a_feed() -> None:
    parsed = parse_feed(
        b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>',
        {},
        "https://e.com/",
        timezone=MX,
        now=NOW,
    )
    assert parsed.entries == () and parsed.title == "Quiet"


# --- entity bombs -----------------------------------------------------------------------------


def test_billion_laughs_is_not_expanded() -> None:
    parsed = parse("billion-laughs.xml", max_field_chars=500)
    assert parsed.hostile
    entry = parsed.entries[0]
    assert len(entry.title) <= 500 and "lollol" not in entry.title
    assert entry.link == "https://example.com/laughs"


def test_quadratic_blowup_is_bounded_in_memory() -> None:
    body = (HOSTILE / "quadratic.xml").read_bytes()
    assert 60_000 < len(body) < 80_000
    tracemalloc.start()
    try:
        parsed = parse_feed(body, {}, "https://example.com/q", timezone=MX, now=NOW)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert parsed.hostile
    assert len(parsed.entries) == 1
    assert len(parsed.entries[0].title) <= 20_000
    assert "A" * 1000 not in parsed.entries[0].title


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-le"])
def test_entity_declarations_cannot_hide_in_wide_encodings(encoding: str) -> None:
    text = (HOSTILE / "quadratic.xml").read_text("utf-8")
    body = text.replace('<?xml version="1.0"?>', f'<?xml version="1.0" encoding="{encoding}"?>').encode(
        encoding
    )
    assert b"<!ENTITY" not in body  # not findable as ASCII bytes
    parsed = parse_feed(body, {}, "https://example.com/q", timezone=MX, now=NOW)
    assert parsed.hostile
    assert parsed.title == "Quadratic blowup"
    assert len(parsed.entries) == 1 and "A" * 1000 not in parsed.entries[0].title


def test_neutralise_keeps_a_plain_doctype_and_strips_subsets() -> None:
    netscape = b'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" "http://my.netscape.com/publish/formats/rss-0.91.dtd"><rss version="0.91"/>'
    assert neutralise_dtd(netscape) == (netscape, 0)
    tricky = b"<!DOCTYPE rss [<!-- ] > --><!ENTITY a \"]>\"><!ENTITY b 'x>'>]><rss/>"
    data, removed = neutralise_dtd(tricky)
    assert data == b"<!DOCTYPE rss><rss/>" and removed == 3


# --- XSS and links ----------------------------------------------------------------------------


def test_xss_vectors_do_not_survive() -> None:
    parsed = parse("xss.xml")
    entries = {e.title: e for e in parsed.entries}
    assert len(entries) == 11
    for entry in parsed.entries:
        assert _markup_problems(entry.content_html or "") == [], (entry.title, entry.content_html)
        assert _markup_problems(entry.summary) == [], (entry.title, entry.summary)
        assert "alert(" not in entry.summary, entry.title
    for n, word in enumerate(["one", "two", "three", "four", "five", "six", "seven"], start=1):
        entry = parsed.entries[n - 1]
        assert f"Visible {word}" in entry.summary, entry.title
    for entry in parsed.entries[:6]:
        assert entry.content_text and "Visible" in entry.content_text
        assert "alert" not in entry.content_text and "svg" not in entry.content_text
    js = entries["javascript href"]
    assert js.content_html is not None
    assert '<a href="https://example.com/ok" rel="noopener noreferrer">fine</a>' in js.content_html
    assert all('rel="noopener noreferrer"' in a for a in re.findall(r"<a\b[^>]*>", js.content_html))


def test_text_plain_content_with_active_markup_is_cleaned_like_html() -> None:
    entry = parse("xss.xml").entries[6]  # type="text/plain" carrying <script>
    assert entry.content_text == "Visible seven"
    assert entry.content_html is not None and "script" not in entry.content_html and "alert" not in entry.content_html


def test_ordinary_text_plain_content_is_escaped_not_interpreted() -> None:
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
        b"<entry><title>x</title><id>urn:x</id><content type=\"text\">Use the &lt;blink&gt; tag &amp; smile</content>"
        b"</entry></feed>"
    )
    entry = parse_feed(body, {}, "https://example.com/", timezone="UTC", now=NOW).entries[0]
    assert entry.content_text == "Use the <blink> tag & smile"
    assert entry.content_html == "<p>Use the &lt;blink&gt; tag &amp; smile</p>"


@pytest.mark.parametrize(
    ("title", "scheme"), [("javascript link", "javascript"), ("file link", "file"), ("data link", "data")]
)
def test_non_http_links_are_dropped_with_a_warning(title: str, scheme: str) -> None:
    parsed = parse("xss.xml")
    entry = next(e for e in parsed.entries if e.title == title)
    assert entry.link is None and entry.url is None
    assert entry.warnings == (f"link dropped: {scheme}: scheme",)
    assert any(w.startswith("links dropped: 3") for w in parsed.warnings)


def test_title_markup_is_text() -> None:
    entry = parse("xss.xml").entries[10]
    assert entry.title == "Hola & “México”"


# --- encodings --------------------------------------------------------------------------------


def test_cp1252_declared_in_prolog() -> None:
    parsed = parse("cp1252-prolog.xml")
    assert parsed.title == "Noticias de México"
    assert parsed.entries[0].title == "Intervención en México: “cárteles” y la frontera"
    assert parsed.entries[0].summary == "El Senado discutió la intervención’s alcance."
    assert parsed.warnings == ()


def test_cp1252_with_a_wrong_http_charset_is_readable_with_a_warning() -> None:
    parsed = parse("cp1252-prolog.xml", {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert parsed.entries[0].title == "Intervención en México: “cárteles” y la frontera"
    assert any("CharacterEncodingOverride" in w for w in parsed.warnings), parsed.warnings


def test_invalid_utf8_becomes_replacement_characters() -> None:
    parsed = parse("invalid-utf8.xml")
    assert parsed.entries[0].title == "Acción en México \ufffd según la Secretaría"
    assert parsed.entries[0].summary == "Año de elecciones; también en Querétaro."
    assert any("U+FFFD" in w for w in parsed.warnings)


def test_mostly_latin1_is_not_read_as_utf8() -> None:
    body = '<rss version="2.0"><channel><title>Últimas Notícias</title><item><title>Ação já</title></item></channel></rss>'.encode(
        "latin-1"
    )
    parsed = parse_feed(body, {}, "https://e.com/", timezone=MX, now=NOW)
    assert parsed.title == "Últimas Notícias" and parsed.entries[0].title == "Ação já"


# --- dates ------------------------------------------------------------------------------------


def test_spanish_and_naive_dates() -> None:
    got = {e.title: (e.published, e.date_flag) for e in parse("dates-es.xml").entries}
    assert got == {
        "Lunes": ("2025-03-03T16:00:00+00:00", None),
        "Miércoles": ("2025-01-05T16:00:00+00:00", None),
        "Inglés con mes en español": ("2025-01-05T10:00:00+00:00", None),
        "Fecha larga": ("2025-03-03T16:00:00+00:00", None),
        "Sin zona": ("2025-03-03T16:00:00+00:00", None),
        "Sábado": ("2025-02-01T07:27:11+00:00", None),
        "Septiembre abreviado": ("2025-09-13T00:30:00+00:00", None),
        "Dublin Core": ("2025-03-03T16:00:00+00:00", None),
    }


def test_naive_dates_follow_the_outlet_zone() -> None:
    entry = parse("dates-es.xml", timezone="America/New_York").entries[4]
    assert entry.published == "2025-03-03T15:00:00+00:00"


def test_broken_dates_never_raise() -> None:
    got = {e.title: (e.published, e.date_flag) for e in parse("dates-broken.xml").entries}
    assert got == {
        "Year zero": (None, "unparseable"),
        "31 February": (None, "unparseable"),
        "Future": (None, "future"),
        "Garbage": (None, "unparseable"),
        "Missing": (None, "missing"),
        "Fine": ("2025-03-03T16:00:00+00:00", None),
    }


# --- identity fields --------------------------------------------------------------------------


def test_duplicate_guids_are_kept_and_reported() -> None:
    parsed = parse("dup-guids.xml")
    assert [e.guid for e in parsed.entries] == ["same", "same", "same"]
    assert len({e.url for e in parsed.entries}) == 3
    assert "duplicate guids: 3 entries share 1 guid(s)" in parsed.warnings


def test_tracking_parameters_do_not_change_the_canonical_url() -> None:
    plain, tracked, other = parse("utm-links.xml").entries
    assert plain.url == tracked.url == "https://www.example.com/news/story?id=42"
    assert tracked.link is not None and "utm_source" in tracked.link
    assert other.url == "https://www.example.com/news/story?id=43"


def test_feed_metadata_and_content_hash() -> None:
    parsed = parse("dates-es.xml")
    assert (parsed.title, parsed.language, parsed.ttl_min) == ("Fechas en español", "es-MX", 15)
    hashes = {e.content_hash for e in parsed.entries}
    assert len(hashes) == len(parsed.entries)
    again = parse("dates-es.xml")
    assert [e.content_hash for e in again.entries] == [e.content_hash for e in parsed.entries]


def test_relative_links_resolve_against_the_base_and_content_location() -> None:
    body = b'<rss version="2.0"><channel><item><title>x</title><link>/news/1</link></item></channel></rss>'
    parsed = parse_feed(body, {}, "https://example.com/feeds/rss.xml", timezone=MX, now=NOW)
    assert parsed.entries[0].link == "https://example.com/news/1"
    parsed = parse_feed(
        body,
        {"Content-Location": "https://cdn.example.org/x/"},
        "https://example.com/f",
        timezone=MX,
        now=NOW,
    )
    assert parsed.entries[0].link == "https://cdn.example.org/news/1"


def test_relative_hrefs_in_content_resolve_against_the_feed() -> None:
    body = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><item>
      <title>x</title><content:encoded><![CDATA[<p><a href="/a">uno</a> <a href="b?x=1">dos</a></p>]]></content:encoded>
    </item></channel></rss>"""
    entry = parse_feed(body, {}, "https://example.com/feeds/rss.xml", timezone=MX, now=NOW).entries[0]
    assert entry.content_html == (
        '<p><a href="https://example.com/a" rel="noopener noreferrer">uno</a> '
        '<a href="https://example.com/feeds/b?x=1" rel="noopener noreferrer">dos</a></p>'
    )


def test_fields_are_capped() -> None:
    body = f'<rss version="2.0"><channel><item><title>{"palabra " * 5000}</title><description>{"x" * 50_000}</description></item></channel></rss>'.encode()
    entry = parse_feed(body, {}, "https://e.com/", timezone=MX, now=NOW, max_field_chars=1000).entries[0]
    assert len(entry.title) <= 1000 and entry.title.endswith("…")
    assert len(entry.summary) <= 1000


def test_authors_and_tags_are_clean_strings() -> None:
    body = """<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><item><title>t</title>
      <dc:creator><![CDATA[<b>Ana  Pérez</b>]]></dc:creator>
      <category>Seguridad</category><category>&lt;i&gt;Política&lt;/i&gt;</category><category>seguridad</category>
    </item></channel></rss>""".encode()
    entry = parse_feed(body, {}, "https://e.com/", timezone=MX, now=NOW).entries[0]
    assert entry.authors == ("Ana Pérez",)
    assert entry.tags == ("Seguridad", "Política")
