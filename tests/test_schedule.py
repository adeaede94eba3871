"""The polling policy as pure functions (reference §2.14)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from monitor.config.settings import PollSettings
from monitor.ingest import schedule

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
P = PollSettings(jitter=0.0)


def minutes(dt: datetime) -> float:
    return (dt - NOW).total_seconds() / 60


def hints(headers: dict[str, str], ttl: int | None = None) -> schedule.CacheHints:
    return schedule.cache_hints(headers, ttl, NOW)


def test_max_age_extends_the_interval() -> None:
    assert minutes(schedule.next_check_ok(NOW, P, hints({"cache-control": "public, max-age=7200"}))) == 120


def test_no_cache_ignores_max_age() -> None:
    h = hints({"cache-control": "no-cache, max-age=7200"})
    assert minutes(schedule.next_check_ok(NOW, P, h)) == 30


def test_rss_ttl_and_expires() -> None:
    assert minutes(schedule.next_check_ok(NOW, P, hints({}, ttl=90))) == 90
    expires = (NOW + timedelta(hours=3)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert minutes(schedule.next_check_ok(NOW, P, hints({"expires": expires}))) == 180


def test_ceiling_is_24_hours_and_floor_15_minutes() -> None:
    assert minutes(schedule.next_check_ok(NOW, P, hints({"cache-control": "max-age=9999999"}))) == 24 * 60
    assert minutes(schedule.next_check_ok(NOW, P, interval_min=1)) == 15


def test_expires_zero_means_validators_are_not_trusted() -> None:
    assert hints({"expires": "0"}).expires_zero
    assert not hints({"expires": "Sun, 22 Nov 2026 15:00:00 GMT"}).expires_zero


def test_retry_after_seconds_date_and_garbage() -> None:
    assert schedule.retry_after_until("120", NOW) == NOW + timedelta(seconds=120)
    assert schedule.retry_after_until("Sun, 22 Nov 2026 13:00:00 GMT", NOW) == NOW + timedelta(hours=1)
    assert schedule.retry_after_until("soon", NOW) is None
    assert schedule.retry_after_until(None, NOW) is None
    for garbage in ("", "-5", "1.5", "\u00b2\u00b3", "Mon, 99 Foo 2025"):
        assert schedule.retry_after_until(garbage, NOW) is None, garbage
    # a server's absurd delay is capped, never an OverflowError out of the poll
    huge = schedule.retry_after_until("9" * 40, NOW)
    assert huge is not None and NOW + timedelta(days=365) < huge <= NOW + schedule.MAX_RETRY_AFTER
    assert schedule.retry_after_until("60", NOW.replace(tzinfo=None)) == NOW + timedelta(minutes=1)


def test_retry_after_short_is_floored_long_is_capped() -> None:
    short = schedule.retry_after_until("120", NOW)
    assert minutes(schedule.next_check_ok(NOW, P, retry_after=short)) == 30
    week = schedule.retry_after_until(str(86400 * 7), NOW)
    assert minutes(schedule.next_check_error(NOW, P, 1, retry_after=week)) == 24 * 60
    assert schedule.host_retry_until(NOW, P, week) == NOW + timedelta(hours=24)
    past = schedule.retry_after_until("Sun, 22 Nov 2026 10:00:00 GMT", NOW)
    assert schedule.host_retry_until(NOW, P, past) == NOW + timedelta(minutes=30)


def test_exponential_backoff_then_reset() -> None:
    assert [minutes(schedule.next_check_error(NOW, P, n)) for n in (1, 2, 3)] == [60, 120, 240]
    assert minutes(schedule.next_check_error(NOW, P, 12)) == 24 * 60
    assert minutes(schedule.next_check_ok(NOW, P)) == 30


def test_jitter_stays_within_ten_percent() -> None:
    jittered = PollSettings(jitter=0.1)
    rng = random.Random(7)
    values = {minutes(schedule.next_check_ok(NOW, jittered, rng=rng)) for _ in range(200)}
    assert min(values) >= 27 and max(values) <= 33 and len(values) > 50
