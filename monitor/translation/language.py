"""The `language` stage: detect each article's language from its text, the outlet's as a prior.

Feeds declare wrong languages (scraped Mexican feeds say `en` for Spanish text), so the text
decides when the detector is confident (`translation.min_language_confidence`); otherwise the
outlet's language stays. py3langid restricted to the registry's languages (en, es) is 30/30 on
short headlines where unrestricted detectors are not (see the translation reference notes).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, ClassVar

import sqlite_utils

from monitor.config.settings import Settings
from monitor.models import Progress, StageReport, track
from monitor.store.db import write_transaction

DEFAULT_LANGUAGES = ("en", "es")
_WORD = re.compile(r"[^\W\d_]{2,}")
BATCH = 500


@lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    known = set(ident.nb_classes)
    usable = [lang for lang in languages if lang in known]
    ident.set_languages(usable or list(DEFAULT_LANGUAGES))
    return ident


def detect(text: str, prior: str | None = None, languages: Sequence[str] = DEFAULT_LANGUAGES) -> tuple[str, float]:
    """(language, confidence 0..1) among `languages`. Text with fewer than two words gives (prior, 0.0)."""
    langs = tuple(sorted(set(languages)))
    if len(_WORD.findall(text)) < 2:
        return (prior or langs[0], 0.0)
    lang, prob = _identifier(langs).classify(text)
    return str(lang), round(float(prob), 4)


def article_text(title: str, summary: str | None, content: str | None, limit: int = 600) -> str:
    """What detection reads: title, summary and the start of the content."""
    return " ".join(p for p in (title, summary or "", (content or "")[:limit]) if p).strip()


@dataclass
class LanguageReport(StageReport):
    stage: ClassVar[str] = "language"
    checked: int = 0  # articles whose language was detected (each row written once)
    relabelled: int = 0  # articles whose language differs from the outlet's
    by_language: dict[str, int] = field(default_factory=dict)
    low_confidence: int = 0  # kept the outlet's language

    @property
    def changed(self) -> int:
        return self.checked


def registry_languages(db: sqlite_utils.Database) -> tuple[str, ...]:
    rows = db.execute("SELECT DISTINCT language FROM outlets").fetchall()
    return tuple(sorted({r[0] for r in rows if r[0]} | set(DEFAULT_LANGUAGES)))


def run(
    db: sqlite_utils.Database, settings: Settings, *, now: datetime, progress: Progress | None = None
) -> LanguageReport:
    """Detect the language of every article not yet checked. Re-running changes nothing."""
    report = LanguageReport()
    languages = registry_languages(db)
    threshold = settings.translation.min_language_confidence
    total = db.execute("SELECT count(*) FROM articles WHERE detected_language IS NULL").fetchone()[0]
    if not total:
        return report
    with track(progress, "language", total) as advance:
        while True:
            rows = db.execute(
                "SELECT id, title, summary, content_text, outlet_language FROM articles "
                "WHERE detected_language IS NULL ORDER BY id LIMIT ?",
                [BATCH],
            ).fetchall()
            if not rows:
                break
            updates = []
            for art_id, title, summary, content, outlet_lang in rows:
                lang, conf = detect(article_text(title, summary, content), outlet_lang, languages)
                chosen = lang if conf >= threshold else outlet_lang
                report.checked += 1
                report.by_language[chosen] = report.by_language.get(chosen, 0) + 1
                report.low_confidence += conf < threshold
                report.relabelled += chosen != outlet_lang
                updates.append((lang, conf, chosen, art_id))
            with write_transaction(db):
                db.conn.executemany(
                    "UPDATE articles SET detected_language = ?, language_confidence = ?, language = ? WHERE id = ?",
                    updates,
                )
            advance(len(rows))
    return report
