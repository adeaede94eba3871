"""Article rows for `monitor export`: one row per article with every stored field.

Scripts rely on these names, keep them stable: id, outlet, country, language, url, title, summary,
published (ISO-8601 UTC), first_seen; then the later stages' fields: translations
({lang: {title, summary, engine}}), relevant, relevance, top_frame, frames, actors, story.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from monitor.analysis.analyze import frames_json_sql

_JSON_COLUMNS = ("authors", "tags", "warnings")


@dataclass(frozen=True)
class ExportFilter:
    # instants in the stored form (store.iso: UTC ISO-8601), so that comparing strings compares
    # instants; `monitor export` converts --since/--until (any UTC offset) to it
    since: str | None = None  # inclusive (published)
    until: str | None = None  # exclusive
    country: str | None = None
    outlet: str | None = None


def _where(f: ExportFilter) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if f.since:
        clauses.append("a.published >= ?")
        params.append(f.since)
    if f.until:
        clauses.append("a.published < ?")
        params.append(f.until)
    if f.country:
        clauses.append("a.country = ?")
        params.append(f.country.upper())
    if f.outlet:
        clauses.append("a.outlet = ?")
        params.append(f.outlet)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def iter_articles(db: sqlite_utils.Database, f: ExportFilter, batch: int = 500) -> Iterator[dict[str, Any]]:
    """Every article matching the filter, oldest first, with its translations and analysis."""
    where, params = _where(f)
    last_id = 0
    while True:
        clause = (where + " AND" if where else " WHERE") + " a.id > ?"
        rows = list(
            db.query(f"SELECT a.* FROM articles a{clause} ORDER BY a.id LIMIT {batch}", [*params, last_id])
        )
        if not rows:
            return
        last_id = rows[-1]["id"]
        ids = [r["id"] for r in rows]
        marks = ",".join("?" for _ in ids)
        translations: dict[int, dict[str, Any]] = {}
        for t in db.query(
            f"SELECT article, language, title, summary, engine, rough FROM article_translations "
            f"WHERE article IN ({marks})",
            ids,
        ):
            translations.setdefault(t["article"], {})[t["language"]] = {
                "title": t["title"],
                "summary": t["summary"],
                "engine": t["engine"],
                "rough": bool(t.get("rough")),
            }
        analyses = {
            a["article"]: a
            for a in db.query(
                f"SELECT article, relevant, relevance, top_frame, {frames_json_sql('an.article')} AS frames, actors"
                f" FROM analyses an WHERE article IN ({marks})",
                ids,
            )
        }
        stories = {
            s["article"]: s["story"]
            for s in db.query(f"SELECT article, story FROM story_articles WHERE article IN ({marks})", ids)
        }
        for r in rows:
            for col in _JSON_COLUMNS:
                if r.get(col):
                    r[col] = json.loads(r[col])
            r["translations"] = translations.get(r["id"], {})
            an = analyses.get(r["id"])
            r["relevant"] = bool(an["relevant"]) if an else None
            r["relevance"] = an["relevance"] if an else None
            r["top_frame"] = an["top_frame"] if an else None
            r["frames"] = json.loads(an["frames"]) if an and an["frames"] else []
            r["actors"] = json.loads(an["actors"]) if an and an["actors"] else []
            r["story"] = stories.get(r["id"])
            yield r
