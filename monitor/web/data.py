"""What the newsroom page shows, read from the database (read-only). Plain dicts and dataclasses.

Every function takes an open (read-only) database and tolerates a database where later stages
have not run yet (no analyses, translations or stories): the page then shows what there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from monitor.analysis import frame_mix
from monitor.config.settings import Settings
from monitor.days import day_bounds
from monitor.ingest.urls import http_url, redact, redact_text
from monitor.search import engine
from monitor.store.db import has_column, has_table, iso, parse_iso, utcnow


def countries(db: sqlite_utils.Database) -> list[str]:
    """Countries of the registry (outlets table), e.g. ["MX", "US"]; never hard-coded."""
    return [str(r[0]) for r in db.execute("SELECT DISTINCT country FROM outlets ORDER BY country").fetchall()]


@dataclass
class DayView:
    day: date
    start: datetime
    end: datetime
    is_today: bool
    fallback_from: date | None = None  # today had no stories; showing the latest day that has


def pick_day(db: sqlite_utils.Database, settings: Settings, requested: str | None, now: datetime | None = None) -> DayView:
    """The requested local day, or today; when today has no articles yet, the latest day that has."""
    tz = ZoneInfo(settings.digest.timezone)
    today = (now or utcnow()).astimezone(tz).date()
    if requested:
        day = date.fromisoformat(requested)
        start, end = day_bounds(day, settings.digest.timezone)
        return DayView(day, start, end, day == today)
    start, end = day_bounds(today, settings.digest.timezone)
    row = db.execute("SELECT max(published) FROM articles WHERE published < ?", [iso(end)]).fetchone()
    if row and row[0] and parse_iso(row[0]) < start:
        latest = parse_iso(row[0]).astimezone(tz).date()
        s, e = day_bounds(latest, settings.digest.timezone)
        return DayView(latest, s, e, False, fallback_from=today)
    return DayView(today, start, end, True)


@dataclass
class FrameBar:
    frame: str
    label: str
    count: float  # its articles: with it as top frame, or the sum of their frame mixes (CountryFrames.shares_by)
    share: float  # of the country's relevant articles with a top frame (bars under 1% are left out)

    @property
    def percent(self) -> int:
        return round(self.share * 100)


@dataclass
class CountryFrames:
    country: str
    articles: int  # relevant articles with a top frame
    bars: list[FrameBar] = field(default_factory=list)
    shares_by: str = frame_mix.TOPS  # frame_mix.TOPS (counted) or MIXES (summed), by the stories they fall into


def frame_labels(settings: Settings, lang: str = "en") -> dict[str, str]:
    """Frame id -> label from the debate file (ids prettified when the file cannot be read)."""
    try:
        from monitor.analysis import debate
        loaded = debate.load_debate(settings.debate_path)
        out: dict[str, str] = {}
        for frame in getattr(loaded, "frames", ()):
            fid = getattr(frame, "id", None)
            if fid:
                out[fid] = getattr(frame, f"label_{lang}", "") or getattr(frame, "label", "") or fid
        return out
    except Exception:  # the page must render even with a broken debate file: ids are fine labels
        return {}


def frame_shares(db: sqlite_utils.Database, start: datetime, end: datetime, labels: dict[str, str]) -> list[CountryFrames]:
    """Per country: the share of its relevant articles in [start, end) by primary frame, largest first
    (top frames counted, or over many stories their frame mixes summed: frame_mix.py)."""
    # The app reads with open_db(readonly=True), which cannot migrate: `monitor serve` migrates first,
    # but create_app() used on its own may read a database from before db/003 (no analyses, so the
    # page lists every article) or db/002 (no translations). Hence these has_table() guards here only.
    if not has_table(db, "analyses"):
        return []
    mix = "an.frame_mix" if has_column(db, "analyses", "frame_mix") else "NULL"
    story = "(SELECT sa.story FROM story_articles sa WHERE sa.article = a.id)" if has_table(db, "story_articles") else "NULL"
    rows = db.execute(
        f"""SELECT a.country, an.top_frame, {mix}, {story} FROM articles a JOIN analyses an ON an.article = a.id
           WHERE an.relevant = 1 AND an.top_frame IS NOT NULL AND a.published >= ? AND a.published < ?""",
        [iso(start), iso(end)],
    ).fetchall()
    by_country: dict[str, list[tuple[str, dict[str, float]]]] = {}
    stories: dict[str, set[int]] = {}
    for country, top, stored, story_id in rows:
        by_country.setdefault(str(country), []).append((str(top), frame_mix.article_mix(top, stored)))
        if story_id is not None:
            stories.setdefault(str(country), set()).add(int(story_id))
    out: list[CountryFrames] = []
    for country in sorted(by_country):
        method = frame_mix.method_for(len(stories.get(country, ())))
        shares = frame_mix.coverage_shares(by_country[country], method)
        bars = [
            FrameBar(f, labels.get(f, f.replace("_", " ").replace("-", " ").capitalize()), round(n, 2), share)
            for f, n, share in shares
            if round(share * 100) >= 1
        ]
        out.append(CountryFrames(country, len(by_country[country]), bars, method))
    return out


def _article_select(db: sqlite_utils.Database) -> tuple[str, str]:
    """(columns, joins) for an article row with its analysis and translated title when present."""
    cols = [
        "a.id", "a.outlet", "COALESCE(o.name, a.outlet) AS outlet_name", "a.country", "a.language", "a.url",
        "a.title", "a.summary", "a.published", "a.first_seen",
    ]
    joins = ["LEFT JOIN outlets o ON o.id = a.outlet"]
    if has_table(db, "analyses"):
        cols += ["an.relevant", "an.relevance", "an.top_frame"]
        joins.append("LEFT JOIN analyses an ON an.article = a.id")
    else:
        cols += ["NULL AS relevant", "NULL AS relevance", "NULL AS top_frame"]
    if has_table(db, "article_translations"):
        cols += [
            "t.title AS title_translated", "t.language AS translated_language", "t.summary AS summary_translated",
            "t.content AS content_translated", "t.rough AS rough", "t.engine AS engine", "t.model AS model",
        ]
        joins.append(
            "LEFT JOIN article_translations t ON t.id = (SELECT t2.id FROM article_translations t2 "
            "WHERE t2.article = a.id AND t2.language != a.language ORDER BY t2.language LIMIT 1)"
        )
    else:
        cols += ["NULL AS title_translated", "NULL AS translated_language", "NULL AS summary_translated",
                 "NULL AS content_translated", "0 AS rough", "NULL AS engine", "NULL AS model"]
    return ", ".join(cols), " ".join(joins)


def _row(r: Any) -> dict[str, Any]:
    d = dict(r)
    d["href"] = http_url(d.get("url"))
    return d


def latest_articles(db: sqlite_utils.Database, limit: int = 20, after: int = 0) -> list[dict[str, Any]]:
    """The newest relevant articles (all articles before the analysis has run), newest first."""
    cols, joins = _article_select(db)
    where = "a.id > ?"
    if has_table(db, "analyses") and db.execute("SELECT 1 FROM analyses LIMIT 1").fetchone():
        where += " AND an.relevant = 1"
    sql = f"SELECT {cols} FROM articles a {joins} WHERE {where} ORDER BY a.id DESC LIMIT ?"
    return [_row(r) for r in db.query(sql, [after, limit])]


def get_article(db: sqlite_utils.Database, article_id: int) -> dict[str, Any] | None:
    """One article for the article page, read by `monitor.search.engine.get_article` (the one reader
    of an article's detail, also behind `monitor show`) and flattened to what the template shows."""
    detail = engine.get_article(db, article_id)
    return None if detail is None else article_view(detail)


def article_view(d: engine.ArticleDetail, lang: str = "en") -> dict[str, Any]:
    """The page's view of an article: its first translation into another language, analysis fields
    (None before the analysis ran), evidence items per frame (best first), its story's id and the
    story's headline title for a reader of `lang` (the page is English; a StoryTitle, or None)."""
    tr = next((t for t in d.translations if t["language"] != d.language), None) or {}
    an = d.analysis or {}
    return {
        "id": d.id, "outlet": d.outlet, "outlet_name": d.outlet_name, "country": d.country, "language": d.language,
        "url": d.url, "href": http_url(d.url), "title": d.title, "summary": d.summary, "content_text": d.content_text,
        "published": d.published, "first_seen": d.first_seen,
        "relevant": an.get("relevant"), "relevance": an.get("relevance"), "top_frame": an.get("top_frame"),
        "title_translated": tr.get("title"), "translated_language": tr.get("language"),
        "summary_translated": tr.get("summary"), "content_translated": tr.get("content"),
        "rough": bool(tr.get("rough")), "engine": tr.get("engine"), "model": tr.get("model"),
        "evidence": [
            {"frame": f["frame"], "score": f["score"], "items": [i for i in _list(f["evidence"]) if isinstance(i, dict)]}
            for f in d.frames
        ],
        "story": d.story["id"] if d.story else None,
        "story_title": d.story.get(f"title_{lang}") if d.story else None,
    }


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass
class FeedHealth:
    outlet: str
    outlet_name: str
    country: str
    url: str
    status: str
    last_success_at: str | None
    last_error: str | None
    consecutive_failures: int
    next_check_at: str | None
    items_last: int | None


def feed_health(db: sqlite_utils.Database) -> list[FeedHealth]:
    rows = db.execute(
        """SELECT f.outlet, COALESCE(o.name, f.outlet), COALESCE(o.country, ''), f.url, f.status, f.last_success_at,
                  f.last_error, f.consecutive_failures, f.next_check_at, f.items_last
           FROM feeds f LEFT JOIN outlets o ON o.id = f.outlet WHERE f.status != 'removed'
           ORDER BY CASE f.status WHEN 'failing' THEN 0 WHEN 'gone' THEN 1 ELSE 2 END, o.country, f.outlet, f.url"""
    ).fetchall()
    return [_shown(FeedHealth(*r)) for r in rows]


def _shown(feed: FeedHealth) -> FeedHealth:
    """The page is public: a feed's credentials (user:password@, ?token=...) are never shown."""
    feed.url = redact(feed.url) or ""
    feed.last_error = redact_text(feed.last_error)
    return feed


def health_summary(feeds: list[FeedHealth]) -> dict[str, int]:
    out: dict[str, int] = {"total": len(feeds)}
    for f in feeds:
        out[f.status] = out.get(f.status, 0) + 1
    return out


def last_update(db: sqlite_utils.Database) -> str | None:
    row = db.execute("SELECT max(finished_at) FROM runs").fetchone()
    return row[0] if row and row[0] else None


def day_links(day: date) -> dict[str, str]:
    return {"prev": (day - timedelta(days=1)).isoformat(), "next": (day + timedelta(days=1)).isoformat()}
