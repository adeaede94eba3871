"""Feed dates -> UTC ISO-8601, with Spanish names, the outlet's zone for naive times, and flags.

feedparser's own date handlers know only English names and read a naive time as UTC, which puts a
Mexico City outlet's "2025-03-03 10:00:00" six hours off. So the raw date string is parsed here:

- RFC 822 and its everyday variants, in English or Spanish ("Mon, 03 Mar 2025 10:00:00 CST",
  "mié, 05 ene 2025 10:00:00 -0600", "Wed, 05 Ene 2025 ...", "3 de marzo de 2025 10:00",
  "March 3, 2025 10:00 AM");
- ISO 8601 / W3DTF ("2025-03-03T10:00:00Z", "2025-03-03 10:00:00");
- anything else falls back to what feedparser parsed (its handlers cover asctime, Greek, Korean ...).

A time without a zone is read in the outlet's IANA zone. `normalise_date()` never raises: it returns
(published, flag) with flag None, "missing", "unparseable" (also year <= 0, 31 Feb, hour 25) or
"future" (more than a day ahead of `now`), and published None whenever there is a flag.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as fixed_offset
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.store.db import iso

FUTURE_TOLERANCE = timedelta(days=1)

# fmt: off
MONTHS: dict[str, int] = {
    # English
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9,
    "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
    # Spanish (accents are stripped before lookup)
    "ene": 1, "enero": 1, "febrero": 2, "marzo": 3, "abr": 4, "abril": 4, "mayo": 5, "junio": 6,
    "julio": 7, "ago": 8, "agosto": 8, "septiembre": 9, "set": 9, "setiembre": 9, "octubre": 10,
    "noviembre": 11, "dic": 12, "diciembre": 12,
}
# fmt: on

# Zone abbreviations seen in US and Mexican feeds, in minutes east of UTC. Mexico's "CST" is the
# same -06:00 as the US one; unknown abbreviations are treated as no zone (the outlet's zone).
# fmt: off
ZONES: dict[str, int] = {
    "z": 0, "ut": 0, "utc": 0, "gmt": 0,
    "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
    "pst": -480, "pdt": -420, "akst": -540, "akdt": -480, "hst": -600,
    "ast": -240, "adt": -180, "cet": 60, "cest": 120, "bst": 60, "wet": 0, "west": 60,
}
# fmt: on

_ACCENTS = str.maketrans("áéíóúüÁÉÍÓÚÜ", "aeiouuAEIOUU")

_TIME = (
    r"(?:\s*,?\s*(?:a\s+las\s+|at\s+|t)?(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,]\d+)?)?"
    r"\s*(?P<ampm>[ap]\.?\s?m\b\.?)?(?:\s*(?:hrs?|h)\b\.?)?)?"
)
_ZONE = r"\s*(?P<tz>[+-]\d{2}:?\d{2}|[+-]\d{2}\b|[a-z]{1,5}(?:\s*[+-]\d{1,2}(?::?\d{2})?)?)?\s*$"
_DOW = r"(?:(?P<dow>[^\W\d_]+)\.?\s*,?\s+)?"
# "Mon, 03 Mar 2025 10:00:00 +0000", "3 de marzo de 2025 10:00", "05-ene-2025 10:00"
_DAY_FIRST = re.compile(
    r"^\s*" + _DOW + r"(?P<day>\d{1,2})(?:\s+de)?[\s\-/.]+(?P<mon>[^\W\d_]+)\.?(?:\s+del?)?[\s\-/.,]+"
    r"(?P<year>\d{2,4})" + _TIME + _ZONE,
    re.IGNORECASE,
)
# "March 3, 2025 10:00 AM EST", "Mon, Mar 3 2025 10:00:00 GMT"
_MONTH_FIRST = re.compile(
    r"^\s*"
    + _DOW
    + r"(?P<mon>[^\W\d_]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})"
    + _TIME
    + _ZONE,
    re.IGNORECASE,
)
_ISO_START = re.compile(r"^\s*[+-]?\d{4}-\d{2}")
_ISO_SPACE_ZONE = re.compile(r"\s+(?=(?:[+-]\d{2}(?::?\d{2})?|Z)$)")
_ISO_SHORT_ZONE = re.compile(r"([+-]\d{2})$")


@lru_cache(maxsize=64)
def zone(name: str) -> tzinfo:
    """The IANA zone `name`, or UTC when it is empty or unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _zone_offset(text: str | None, local: tzinfo) -> tzinfo | None:
    """The tzinfo for a zone token; `local` when absent or unknown; None when impossible (+2500)."""
    if not text:
        return local
    token = text.strip().lower()
    match = re.match(r"^([a-z]*)\s*(?:([+-])(\d{1,2}):?(\d{2})?)?$", token)
    if not match:
        return local
    name, sign, hours, minutes = match.groups()
    if name and name not in ZONES:
        return local
    offset = ZONES.get(name, 0) if name else 0
    if sign:
        if int(hours) > 23 or int(minutes or 0) > 59:
            return None
        delta = int(hours) * 60 + int(minutes or 0)
        offset += delta if sign == "+" else -delta
    if abs(offset) >= 24 * 60:
        return None
    return UTC if offset == 0 else _fixed(offset)


@lru_cache(maxsize=128)
def _fixed(minutes: int) -> tzinfo:
    return fixed_offset(timedelta(minutes=minutes))


def _from_match(match: re.Match[str], local: tzinfo) -> datetime | None:
    month = MONTHS.get(match["mon"].lower().translate(_ACCENTS))
    if month is None:
        return None
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 2000 if year < 70 else 1900
    hour = int(match["h"] or 0)
    minute = int(match["mi"] or 0)
    second = int(match["s"] or 0)
    ampm = (match["ampm"] or "").lower().replace(".", "").replace(" ", "")
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    tz = _zone_offset(match["tz"], local)
    if tz is None:
        return None
    return datetime(year, month, int(match["day"]), hour, minute, second, tzinfo=tz)


def _parse_iso(text: str, local: tzinfo) -> datetime | None:
    text = _ISO_SPACE_ZONE.sub("", text.strip())
    text = _ISO_SHORT_ZONE.sub(r"\g<1>:00", text) if re.search(r"T?\d{2}:\d{2}.*[+-]\d{2}$", text) else text
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=local)


def parse_datetime(raw: str | None, timezone: str = "") -> datetime | None:
    """An aware UTC datetime for a feed date string, or None when it cannot be read. Never raises.

    A time without a zone is read in `timezone` (IANA name; empty means UTC).
    """
    if not raw:
        return None
    text = raw.strip()
    if not text or len(text) > 100:
        return None
    local = zone(timezone)
    try:
        if _ISO_START.match(text):
            dt = _parse_iso(text, local)
        else:
            match = _DAY_FIRST.match(text) or _MONTH_FIRST.match(text)
            dt = _from_match(match, local) if match else None
        return dt.astimezone(UTC) if dt else None
    except (ValueError, OverflowError, TypeError):
        return None


def _from_struct(parsed: time.struct_time | None) -> datetime | None:
    if not parsed or parsed.tm_year <= 0:
        return None
    try:
        return datetime(*parsed[:6], tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None


def normalise_date(
    raw: str | None,
    *,
    timezone: str,
    now: datetime,
    fallback: time.struct_time | None = None,
) -> tuple[str | None, str | None]:
    """(published, flag) for one entry: UTC ISO-8601 or None, and None/missing/unparseable/future.

    `fallback` is what feedparser parsed from the same string (used only when our parsers fail).
    """
    if not (raw and raw.strip()) and not fallback:
        return None, "missing"
    dt = parse_datetime(raw, timezone) or _from_struct(fallback)
    if dt is None:
        return None, "unparseable"
    reference = now if now.tzinfo else now.replace(tzinfo=UTC)
    if dt > reference + FUTURE_TOLERANCE:
        return None, "future"
    return iso(dt), None
