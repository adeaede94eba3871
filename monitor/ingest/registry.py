"""Load and validate the outlet registry (feeds/outlets.toml) and mirror it into the database."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from monitor.errors import RegistryError
from monitor.ingest import urls
from monitor.models import FeedSpec, Outlet, Registry
from monitor.store.db import write_transaction

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_LANG = re.compile(r"^[a-z]{2}$")
_OUTLET_KEYS = {"id", "name", "country", "language", "homepage", "timezone", "feeds"}
_FEED_KEYS = {"url", "section"}
DEFAULT_TIMEZONES = {"MX": "America/Mexico_City", "US": "America/New_York"}


def _fail(path: Path, where: str, message: str) -> RegistryError:
    return RegistryError(f"{path}: {where}: {message}")


def _str(path: Path, where: str, data: dict[str, Any], key: str, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise _fail(path, where, f"field '{key}' must be a string, got {type(value).__name__}")
    if required and not value.strip():
        raise _fail(path, where, f"field '{key}' is required")
    return value.strip()


def _url(path: Path, where: str, data: dict[str, Any], key: str, required: bool = True) -> str:
    """An http(s) URL field: no other scheme (javascript:, data:, file:), no spaces or control characters."""
    value = _str(path, where, data, key, required)
    if not value:
        return value
    shown = urls.redact(value)
    bad = next((c for c in value if unicodedata.category(c)[0] in "CZ"), None)
    if bad is not None:
        what = "a space" if bad == " " else f"the character U+{ord(bad):04X}"
        raise _fail(path, where, f"field '{key}' contains {what}; percent-encode it (%20 for a space): {shown!r}")
    if urls.http_url(value) is None:
        raise _fail(path, where, f"field '{key}' must be an absolute http(s) URL, got {shown!r}")
    return value


def parse_registry(text: str, path: Path) -> Registry:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{path}: not valid TOML: {exc}") from None
    raw = data.get("outlets")
    if not isinstance(raw, list) or not raw:
        raise RegistryError(f"{path}: expected one or more [[outlets]] tables")
    outlets: list[Outlet] = []
    seen_ids: set[str] = set()
    seen_urls: dict[str, str] = {}
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise RegistryError(f"{path}: outlet #{i}: must be a table")
        oid = item.get("id")
        where = f"outlet {oid!r}" if isinstance(oid, str) and oid else f"outlet #{i}"
        unknown = set(item) - _OUTLET_KEYS
        if unknown:
            raise _fail(path, where, f"unknown field(s) {', '.join(sorted(unknown))}")
        oid = _str(path, where, item, "id")
        if not _SLUG.match(oid):
            raise _fail(path, where, "field 'id' must be a lowercase slug (a-z, 0-9, -)")
        if oid in seen_ids:
            raise _fail(path, where, "field 'id' is used by another outlet")
        seen_ids.add(oid)
        name = _str(path, where, item, "name")
        country = _str(path, where, item, "country")
        if not _COUNTRY.match(country):
            raise _fail(path, where, f"field 'country' must be an ISO 3166-1 alpha-2 code like 'MX', got {country!r}")
        language = _str(path, where, item, "language")
        if not _LANG.match(language):
            raise _fail(path, where, f"field 'language' must be an ISO 639-1 code like 'es', got {language!r}")
        homepage = _url(path, where, item, "homepage", required=False)
        tz = _str(path, where, item, "timezone", required=False)
        if tz:
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError):
                raise _fail(path, where, f"field 'timezone' is not a known IANA zone: {tz!r}") from None
        feeds_raw = item.get("feeds")
        if not isinstance(feeds_raw, list) or not feeds_raw:
            raise _fail(path, where, "field 'feeds' must list at least one { url = ..., section = ... }")
        feeds: list[FeedSpec] = []
        for j, f in enumerate(feeds_raw, 1):
            fwhere = f"{where} feed #{j}"
            if not isinstance(f, dict):
                raise _fail(path, fwhere, "must be an inline table { url = ..., section = ... }")
            unknown = set(f) - _FEED_KEYS
            if unknown:
                raise _fail(path, fwhere, f"unknown field(s) {', '.join(sorted(unknown))}")
            url = _url(path, fwhere, f, "url")
            if url in seen_urls:
                raise _fail(path, fwhere, f"field 'url' is already a feed of outlet {seen_urls[url]!r}")
            seen_urls[url] = oid
            feeds.append(FeedSpec(url=url, section=_str(path, fwhere, f, "section", required=False)))
        outlets.append(
            Outlet(
                id=oid,
                name=name,
                country=country,
                language=language,
                homepage=homepage,
                timezone=tz or DEFAULT_TIMEZONES.get(country, "UTC"),
                feeds=tuple(feeds),
            )
        )
    return Registry(outlets=tuple(outlets), source=str(path))


def load_registry(path: str | Path) -> Registry:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"{p}: registry file not found (set --feeds or MONITOR_FEEDS)") from None
    except UnicodeDecodeError as exc:
        raise RegistryError(f"{p}: not UTF-8 text: {exc}") from None
    return parse_registry(text, p)


def sync_registry(db: sqlite_utils.Database, registry: Registry) -> None:
    """Mirror the registry into `outlets` and `feeds`, keeping feed health.

    Feeds that left the registry are marked `removed` (never deleted: their articles stay);
    a feed that comes back becomes active again.
    """
    with write_transaction(db):
        for o in registry.outlets:
            db.execute(
                "INSERT INTO outlets (id, name, country, language, homepage, timezone) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET name=excluded.name, country=excluded.country, "
                "language=excluded.language, homepage=excluded.homepage, timezone=excluded.timezone",
                [o.id, o.name, o.country, o.language, o.homepage, o.timezone],
            )
            for f in o.feeds:
                db.execute(
                    "INSERT INTO feeds (outlet, url, section) VALUES (?, ?, ?) "
                    "ON CONFLICT(url) DO UPDATE SET outlet=excluded.outlet, section=excluded.section, "
                    "status=CASE WHEN feeds.status='removed' THEN 'active' ELSE feeds.status END",
                    [o.id, f.url, f.section],
                )
        feed_urls = [f.url for o in registry.outlets for f in o.feeds]
        marks = ",".join("?" for _ in feed_urls)
        db.execute(f"UPDATE feeds SET status='removed' WHERE status != 'removed' AND url NOT IN ({marks})", feed_urls)
