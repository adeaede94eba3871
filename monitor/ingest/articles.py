"""Store one feed's parsed entries: article identity, updates with revisions, feed membership.

Identity (reference §2.9): within a feed an entry is known by its guid when the feed's guids are
sane, else by its canonical URL, else by a hash of title and date. Across the feeds of one outlet
(a section feed and the front page) the canonical URL makes it one article. A changed title or
summary updates the article in place and keeps the old text as a revision; an item that drops out
of a feed and comes back is not new. The caller runs this inside the transaction that also saves
the feed's validators, so a crash can never keep an ETag without its articles.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

import sqlite_utils

from monitor.models import Outlet, ParsedEntry


@dataclass
class StoreResult:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


def entry_identities(entries: tuple[ParsedEntry, ...]) -> tuple[list[str], list[str]]:
    """The identity key of each entry within its feed, and warnings about degraded identity."""
    warnings: list[str] = []
    guid_counts = Counter(e.guid for e in entries if e.guid)
    duplicated = {g for g, n in guid_counts.items() if n > 1}
    if duplicated:
        warnings.append(f"duplicate guids ({len(duplicated)}), falling back to link for those items")
    keys: list[str] = []
    seen: set[str] = set()
    for e in entries:
        if e.guid and e.guid not in duplicated:
            key = "guid:" + e.guid
        elif e.url:
            key = "url:" + e.url
        else:
            digest = hashlib.sha256(f"{e.title}\x1f{e.published or ''}".encode()).hexdigest()[:32]
            key = "hash:" + digest
        # Two entries with the same identity in one fetch: keep the first (the feed repeats itself).
        if key in seen:
            key = ""
        else:
            seen.add(key)
        keys.append(key)
    return keys, warnings


def _known(
    db: sqlite_utils.Database, feed_id: int, outlet_id: str, entries: tuple[ParsedEntry, ...]
) -> tuple[dict[str, int], dict[str, int]]:
    """What the database already knows about this fetch's entries, in two queries:
    this feed's identities -> article, and this outlet's canonical URLs -> article."""
    by_identity = {
        str(identity): int(article)
        for identity, article in db.execute("SELECT identity, article FROM article_feeds WHERE feed = ?", [feed_id])
    }
    urls = sorted({e.url for e in entries if e.url})
    by_url: dict[str, int] = {}
    for i in range(0, len(urls), 500):
        part = urls[i : i + 500]
        marks = ",".join("?" for _ in part)
        by_url.update(
            (str(url), int(article))
            for url, article in db.execute(
                f"SELECT url, id FROM articles WHERE outlet = ? AND url IN ({marks})", [outlet_id, *part]
            )
        )
    return by_identity, by_url


def store_entries(
    db: sqlite_utils.Database,
    feed_id: int,
    outlet: Outlet,
    entries: tuple[ParsedEntry, ...],
    now_iso: str,
) -> StoreResult:
    """Insert new articles and update changed ones. Must run inside a write transaction."""
    result = StoreResult()
    keys, warnings = entry_identities(entries)
    result.warnings.extend(warnings)
    by_identity, by_url = _known(db, feed_id, outlet.id, entries)
    for entry, identity in zip(entries, keys, strict=True):
        if not identity:
            continue
        article_id = by_identity.get(identity)
        listed = article_id is not None
        if article_id is None and entry.url:
            article_id = by_url.get(entry.url)
        if article_id is None:
            article_id = _insert(db, feed_id, outlet, entry, now_iso)
            if entry.url:
                by_url[entry.url] = article_id
            result.new += 1
            db.execute(
                "INSERT INTO article_feeds (article, feed, guid, identity, first_seen) VALUES (?,?,?,?,?)",
                [article_id, feed_id, entry.guid, identity, now_iso],
            )
            continue
        _update_if_changed(db, article_id, entry, now_iso, result)
        if not listed:
            _link_feed(db, article_id, feed_id, identity, entry.guid, now_iso)
    return result


def _insert(db: sqlite_utils.Database, feed_id: int, outlet: Outlet, entry: ParsedEntry, now_iso: str) -> int:
    """A new article; a missing or absurd feed date falls back to first-seen (date_source "fetched")."""
    cur = db.execute(
        "INSERT INTO articles (outlet, feed, country, language, outlet_language, url, link, guid, title, "
        "summary, content_html, content_text, authors, tags, published, date_source, date_flag, "
        "first_seen, content_hash, warnings) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            outlet.id,
            feed_id,
            outlet.country,
            outlet.language,
            outlet.language,
            entry.url,
            entry.link,
            entry.guid,
            entry.title,
            entry.summary,
            entry.content_html,
            entry.content_text,
            json.dumps(list(entry.authors), ensure_ascii=False),
            json.dumps(list(entry.tags), ensure_ascii=False),
            entry.published or now_iso,
            "feed" if entry.published else "fetched",
            entry.date_flag,
            now_iso,
            entry.content_hash,
            json.dumps(list(entry.warnings), ensure_ascii=False) if entry.warnings else None,
        ],
    )
    return int(cur.lastrowid or 0)


def _update_if_changed(
    db: sqlite_utils.Database, article_id: int, entry: ParsedEntry, now_iso: str, result: StoreResult
) -> None:
    """Update a changed article in place (keeping the old text as a revision); the language stage
    re-detects it, and translation/analysis notice the new content hash."""
    row = db.execute(
        "SELECT title, summary, content_hash, guid FROM articles WHERE id = ?", [article_id]
    ).fetchone()
    old_title, old_summary, old_hash, old_guid = row
    if old_hash == entry.content_hash:
        if entry.guid and entry.guid != old_guid:
            db.execute("UPDATE articles SET guid = ? WHERE id = ?", [entry.guid, article_id])
        result.unchanged += 1
        return
    if old_title != entry.title or old_summary != entry.summary:
        db.execute(
            "INSERT INTO article_revisions (article, title, summary, content_hash, replaced_at) VALUES (?,?,?,?,?)",
            [article_id, old_title, old_summary, old_hash, now_iso],
        )
    db.execute(
        "UPDATE articles SET title = ?, summary = ?, content_html = ?, content_text = ?, content_hash = ?, "
        "guid = COALESCE(?, guid), updated_at = ?, detected_language = NULL, language_confidence = NULL "
        "WHERE id = ?",
        [
            entry.title,
            entry.summary,
            entry.content_html,
            entry.content_text,
            entry.content_hash,
            entry.guid,
            now_iso,
            article_id,
        ],
    )
    result.updated += 1


def _link_feed(
    db: sqlite_utils.Database, article_id: int, feed_id: int, identity: str, guid: str | None, now_iso: str
) -> None:
    """Record that `feed` lists `article` under `identity` (a changed guid scheme replaces the old key)."""
    existing = db.execute(
        "SELECT identity FROM article_feeds WHERE article = ? AND feed = ?", [article_id, feed_id]
    ).fetchone()
    if existing:
        db.execute(
            "UPDATE article_feeds SET identity = ?, guid = ? WHERE article = ? AND feed = ?",
            [identity, guid, article_id, feed_id],
        )
    else:
        db.execute(
            "INSERT OR IGNORE INTO article_feeds (article, feed, guid, identity, first_seen) VALUES (?,?,?,?,?)",
            [article_id, feed_id, guid, identity, now_iso],
        )
