"""The `translate` stage: every article's title, summary and content into the other language(s).

For each article and each registry language other than the article's, one `article_translations`
row. What is stale: no row yet, or a row made from other source texts (`source_hash` covers the
article's language, its content hash and the content limit). With `refresh`, rows made by a worse
engine (apertium < argos) or an older model are redone too. Texts go through `translation_cache`
first (keyed by text hash, languages, engine and model), so identical texts across outlets and
re-polls reach the engine once; a re-run on unchanged data makes no engine call at all.
Work is committed every `translation.commit_every` articles: an interrupted run keeps what it
finished and the next run does the rest.
"""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import sqlite_utils

from monitor.config.settings import Settings
from monitor.models import Progress, StageReport, note, track
from monitor.store.db import iso, write_transaction
from monitor.translation import ENGINE_RANK, Translator, choose_engine, translator_for
from monitor.translation.language import registry_languages
from monitor.translation.sentences import count_sentences


@dataclass
class TranslateReport(StageReport):
    stage: ClassVar[str] = "translate"
    engine: str = "none"
    model: str = ""
    reason: str = ""  # why this engine (and what to do for a better one)
    pending: int = 0  # (article, language) pairs that needed a translation
    translated: int = 0  # rows written
    articles: int = 0  # articles with at least one row written
    removed: int = 0  # rows dropped because the article's language changed
    unsupported: int = 0  # pairs the engine cannot translate (e.g. a third language without a model)
    texts: int = 0  # non-empty texts needed
    cache_hits: int = 0
    engine_texts: int = 0  # texts sent to the engine
    engine_calls: int = 0
    sentences: int = 0  # sentences sent to the engine
    engine_seconds: float = 0.0
    sentences_per_s: float = 0.0
    languages: dict[str, int] = field(default_factory=dict)  # rows written per target language
    outdated: int = 0  # rows this engine made with another model (another glossary, an older package), kept: --refresh redoes them

    @property
    def changed(self) -> int:
        return self.translated + self.removed

    def describe(self) -> str:
        if self.engine == "none":
            return f"no translation engine: {self.reason}" + (f"; {self.pending} untranslated" if self.pending else "")
        outdated = (
            f"; kept {self.outdated} made by another {self.engine} model or glossary "
            "(`monitor translate --refresh` redoes them)"
            if self.outdated
            else ""
        )
        if not self.pending:
            return f"{self.engine}: nothing to translate{outdated}"
        return (
            f"{self.engine}: {self.translated} translations of {self.articles} articles, "
            f"{self.cache_hits}/{self.texts} texts from cache, {self.sentences} sentences "
            f"in {self.engine_seconds:.1f}s ({self.sentences_per_s:.1f}/s)"
            + (f", {self.unsupported} unsupported pairs" if self.unsupported else "")
            + outdated
        )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_hash(language: str, content_hash: str, max_content_chars: int) -> str:
    return text_hash(f"{language}\x1f{content_hash}\x1f{max_content_chars}")


def clip(text: str | None, limit: int) -> str:
    """The content to translate: at most `limit` characters, cut at a sentence or word end."""
    text = (text or "").strip()
    if "\n" not in text:  # one paragraph: fold its whitespace; paragraphs keep their line breaks
        text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    for mark in (". ", "? ", "! ", "\n"):
        at = cut.rfind(mark)
        if at > limit // 2:
            return cut[: at + 1].strip()
    at = cut.rfind(" ")
    return (cut[:at] if at > limit // 2 else cut).strip()


@dataclass(frozen=True)
class _Job:
    article: int
    source: str
    target: str
    source_hash: str


def _pending_jobs(
    db: sqlite_utils.Database, translator: Translator, settings: Settings, refresh: bool, report: TranslateReport
) -> tuple[list[_Job], list[tuple[int, str]]]:
    languages = registry_languages(db)
    existing: dict[tuple[int, str], tuple[str, str, str]] = {
        (r[0], r[1]): (r[2], r[3], r[4])
        for r in db.execute("SELECT article, language, source_hash, engine, model FROM article_translations")
    }
    jobs: list[_Job] = []
    obsolete: list[tuple[int, str]] = []
    limit = settings.translation.max_content_chars
    for art_id, lang, content_hash in db.execute("SELECT id, language, content_hash FROM articles ORDER BY id"):
        if (art_id, lang) in existing:
            obsolete.append((art_id, lang))
        wanted = source_hash(lang, content_hash, limit)
        for target in languages:
            if target == lang:
                continue
            if not translator.supports(lang, target):
                report.unsupported += translator.engine != "none"
                report.pending += translator.engine == "none"
                continue
            row = existing.get((art_id, target))
            stale = row is None or row[0] != wanted
            if not stale and row is not None:
                rank_now, rank_then = ENGINE_RANK.get(translator.engine, 0), ENGINE_RANK.get(row[1], 0)
                other_model = rank_then == rank_now and row[2] != translator.model_for(lang, target)
                stale = refresh and (rank_then < rank_now or other_model)
                report.outdated += other_model and not refresh
            if stale:
                jobs.append(_Job(art_id, lang, target, wanted))
    return jobs, obsolete


def run(
    db: sqlite_utils.Database,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    limit: int | None = None,
    engine: str | None = None,
    refresh: bool = False,
    translator: Translator | None = None,
) -> TranslateReport:
    """Translate what is missing or stale; `limit` caps the number of articles this run. Cache rows are
    stamped with `now`."""
    report = TranslateReport()
    if translator is None:
        from monitor.translation.index import install_missing

        install_missing(db, settings, engine, progress)  # a pair without a model: from the index, when auto_install
        choice = choose_engine(settings, engine)
        report.reason = choice.reason
        translator = translator_for(settings, choice)
    report.engine, report.model = translator.engine, translator.model
    jobs, obsolete = _pending_jobs(db, translator, settings, refresh, report)
    if obsolete:
        with write_transaction(db):
            db.conn.executemany("DELETE FROM article_translations WHERE article = ? AND language = ?", obsolete)
        report.removed = len(obsolete)
    if translator.engine == "none":
        if report.pending:
            note(progress, "translate", f"translate: {report.reason or 'no engine'}")
        return report
    by_article: dict[int, list[_Job]] = defaultdict(list)
    for job in jobs:
        by_article[job.article].append(job)
    articles = list(by_article)[: limit if limit is not None and limit >= 0 else None]
    report.pending = sum(len(by_article[a]) for a in articles)
    if not articles:
        return report
    note(progress, "translate", f"translate: engine {translator.engine} ({translator.model}); {report.reason}".rstrip("; "))
    step = max(1, settings.translation.commit_every)
    with track(progress, "translate", len(articles)) as advance:
        for start in range(0, len(articles), step):
            chunk = articles[start : start + step]
            _translate_chunk(db, translator, settings, [j for a in chunk for j in by_article[a]], report, iso(now))
            report.articles += len(chunk)
            advance(len(chunk), note=f"{report.sentences_per_s:.1f} sentences/s")
    return report


def _translate_chunk(
    db: sqlite_utils.Database,
    translator: Translator,
    settings: Settings,
    jobs: list[_Job],
    report: TranslateReport,
    now: str,
) -> None:
    ids = sorted({j.article for j in jobs})
    marks = ",".join("?" * len(ids))
    texts: dict[int, tuple[str, str, str]] = {
        r[0]: (r[1] or "", r[2] or "", clip(r[3], settings.translation.max_content_chars))
        for r in db.execute(f"SELECT id, title, summary, content_text FROM articles WHERE id IN ({marks})", ids)
    }
    # every distinct text per language pair, then the cache, then the engine for the rest
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for job in jobs:
        wanted[(job.source, job.target)].update(t for t in texts[job.article] if t)
    done: dict[tuple[str, str, str], str] = {}
    new_cache: list[tuple[Any, ...]] = []
    for (source, target), pair_texts in wanted.items():
        model = translator.model_for(source, target)
        ordered = sorted(pair_texts)
        report.texts += len(ordered)
        by_hash = {text_hash(t): t for t in ordered}
        hashes = list(by_hash)
        for i in range(0, len(hashes), 500):
            part = hashes[i : i + 500]
            rows = db.execute(
                "SELECT text_hash, translation FROM translation_cache WHERE source_language = ? AND "
                f"target_language = ? AND engine = ? AND model = ? AND text_hash IN ({','.join('?' * len(part))})",
                [source, target, translator.engine, model, *part],
            )
            for h, translation in rows:
                done[(source, target, by_hash[h])] = translation
                report.cache_hits += 1
        misses = [t for t in ordered if (source, target, t) not in done]
        if misses:
            stats = getattr(translator, "stats", None)  # engines that split sentences themselves count them
            before = stats.sentences if stats is not None else 0
            started = time.perf_counter()
            results = translator.translate(misses, source, target)
            report.engine_seconds += time.perf_counter() - started
            report.engine_calls += 1
            report.engine_texts += len(misses)
            report.sentences += stats.sentences - before if stats is not None else count_sentences(misses)
            for text, result in zip(misses, results, strict=True):
                done[(source, target, text)] = result
                new_cache.append((text_hash(text), source, target, translator.engine, model, result, now))
    if report.engine_seconds > 0:
        report.sentences_per_s = round(report.sentences / report.engine_seconds, 1)
    rows = []
    for job in jobs:
        title, summary, content = texts[job.article]
        rows.append(
            (
                job.article,
                job.target,
                done.get((job.source, job.target, title), "") if title else "",
                done.get((job.source, job.target, summary), "") if summary else "",
                done.get((job.source, job.target, content)) if content else None,
                translator.engine,
                translator.model_for(job.source, job.target),
                1 if translator.rough else 0,
                job.source,
                job.source_hash,
                now,
            )
        )
        report.languages[job.target] = report.languages.get(job.target, 0) + 1
    with write_transaction(db):
        db.conn.executemany(
            "INSERT OR REPLACE INTO translation_cache (text_hash, source_language, target_language, engine, model, "
            "translation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            new_cache,
        )
        db.conn.executemany(
            "INSERT INTO article_translations (article, language, title, summary, content, engine, model, rough, "
            "source_language, source_hash, translated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(article, language) DO UPDATE SET title = excluded.title, summary = excluded.summary, "
            "content = excluded.content, engine = excluded.engine, model = excluded.model, rough = excluded.rough, "
            "source_language = excluded.source_language, source_hash = excluded.source_hash, "
            "translated_at = excluded.translated_at",
            rows,
        )
    report.translated += len(rows)
