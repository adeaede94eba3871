"""Fixtures for the analysis tests: outlets and articles written straight into a migrated database,
with optional translations (the rows the translate stage would write)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from monitor.store.db import iso, write_transaction

BASE_TIME = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EVAL = Path(__file__).resolve().parent / "fixtures" / "eval"
OUTLETS = {
    "nyt": ("The New York Times", "US", "en"),
    "wapo": ("The Washington Post", "US", "en"),
    "fox": ("Fox News", "US", "en"),
    "jornada": ("La Jornada", "MX", "es"),
    "universal": ("El Universal", "MX", "es"),
    "milenio": ("Milenio", "MX", "es"),
}


def add_outlets(db: sqlite_utils.Database) -> None:
    with write_transaction(db):
        for oid, (name, country, lang) in OUTLETS.items():
            db.execute(
                "INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES (?, ?, ?, ?)", [oid, name, country, lang]
            )


def add_article(
    db: sqlite_utils.Database,
    outlet: str,
    title: str,
    summary: str = "",
    hours: float = 0.0,
    translation: tuple[str, str] | None = None,
) -> int:
    """Insert one article `hours` after BASE_TIME; `translation` is (title, summary) in the other language."""
    _name, country, lang = OUTLETS[outlet]
    published = iso(BASE_TIME + timedelta(hours=hours))
    digest = hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()
    with write_transaction(db):
        cur = db.execute(
            """INSERT INTO articles (outlet, country, language, outlet_language, url, title, summary, published,
                                     date_source, first_seen, content_hash)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'feed', ?, ?)""",
            [outlet, country, lang, lang, f"https://{outlet}.example/{digest[:12]}", title, summary, published, published, digest],
        )
        aid = int(cur.lastrowid or 0)
        if translation:
            add_translation(db, aid, "es" if lang == "en" else "en", *translation)
    return aid


def add_translation(db: sqlite_utils.Database, article: int, language: str, title: str, summary: str) -> None:
    db.execute(
        """INSERT OR REPLACE INTO article_translations (article, language, title, summary, content, engine, model, rough,
                                                        source_language, source_hash, translated_at)
           VALUES (?, ?, ?, ?, NULL, 'apertium', 'test', 1, ?, 'h', ?)""",
        [article, language, title, summary, "es" if language == "en" else "en", iso(datetime.now(UTC))],
    )


@pytest.fixture
def news_db(db: sqlite_utils.Database) -> sqlite_utils.Database:
    add_outlets(db)
    return db


@pytest.fixture
def article_factory(news_db: sqlite_utils.Database) -> Callable[..., int]:
    def make(outlet: str, title: str, summary: str = "", hours: float = 0.0, translation: tuple[str, str] | None = None) -> int:
        return add_article(news_db, outlet, title, summary, hours, translation)

    return make


def real_corpus() -> dict[str, dict[str, Any]]:
    """The real labelled corpus (tests/fixtures/eval: published headlines and ledes), by item id."""
    items: dict[str, dict[str, Any]] = {}
    for name in ("real-events.jsonl", "real-other.jsonl"):
        for line in (EVAL / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                items[item["id"]] = item
    return items
