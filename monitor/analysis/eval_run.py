"""Running the real pipeline over a labelled JSONL file, for `monitor eval` and benchmarks/quality.py.

`load_labels()` reads and checks the files (one clear error naming file:line, a UsageError: exit 2).
`run_eval()` builds a SQLite database with one outlet per (outlet, country, language) and one article
per item (headline and lede as title and summary, the published date, the URL) through the store's
own code (`store_entries`), runs the pipeline's stages from translate to cluster (poll, language
detection and the digest are left out: the labels give each item's language) at a fixed `now` (the day
after the latest item), and reads back each item's prediction: relevant, score, frames, evidence and story.

With `keep` the database lives in that folder (one per translation engine and split) and is reused:
items are updated in place, those no longer asked for are removed, translations and embeddings are
kept (and the translation cache outlives removed items), and the analyses and stories are always
cleared and redone. So a debate author (or a new classifier)
iterates in seconds after the first run.

An item without a published date is stored as a feed item without a date is (`undated="fetched"`, the
default): first seen at the run's `now`, so the clustering compares it with the recent stories only and
without time evidence. That is the honest reading: nothing but the labels says when it appeared.
`undated="event"` instead dates it by its event's earliest dated item, else the date its event id starts
with (YYYY-MM-DD-...): optimistic, since it borrows the answer (the event label) for the item's date;
the pair figures over dated items only (`cross_dated`) are the same either way.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.analysis.evaluate import Label, Prediction, split_of
from monitor.analysis.frame_mix import article_mix
from monitor.config.settings import Settings
from monitor.errors import MonitorError, UsageError
from monitor.ingest.articles import store_entries
from monitor.models import Outlet, ParsedEntry, Progress, StageReport
from monitor.store.db import iso, open_db, write_transaction

SPLITS = ("dev", "test", "all")
SKIPPED_STAGES = frozenset({"poll", "language", "digest"})  # the labels give the language; no feeds, no digest
ARTICLE_TABLES = (  # every table that refers to an article, children first
    "article_frames", "analyses", "story_articles", "article_translations", "article_embeddings",
    "article_revisions", "article_feeds",
)
RESULT_TABLES = (  # what analyze and cluster write: cleared before every run
    "article_frames", "analyses", "story_articles", "story_countries", "story_outlets", "story_frames",
    "story_actors", "stories",
)
_EVENT_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})")


# --- reading the labels -------------------------------------------------------------------------


def _fail(path: Path, line: int, message: str) -> UsageError:
    return UsageError(f"{path}:{line}: {message}")


def _text(obj: dict[str, Any], key: str, where: tuple[Path, int], required: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            raise _fail(*where, f"{key!r} is missing (a non-empty string is required)")
        return None
    if not isinstance(value, str) or not value.strip():
        raise _fail(*where, f"{key!r} must be a non-empty string, not {value!r}")
    return value


def parse_published(value: str) -> datetime:
    """A label's date (YYYY-MM-DD: noon UTC, the same calendar day in both countries) or ISO time."""
    if len(value) == 10:
        return datetime.combine(date.fromisoformat(value), time(12), UTC)
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def label_from(obj: Any, where: tuple[Path, int]) -> Label:
    """One JSONL object as a Label; a UsageError naming file:line when it does not fit the schema."""
    if not isinstance(obj, dict):
        raise _fail(*where, "each line must be a JSON object")
    for key in ("id", "country", "language"):
        _text(obj, key, where, required=True)
    relevant = obj.get("relevant")
    if not isinstance(relevant, bool):
        raise _fail(*where, f"'relevant' must be true or false, not {relevant!r}")
    title, lede = _text(obj, "title", where), _text(obj, "lede", where)
    if not title and not lede:
        raise _fail(*where, "the item has neither a 'title' nor a 'lede'")
    published = _text(obj, "published", where)
    if published:
        try:
            parse_published(published)
        except ValueError:
            raise _fail(*where, f"'published' must be YYYY-MM-DD or an ISO time, not {published!r}") from None
    secondary = obj.get("secondary_frames") or []
    if not isinstance(secondary, list) or not all(isinstance(f, str) for f in secondary):
        raise _fail(*where, "'secondary_frames' must be a list of frame ids")
    return Label(
        id=str(_text(obj, "id", where, required=True)),
        country=str(_text(obj, "country", where, required=True)).upper(),
        language=str(_text(obj, "language", where, required=True)).lower(),
        relevant=relevant,
        primary_frame=_text(obj, "primary_frame", where),
        secondary_frames=tuple(secondary),
        event_id=_text(obj, "event_id", where),
        outlet=_text(obj, "outlet", where) or _text(obj, "domain", where) or "unknown",
        title=title,
        lede=lede,
        published=published,
        url=_text(obj, "url", where),
        body=_text(obj, "body", where),
    )


def load_labels(paths: Iterable[Path]) -> list[Label]:
    """Every item of the JSONL files, checked; the first problem is a UsageError naming file:line."""
    labels: list[Label] = []
    seen: dict[str, str] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read ({exc})") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail(path, n, f"not JSON ({exc.msg} at column {exc.colno})") from None
            lab = label_from(obj, (path, n))
            if lab.id in seen:
                raise _fail(path, n, f"id {lab.id!r} already used at {seen[lab.id]}")
            seen[lab.id] = f"{path}:{n}"
            labels.append(lab)
    if not labels:
        raise UsageError("no labelled items in " + ", ".join(str(p) for p in paths))
    return labels


def select_split(labels: Sequence[Label], split: str) -> list[Label]:
    """The items of one split ('dev', 'test'; 'all' keeps everything)."""
    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    return list(labels) if split == "all" else [lab for lab in labels if split_of(lab) == split]


UNDATED = ("fetched", "event")


def item_dates(labels: Sequence[Label], undated: str = "fetched") -> dict[str, datetime | None]:
    """Each item's publication time; an undated item's is None (`fetched`) or borrowed from its event
    (`event`, see the module doc)."""
    if undated not in UNDATED:
        raise UsageError(f"undated must be one of {', '.join(UNDATED)}, not {undated!r}")
    dated = {lab.id: parse_published(lab.published) for lab in labels if lab.published}
    event_first: dict[str, datetime] = {}
    for lab in labels:
        if lab.event_id and lab.id in dated:
            event_first[lab.event_id] = min(event_first.get(lab.event_id, dated[lab.id]), dated[lab.id])
    latest = max(dated.values(), default=datetime(2000, 1, 1, 12, tzinfo=UTC))
    out: dict[str, datetime | None] = {}
    for lab in labels:
        if lab.id in dated:
            out[lab.id] = dated[lab.id]
        elif undated == "fetched":
            out[lab.id] = None
        elif lab.event_id and lab.event_id in event_first:
            out[lab.id] = event_first[lab.event_id]
        elif lab.event_id and (m := _EVENT_DATE.match(lab.event_id)):
            try:
                out[lab.id] = parse_published(m.group(1))
            except ValueError:
                out[lab.id] = latest
        else:
            out[lab.id] = latest
    return out


# --- the database -------------------------------------------------------------------------------


def outlet_of(lab: Label) -> Outlet:
    slug = re.sub(r"[^a-z0-9]+", "-", lab.outlet.lower()).strip("-") or "outlet"
    return Outlet(
        id=f"eval-{slug}-{lab.country.lower()}-{lab.language}", name=lab.outlet, country=lab.country, language=lab.language
    )


def entry_of(lab: Label, published: datetime | None, url: str | None) -> ParsedEntry:
    title, summary = lab.title or "", lab.lede or ""
    return ParsedEntry(
        title=title,
        summary=summary,
        url=url,
        link=url,
        guid=lab.id,
        content_html=None,
        content_text=lab.body,
        authors=(),
        tags=(),
        published=iso(published) if published else None,
        date_flag=None,
        content_hash=hashlib.sha256(f"{title}\x1f{summary}\x1f{lab.body or ''}".encode()).hexdigest(),
    )


def store_labels(
    db: sqlite_utils.Database, labels: Sequence[Label], dates: dict[str, datetime | None], now: datetime
) -> None:
    """Store every item as an article of its outlet (updated in place when already there), and remove
    the articles of items not in `labels` (a reused database run on another split or file)."""
    by_outlet: dict[Outlet, list[Label]] = {}
    for lab in labels:
        by_outlet.setdefault(outlet_of(lab), []).append(lab)
    wanted = {lab.id for lab in labels}
    with write_transaction(db):
        stale = [int(r[0]) for r in db.execute("SELECT id, guid FROM articles").fetchall() if r[1] not in wanted]
        for start in range(0, len(stale), 500):
            chunk = stale[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for table in ARTICLE_TABLES:
                column = "article_id" if table == "article_embeddings" else "article"
                db.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", chunk)
            db.execute(f"DELETE FROM articles WHERE id IN ({marks})", chunk)
        for outlet, items in sorted(by_outlet.items(), key=lambda kv: kv[0].id):
            db.execute(
                "INSERT OR IGNORE INTO outlets (id, name, country, language) VALUES (?, ?, ?, ?)",
                [outlet.id, outlet.name, outlet.country, outlet.language],
            )
            feed_url = f"eval:{outlet.id}"
            db.execute("INSERT OR IGNORE INTO feeds (outlet, url) VALUES (?, ?)", [outlet.id, feed_url])
            feed_id = int(db.execute("SELECT id FROM feeds WHERE url = ?", [feed_url]).fetchone()[0])
            urls: set[str] = set()
            entries = []
            for lab in items:  # two items of one outlet with one URL would be one article: keep them apart
                url = lab.url if lab.url and lab.url not in urls else None
                if url:
                    urls.add(url)
                entries.append(entry_of(lab, dates[lab.id], url))
            store_entries(db, feed_id, outlet, tuple(entries), iso(now))


def clear_results(db: sqlite_utils.Database) -> None:
    """Forget every analysis and story, so analyze and cluster redo them all."""
    with write_transaction(db):
        for table in RESULT_TABLES:
            db.execute(f"DELETE FROM {table}")


def _relevance_evidence_column(db: sqlite_utils.Database) -> str | None:
    """The analyses column holding the evidence of the relevance decision, when the schema has one."""
    columns = [str(r[1]) for r in db.execute("PRAGMA table_info(analyses)").fetchall()]
    return next((c for c in columns if "evidence" in c), None)


def _evidence_items(value: str | None) -> list[dict[str, Any]]:
    try:
        data = json.loads(value or "[]")
    except json.JSONDecodeError:
        return []
    return [d for d in data if isinstance(d, dict)] if isinstance(data, list) else []


def _line(prefix: str, ev: dict[str, Any]) -> str:
    return f"{prefix}: [{', '.join(str(t) for t in ev.get('terms') or [])}] {ev.get('sentence', '')}"


def evidence_lines(db: sqlite_utils.Database) -> dict[int, list[str]]:
    """{article: readable evidence lines}: the relevance decision's (when stored), then each frame's, best first."""
    out: dict[int, list[str]] = {}
    column = _relevance_evidence_column(db)
    if column:
        for article, value in db.execute(f"SELECT article, {column} FROM analyses").fetchall():
            out.setdefault(int(article), []).extend(_line("relevance", ev) for ev in _evidence_items(value))
    rows = db.execute(
        "SELECT article, frame, evidence FROM article_frames ORDER BY article, over_threshold DESC, position"
    ).fetchall()
    for article, frame, evidence in rows:
        out.setdefault(int(article), []).extend(_line(str(frame), ev) for ev in _evidence_items(evidence))
    return out


def predictions_by_article(db: sqlite_utils.Database) -> dict[int, tuple[str | None, Prediction]]:
    """{article id: (its guid, its prediction)} for every article (one never analysed: not relevant)."""
    frames: dict[int, list[str]] = {}
    for article, frame in db.execute(
        "SELECT article, frame FROM article_frames WHERE over_threshold = 1 ORDER BY article, position"
    ).fetchall():
        frames.setdefault(int(article), []).append(str(frame))
    evidence = evidence_lines(db)
    out = {}
    for aid, guid, relevant, relevance, top, story, mix in db.execute(
        """SELECT a.id, a.guid, an.relevant, an.relevance, an.top_frame, sa.story, an.frame_mix
           FROM articles a LEFT JOIN analyses an ON an.article = a.id LEFT JOIN story_articles sa ON sa.article = a.id"""
    ).fetchall():
        out[int(aid)] = (
            guid,
            Prediction(
                id=str(guid if guid is not None else aid),
                relevant=bool(relevant),
                score=float(relevance or 0.0),
                top_frame=top,
                frames=tuple(frames.get(int(aid), [])),
                evidence=tuple(evidence.get(int(aid), [])),
                story=int(story) if story is not None else None,
                frame_mix=article_mix(top, mix) if relevant and top else {},
            ),
        )
    return out


def read_predictions(db: sqlite_utils.Database) -> dict[str, Prediction]:
    """Each stored item's prediction, keyed by its label id (the article's guid)."""
    return {str(guid): pred for guid, pred in predictions_by_article(db).values() if guid is not None}


# --- the run ------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    labels: list[Label]
    predictions: dict[str, Prediction]
    now: datetime
    db_path: Path
    stages: dict[str, StageReport] = field(default_factory=dict)

    @property
    def translation_engine(self) -> str:
        return str(getattr(self.stages.get("translate"), "engine", "none"))

    @property
    def embedding_engine(self) -> str:
        return str(getattr(self.stages.get("embed"), "engine", "none"))


def eval_now(dates: Iterable[datetime | None]) -> datetime:
    """The present of the run: noon UTC of the day after the latest dated item."""
    latest = max((d for d in dates if d is not None), default=datetime(2000, 1, 1, 12, tzinfo=UTC))
    return datetime.combine(latest.date() + timedelta(days=1), time(12), UTC)


def run_eval(
    labels: Sequence[Label],
    settings: Settings,
    *,
    engine: str | None = None,
    keep: Path | None = None,
    tag: str = "all",
    undated: str = "fetched",
    progress: Progress | None = None,
) -> EvalRun:
    """Store the items, run translate..cluster over them and read the predictions back. With `keep`, the
    database is `keep`/eval-<engine>-<tag>.db (tag: the split), reused by the next run: its
    translations are kept unless another model made them (the debate file's glossary changed, or
    apertium), its embeddings unless another model made them, and analysis and clustering redone."""
    from monitor import pipeline  # the stages are slow to import: only when a run happens

    engine = engine or settings.translation.engine
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        folder = keep
    else:
        folder = Path(tempfile.mkdtemp(prefix="monitor-eval-"))
    db_path = folder / f"eval-{engine}-{undated}-{re.sub(r'[^A-Za-z0-9_.-]+', '-', tag)}.db"
    settings = settings.replace(db=str(db_path), translation__engine=engine, digest__out_dir=str(folder))
    dates = item_dates(labels, undated)
    now = eval_now(dates.values())
    db = open_db(db_path)
    try:
        store_labels(db, labels, dates, now)
        clear_results(db)
        # a kept database's translations are redone when they came from another model (another
        # apertium glossary, a newer package): a debate author's edit must reach the figures
        stages = [
            (name, functools.partial(fn, refresh=True) if name == "translate" else fn)
            for name, fn in pipeline.STAGES
            if name not in SKIPPED_STAGES
        ]
        report = pipeline.run_all(db, settings, now=now, progress=progress, stages=stages)
        if report.failed:
            name, why = next(iter(report.failed.items()))
            raise MonitorError(f"eval: stage {name} failed: {why}")
        predictions = read_predictions(db)
    finally:
        db.close()
    return EvalRun(list(labels), predictions, now, db_path, dict(report.stages))
