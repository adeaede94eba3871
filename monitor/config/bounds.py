"""The ranges user input must stay within, so that a typo is one clear error and never an overflow.

Python's `date` stops at 9999-12-31 and SQLite's INTEGER at 2**63 - 1: a day at either end of the
calendar overflows as soon as its bounds are computed in another time zone or the next day is
taken, and a huge id overflows the query. Every day, instant and id a user types goes through here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from monitor.errors import UsageError

MIN_DAY = date(1900, 1, 1)
MAX_DAY = date(9998, 12, 31)
MAX_ID = 2**63 - 1  # SQLite's largest INTEGER


def day_in_range(day: date) -> bool:
    return MIN_DAY <= day <= MAX_DAY


def day_range_text() -> str:
    return f"between {MIN_DAY.isoformat()} and {MAX_DAY.isoformat()}"


def check_day(day: date, what: str) -> date:
    """`day` unchanged, or a UsageError naming `what` (e.g. "--date '9999-12-31'") when out of range."""
    if not day_in_range(day):
        raise UsageError(f"{what} is out of range: use a day {day_range_text()}")
    return day


def instant_in_range(dt: datetime) -> bool:
    """Whether an aware datetime lies within the days above (as a UTC instant)."""
    try:
        return day_in_range(dt.astimezone(UTC).date())
    except OverflowError:
        return False


def id_in_range(value: int) -> bool:
    """Whether `value` can be an article or story id (a positive SQLite INTEGER)."""
    return 0 < value <= MAX_ID
