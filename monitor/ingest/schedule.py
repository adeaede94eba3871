"""When to poll a feed next: pure functions implementing the polling policy.

Policy (reference §2.14): next check = now + clamp(max(interval, RSS <ttl>, Cache-Control max-age
(unless no-cache/no-store), Expires - now, Retry-After), floor, 24 h), ±jitter. Errors back off
exponentially (interval × 2^failures, capped at 24 h). Validators are ignored when `Expires: 0`.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from monitor.config.settings import PollSettings

MAX_RETRY_AFTER = timedelta(days=3650)  # beyond this a Retry-After value is nonsense
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.I)


@dataclass(frozen=True)
class CacheHints:
    """What a response says about when to come back."""

    ttl_min: int | None = None  # RSS <ttl>
    max_age_s: int | None = None
    no_cache: bool = False
    expires: datetime | None = None
    expires_zero: bool = False  # `Expires: 0` or an unparseable/past Expires: don't trust validators


def http_date(value: str | None) -> datetime | None:
    """An HTTP-date as an aware datetime (a zoneless one is UTC), or None when it is not one."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def cache_hints(headers: dict[str, str], ttl_min: int | None, now: datetime) -> CacheHints:
    cc = headers.get("cache-control", "")
    m = _MAX_AGE.search(cc)
    no_cache = bool(re.search(r"\bno-(cache|store)\b", cc, re.I))
    raw_expires = headers.get("expires")
    expires = http_date(raw_expires)
    expires_zero = raw_expires is not None and (raw_expires.strip() in ("0", "-1") or expires is None)
    return CacheHints(
        ttl_min=ttl_min if ttl_min and ttl_min > 0 else None,
        max_age_s=int(m.group(1)) if m else None,
        no_cache=no_cache,
        expires=expires,
        expires_zero=expires_zero,
    )


def retry_after_until(value: str | None, now: datetime) -> datetime | None:
    """When a `Retry-After` value (delay in seconds or an HTTP-date) lets us come back.

    Garbage, negative delays and missing values give None; an absurd delay is capped (a server's
    forty-digit value must not overflow the poll); a naive `now` is taken as UTC.
    """
    if value is None:
        return None
    v = value.strip()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if v.isascii() and v.isdigit():
        return now + min(timedelta(seconds=int(v[:12])), MAX_RETRY_AFTER)
    return http_date(v)


def _jitter(delay: timedelta, fraction: float, rng: random.Random | None) -> timedelta:
    if fraction <= 0:
        return delay
    r = (rng or random).uniform(-fraction, fraction)
    return delay * (1 + r)


def clamp(delay: timedelta, settings: PollSettings) -> timedelta:
    floor = timedelta(minutes=settings.floor_min)
    ceiling = timedelta(hours=settings.max_interval_h)
    return max(floor, min(delay, ceiling))


def next_check_ok(
    now: datetime,
    settings: PollSettings,
    hints: CacheHints | None = None,
    retry_after: datetime | None = None,
    interval_min: int | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Next check after a successful (200/304) poll."""
    interval = timedelta(minutes=interval_min or settings.interval_min)
    candidates = [interval]
    if hints:
        if hints.ttl_min:
            candidates.append(timedelta(minutes=hints.ttl_min))
        if hints.max_age_s is not None and not hints.no_cache:
            candidates.append(timedelta(seconds=hints.max_age_s))
        if hints.expires and not hints.no_cache and not hints.expires_zero:
            candidates.append(hints.expires - now)
    if retry_after:
        candidates.append(retry_after - now)
    delay = clamp(max(candidates), settings)
    return now + clamp(_jitter(delay, settings.jitter, rng), settings)


def next_check_error(
    now: datetime,
    settings: PollSettings,
    failures: int,
    retry_after: datetime | None = None,
    interval_min: int | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """Next check after the `failures`-th consecutive failure: interval × 2^failures, capped."""
    interval = timedelta(minutes=interval_min or settings.interval_min)
    delay = interval * (2 ** max(0, min(failures, 16)))
    if retry_after:
        delay = max(delay, retry_after - now)
    delay = clamp(delay, settings)
    return now + clamp(_jitter(delay, settings.jitter, rng), settings)


def host_retry_until(now: datetime, settings: PollSettings, retry_after: datetime | None) -> datetime:
    """How long a whole host is left alone after 429/503: Retry-After (capped at 24 h) or the interval."""
    ceiling = now + timedelta(hours=settings.max_interval_h)
    if retry_after is None or retry_after <= now:
        return now + timedelta(minutes=settings.interval_min)
    return min(retry_after, ceiling)
