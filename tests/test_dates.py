"""dates.parse_datetime and dates.normalise_date."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from monitor.ingest.feed_dates import normalise_date, parse_datetime

MX = "America/Mexico_City"
NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("Mon, 03 Mar 2025 10:00:00 CST", "2025-03-03 16:00"),
        ("Mon, 03 Mar 2025 10:00:00 GMT", "2025-03-03 10:00"),
        ("lun, 03 mar 2025 10:00:00 -0600", "2025-03-03 16:00"),
        ("mié, 05 ene 2025 10:00:00 -0600", "2025-01-05 16:00"),
        ("mie, 05 ene 2025 10:00:00 -0600", "2025-01-05 16:00"),
        ("Wed, 05 Ene 2025 10:00:00 GMT", "2025-01-05 10:00"),
        ("jue, 6 feb 2025 09:15:00 +0000", "2025-02-06 09:15"),
        ("sáb, 01 feb 2025 07:27:11 +0000", "2025-02-01 07:27"),
        ("dom, 2 abr 2023 23:59:00 Z", "2023-04-02 23:59"),
        ("vie, 12 sept 2025 18:30:00 CST", "2025-09-13 00:30"),
        ("Fri, 12 Sep 2025 18:30:00 -05:00", "2025-09-12 23:30"),
        ("3 de marzo de 2025 10:00", "2025-03-03 16:00"),
        ("3 de marzo de 2025", "2025-03-03 06:00"),
        ("Miércoles 5 de enero del 2025 10:00 hrs", "2025-01-05 16:00"),
        ("domingo, 2 de febrero de 2025, 10:15 p.m.", "2025-02-03 04:15"),
        ("1 de agosto de 2024 12:00 a.m.", "2024-08-01 06:00"),
        ("2025-03-03 10:00:00", "2025-03-03 16:00"),
        ("2025-03-03T10:00:00Z", "2025-03-03 10:00"),
        ("2025-03-03T10:00:00-06:00", "2025-03-03 16:00"),
        ("2025-03-03T10:00:00.123+0000", "2025-03-03 10:00"),
        ("2025-03-03T10:00:00 -0600", "2025-03-03 16:00"),
        ("March 3, 2025 10:00 PM EST", "2025-03-04 03:00"),
        ("Sun, 17 Dec 23 00:58:40 -0500", "2023-12-17 05:58"),
    ],
)
def test_parse_datetime(raw: str, utc: str) -> None:
    dt = parse_datetime(raw, MX)
    assert dt is not None and dt.tzinfo is not None
    assert dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M") == utc


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "0000-00-00 00:00:00",
        "Tue, 31 Feb 2025 25:61:00 +2500",
        "Mon, 03 Foo 2025 10:00 GMT",
        "31 de febrero de 2025",
        "mañana",
        "13:00",
        "2025-13-01",
        "x" * 500,
        "Mon, 03 Mar 2025 13:00 PM GMT",
    ],
)
def test_unreadable_dates_are_none(raw: str) -> None:
    assert parse_datetime(raw, MX) is None


def test_naive_times_use_the_outlet_zone_and_its_dst() -> None:
    assert parse_datetime("2025-07-01 10:00:00", "America/New_York") == datetime(
        2025, 7, 1, 14, 0, tzinfo=UTC
    )
    assert parse_datetime("2025-01-01 10:00:00", "America/New_York") == datetime(
        2025, 1, 1, 15, 0, tzinfo=UTC
    )
    assert parse_datetime("2025-03-03 10:00:00", "") == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
    assert parse_datetime("2025-03-03 10:00:00", "Not/AZone") == datetime(2025, 3, 3, 10, 0, tzinfo=UTC)


def test_normalise_date_flags() -> None:
    assert normalise_date("Mon, 03 Mar 2025 10:00:00 CST", timezone=MX, now=NOW) == (
        "2025-03-03T16:00:00+00:00",
        None,
    )
    assert normalise_date(None, timezone=MX, now=NOW) == (None, "missing")
    assert normalise_date("  ", timezone=MX, now=NOW) == (None, "missing")
    assert normalise_date("0000-00-00 00:00:00", timezone=MX, now=NOW) == (None, "unparseable")
    assert normalise_date("Mon, 03 Mar 2099 10:00:00 GMT", timezone=MX, now=NOW) == (None, "future")
    # within a day ahead (clock skew, time zones) is accepted
    assert normalise_date("2025-06-02 06:00:00", timezone="UTC", now=NOW) == (
        "2025-06-02T06:00:00+00:00",
        None,
    )
    assert normalise_date("2025-06-02 13:00:00", timezone="UTC", now=NOW) == (None, "future")


def test_normalise_date_falls_back_to_feedparser_and_rejects_year_zero() -> None:
    asctime = time.struct_time((2025, 3, 3, 10, 0, 0, 0, 62, 0))
    assert normalise_date("Mon Mar  3 10:00:00 2025 (asctime)", timezone=MX, now=NOW, fallback=asctime) == (
        "2025-03-03T10:00:00+00:00",
        None,
    )
    year_minus_one = time.struct_time((-1, 11, 30, 0, 0, 0, 0, 334, 0))
    assert normalise_date("0000-00-00 00:00:00", timezone=MX, now=NOW, fallback=year_minus_one) == (
        None,
        "unparseable",
    )


def test_never_raises_on_garbage() -> None:
    for raw in [
        "\x00\x01",
        "9" * 60,
        "Mon, 99 Mar 2025",
        "2025-02-30T10:00:00Z",
        "+99999-01-01",
        "3 de marzo de 0",
    ]:
        published, flag = normalise_date(raw, timezone=MX, now=NOW)
        assert published is None and flag == "unparseable"
