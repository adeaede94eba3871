"""The `embed` stage: one vector per article of its ORIGINAL headline + lede (no translation needed).

Which articles: those without a vector of this model, or whose `content_hash` changed since their vector
was made. A changed article whose headline and lede are the same (only the body changed) keeps its
vector: just its recorded hash moves on. So a re-run on unchanged data makes no engine call.
Articles are read from SQLite a batch at a time in id order (memory does not grow with the database),
each batch is embedded in one engine call and committed in one transaction: a run killed at any point
loses at most the batch in flight, and the next run resumes from there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import sqlite_utils

from monitor.config.settings import Settings
from monitor.embedding import Embedder, choose_engine, embedder_for, to_blob
from monitor.models import Progress, StageReport, note, track
from monitor.store.db import iso, write_transaction
from monitor.translation.translate import clip


@dataclass
class EmbedReport(StageReport):
    stage: ClassVar[str] = "embed"
    engine: str = "none"
    model: str = ""
    reason: str = ""  # why this engine
    pending: int = 0  # articles without a current vector when the run started
    embedded: int = 0  # vectors written
    unchanged: int = 0  # changed articles whose headline + lede were not: vector kept
    empty: int = 0  # articles with no headline or lede text: nothing to embed
    batches: int = 0  # engine calls (= committed batches)
    engine_seconds: float = 0.0  # inside the engine
    seconds: float = 0.0  # the whole stage
    texts_per_s: float = 0.0  # embedded / seconds

    @property
    def changed(self) -> int:
        return self.embedded + self.unchanged

    def describe(self) -> str:
        if self.engine == "none":
            return f"no embedding engine: {self.reason}" + (f"; {self.pending} articles without vectors" if self.pending else "")
        if not self.embedded and not self.unchanged:
            return f"{self.engine}: nothing to embed"
        return (
            f"{self.engine}: {self.embedded} articles embedded in {self.batches} batches, "
            f"{self.seconds:.1f}s ({self.texts_per_s:.1f}/s)"
            + (f", {self.unchanged} changed but same headline and lede" if self.unchanged else "")
            + (f", {self.empty} without text" if self.empty else "")
        )


def article_text(title: str | None, summary: str | None, content: str | None, max_lede_chars: int) -> str:
    """What is embedded: the headline, then the lede (the summary, else the start of the content)."""
    lede = (clip(summary, max_lede_chars) or clip(content, max_lede_chars)) if max_lede_chars else ""
    return "\n".join(part for part in (" ".join((title or "").split()), lede) if part)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_STALE = (
    "FROM articles a LEFT JOIN article_embeddings e ON e.article_id = a.id AND e.model = :model "
    "WHERE (e.id IS NULL OR e.article_hash != a.content_hash)"
)


def count_pending(db: sqlite_utils.Database, model: str) -> int:
    """Articles without a current vector of `model`."""
    return int(db.execute(f"SELECT count(*) {_STALE}", {"model": model}).fetchone()[0])


def _stale_pages(db: sqlite_utils.Database, model: str, size: int, content_chars: int) -> Iterator[list[tuple[Any, ...]]]:
    """Stale articles in id order, `size` at a time; each page is a fresh query, so writes between
    pages are safe and only one page is in memory."""
    after = 0
    while True:
        rows = db.execute(
            "SELECT a.id, a.content_hash, a.title, a.summary, "
            "CASE WHEN a.summary = '' THEN substr(a.content_text, 1, :chars) END, e.text_hash "
            f"{_STALE} AND a.id > :after ORDER BY a.id LIMIT :size",
            {"model": model, "chars": content_chars, "after": after, "size": size},
        ).fetchall()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def run(
    db: sqlite_utils.Database,
    settings: Settings,
    *,
    now: datetime,
    progress: Progress | None = None,
    limit: int | None = None,
    engine: str | None = None,
    embedder: Embedder | None = None,
) -> EmbedReport:
    """Embed what is missing or changed; `limit` caps the articles embedded this run. Rows are stamped `now`."""
    started = time.perf_counter()
    report = EmbedReport()
    if embedder is None:
        choice = choose_engine(settings, engine)
        report.reason = choice.reason
        embedder = embedder_for(settings, choice) if choice.engine != "none" else None
    if embedder is None or embedder.name == "none":
        report.pending = count_pending(db, "")
        note(progress, "embed", f"embed: {report.reason or 'no engine'}")
        return report
    report.engine, report.model = embedder.name, embedder.model
    report.pending = count_pending(db, embedder.model)
    if not report.pending:
        return report
    note(progress, "embed", f"embed: engine {embedder.name} ({embedder.model}); {report.reason}".rstrip("; "))
    cap = report.pending if limit is None or limit < 0 else min(limit, report.pending)
    size = max(1, settings.embedding.batch_size)
    stamp = iso(now)
    with track(progress, "embed", cap) as advance:
        for page in _stale_pages(db, embedder.model, size, max(1, settings.embedding.max_lede_chars) * 2):
            if report.embedded >= cap:
                break
            done = _embed_page(db, embedder, settings, page[: cap - report.embedded], report, stamp)
            advance(done, note=f"{report.embedded / max(report.engine_seconds, 1e-9):.1f}/s")
    report.seconds = round(time.perf_counter() - started, 3)
    report.engine_seconds = round(report.engine_seconds, 3)
    report.texts_per_s = round(report.embedded / report.seconds, 1) if report.seconds > 0 else 0.0
    return report


def _embed_page(
    db: sqlite_utils.Database,
    embedder: Embedder,
    settings: Settings,
    page: list[tuple[Any, ...]],
    report: EmbedReport,
    stamp: str,
) -> int:
    """Embed one page of stale articles and commit it; returns the articles handled."""
    todo: list[tuple[int, str, str, str]] = []  # (article, article_hash, text, text_hash)
    moved: list[tuple[str, int, str]] = []  # (article_hash, article, model): same text, new article hash
    for art_id, article_hash, title, summary, content, old_text_hash in page:
        text = article_text(title, summary, content, settings.embedding.max_lede_chars)
        digest = text_hash(text)
        if not text:
            report.empty += 1
        elif digest == old_text_hash:
            moved.append((article_hash, art_id, embedder.model))
        else:
            todo.append((art_id, article_hash, text, digest))
    vectors = None
    if todo:
        began = time.perf_counter()
        vectors = embedder.embed([t[2] for t in todo])
        report.engine_seconds += time.perf_counter() - began
        report.batches += 1
    with write_transaction(db):
        if moved:
            db.conn.executemany(
                "UPDATE article_embeddings SET article_hash = ? WHERE article_id = ? AND model = ?", moved
            )
        if vectors is not None:
            db.conn.executemany(
                "INSERT INTO article_embeddings (article_id, model, dim, vector, text_hash, article_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(model, article_id) DO UPDATE SET dim = excluded.dim, "
                "vector = excluded.vector, text_hash = excluded.text_hash, article_hash = excluded.article_hash, "
                "created_at = excluded.created_at",
                [
                    (art_id, embedder.model, int(vector.shape[0]), to_blob(vector), digest, article_hash, stamp)
                    for (art_id, article_hash, _, digest), vector in zip(todo, vectors, strict=True)
                ],
            )
    report.embedded += len(todo)
    report.unchanged += len(moved)
    return len(page)
