"""Language detection on real Mexican feed items, whose scraped feeds declare `en` for Spanish text."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest

from monitor.config.settings import Settings
from monitor.store.db import iso, utcnow
from monitor.translation import language as langdetect
from tests.conftest import REAL_FEEDS

NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)  # the stages' present: stamps only

MX = REAL_FEEDS / "mx"
SPANISH_FILES = ["elfinanciero-prospect.xml", "milenio-prospect.xml", "reforma-prospect.xml"]
ENGLISH_FILES = ["mexiconewsdaily-prospect.xml"]


def items(name: str) -> list[Any]:
    parsed = feedparser.parse((MX / name).read_bytes())
    assert parsed.feed.get("language", "").startswith("en")  # the files' (wrong, for Spanish) declaration
    assert parsed.entries
    return parsed.entries


@pytest.mark.parametrize(("name", "expected"), [(n, "es") for n in SPANISH_FILES] + [(n, "en") for n in ENGLISH_FILES])
def test_real_items_detected_despite_declared_language(name: str, expected: str) -> None:
    for entry in items(name):
        text = langdetect.article_text(entry.title, entry.get("summary", ""), None)
        lang, confidence = langdetect.detect(text, prior="en")
        assert lang == expected, (entry.title, lang, confidence)


def test_prior_used_only_for_text_too_short_to_judge() -> None:
    assert langdetect.detect("", prior="es") == ("es", 0.0)
    assert langdetect.detect("Trump", prior="es") == ("es", 0.0)
    lang, conf = langdetect.detect("Extraditan a 29 narcos a Estados Unidos", prior="en")
    assert lang == "es" and conf > 0.9


def test_stage_sets_language_when_confident_and_keeps_outlet_language_otherwise(db: Any, settings: Settings) -> None:
    db.conn.execute("INSERT INTO outlets (id, name, country, language) VALUES ('milenio', 'Milenio', 'MX', 'en')")
    now = iso(utcnow())
    entries = items("milenio-prospect.xml")[:5]
    rows = [(e.title, e.get("summary", "")) for e in entries] + [("Sheinbaum", "")]
    for i, (title, summary) in enumerate(rows):
        db.conn.execute(
            "INSERT INTO articles (outlet, country, language, outlet_language, url, title, summary, published, "
            "date_source, first_seen, content_hash) VALUES ('milenio', 'MX', 'en', 'en', ?, ?, ?, ?, 'feed', ?, ?)",
            [f"https://example.org/{i}", title, summary, now, now, hashlib.sha256(title.encode()).hexdigest()],
        )
    db.conn.commit()
    report = langdetect.run(db, settings, now=NOW)
    assert report.checked == 6 and report.relabelled == 5 and report.low_confidence == 1
    got = db.execute("SELECT language, detected_language, language_confidence FROM articles ORDER BY id").fetchall()
    assert [g[0] for g in got] == ["es"] * 5 + ["en"]  # the one-word title keeps the outlet's language
    assert all(g[2] >= settings.translation.min_language_confidence for g in got[:5])
    again = langdetect.run(db, settings, now=NOW)
    assert again.checked == 0

