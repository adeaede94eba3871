"""Every saved real feed (../shared/real-feeds) through parse_feed: counts, accents, clean fields."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from monitor.ingest.parse import parse_feed
from tests.conftest import REAL_FEEDS, shared_files

FEEDS = [p for p in shared_files(REAL_FEEDS) if p.suffix in (".xml", ".rss") or p == REAL_FEEDS]
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _parse(path: Path):
    zone = "America/Mexico_City" if path.parent.name == "mx" else "America/New_York"
    return parse_feed(path.read_bytes(), {}, "https://example.com/feed", timezone=zone, now=NOW)


def test_all_real_feeds_are_present() -> None:
    assert len(FEEDS) == 24


@pytest.mark.parametrize("path", FEEDS, ids=lambda p: p.relative_to(REAL_FEEDS).as_posix())
def test_entry_count_and_fields(path: Path) -> None:
    raw = feedparser.parse(io.BytesIO(path.read_bytes()))
    parsed = _parse(path)
    assert len(parsed.entries) == len(raw.entries) > 0
    assert parsed.title
    for raw_entry, entry in zip(raw.entries, parsed.entries, strict=True):
        assert entry.title and entry.link and entry.url and entry.url.startswith("https://")
        assert not any(
            tag in entry.summary + entry.title for tag in ("<p", "<a ", "<img", "<div", "<br", "&amp;", "&#")
        )
        raw_date = raw_entry.get("published") or raw_entry.get("updated")
        if raw_date:  # every date these outlets give is readable
            assert entry.published is not None and entry.date_flag is None, (entry.title, raw_date)
            assert entry.published.endswith("+00:00")
        else:  # CNN's hero items carry no date at all
            assert (entry.published, entry.date_flag) == (None, "missing")
        if entry.content_html:
            assert "<script" not in entry.content_html and "<img" not in entry.content_html
            assert entry.content_text


def test_latin1_uol_feed_is_readable() -> None:
    parsed = _parse(REAL_FEEDS / "other" / "uol-noticias-latin1.rss")
    text = " ".join(e.title + " " + e.summary for e in parsed.entries)
    assert "simulações" in text
    assert "\ufffd" not in text and "Ã" not in text
    assert any("CharacterEncodingOverride" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    "name", ["milenio-prospect.xml", "elfinanciero-prospect.xml", "reforma-prospect.xml"]
)
def test_spanish_accents_intact(name: str) -> None:
    parsed = _parse(REAL_FEEDS / "mx" / name)
    text = " ".join(e.title + " " + e.summary for e in parsed.entries)
    assert any(ch in text for ch in "áéíóúñ")
    assert "\ufffd" not in text and "Ã" not in text and "&amp;" not in text


def test_known_titles() -> None:
    milenio = _parse(REAL_FEEDS / "mx" / "milenio-prospect.xml")
    assert milenio.entries[0].title.startswith("André-Pierre Gignac es expulsado")
    wapo = _parse(REAL_FEEDS / "us" / "washingtonpost-world.xml")
    assert any(
        e.title == "Pentagon conducts strikes on three more alleged drug boats, killing 11"
        for e in wapo.entries
    )
