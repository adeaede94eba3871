"""Calendar days: the digest's "day" is a calendar day in a configured time zone
(`[digest] timezone`, default America/Mexico_City); stored times are UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.config.bounds import check_day
from monitor.errors import ConfigError, UsageError
from monitor.store.db import utcnow


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; an unknown one is a configuration error."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[digest] timezone {name!r} is not a known IANA time zone (e.g. America/Mexico_City)") from None


def parse_day(value: str | None, timezone: str, now: datetime | None = None) -> date:
    """`today`, `yesterday` (also `hoy`, `ayer`) or YYYY-MM-DD, as a calendar day in `timezone`; None is today.
    An empty string or a day outside `monitor.config.bounds` is a UsageError, never today or an overflow."""
    today = (now or utcnow()).astimezone(zone(timezone)).date()
    text = "today" if value is None else value.strip().lower()
    if text in ("today", "hoy"):
        return today
    if text in ("yesterday", "ayer"):
        return today - timedelta(days=1)
    try:
        return check_day(date.fromisoformat(text), f"--date {value!r}")
    except ValueError:
        raise UsageError(f"--date {value!r}: expected YYYY-MM-DD, 'today' or 'yesterday'") from None


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The [start, end) of a calendar day in `timezone`, as aware datetimes (convert with store.iso)."""
    tz = zone(timezone)
    return datetime.combine(day, time(0, 0), tzinfo=tz), datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=tz)


def day_range(timezone: str, day: str | None, days: int, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[start, end) covering `days` calendar days ending with `day` (as parse_day reads it at `now`)."""
    end_day = parse_day(day, timezone, now=now)
    start, _ = day_bounds(end_day - timedelta(days=days - 1), timezone)
    _, end = day_bounds(end_day, timezone)
    return start, end
