"""Digest timing with an injected clock: timezones, DST both ways, midnight, grace window."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.schedule import (
    ScheduleError,
    due_now,
    local_moment,
    missed,
    next_delivery,
    parse_clock,
    parse_timezone,
)

LONDON = ZoneInfo("Europe/London")
BAGHDAD = ZoneInfo("Asia/Baghdad")
NEW_YORK = ZoneInfo("America/New_York")
GRACE = timedelta(hours=6)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"), [("07:30", time(7, 30)), ("7:05", time(7, 5)), ("23.59", time(23, 59))]
)
def test_parse_clock(text: str, expected: time) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["25:99", "24:00", "7", "noon", "07:3", "", "<b>7:30</b>"])
def test_parse_clock_rejects(text: str) -> None:
    with pytest.raises(ScheduleError, match="HH:MM"):
        parse_clock(text)


def test_parse_timezone() -> None:
    assert parse_timezone("Asia/Baghdad") == BAGHDAD
    assert parse_timezone("utc") == ZoneInfo("UTC")
    assert parse_timezone("europe/london") == LONDON
    for bad in ["Mars/Olympus", "../../etc/passwd", "", "Europe/"]:
        with pytest.raises(ScheduleError, match="not a timezone"):
            parse_timezone(bad)


def test_london_0730_is_0730_local_on_both_sides_of_each_change() -> None:
    # Spring forward on 29 March 2026, fall back on 25 October 2026.
    for day in (date(2026, 3, 28), date(2026, 3, 29), date(2026, 10, 24), date(2026, 10, 25)):
        moment = local_moment(day, time(7, 30), LONDON)
        assert moment.astimezone(LONDON).time() == time(7, 30)
        assert moment.astimezone(LONDON).date() == day
    assert local_moment(date(2026, 3, 28), time(7, 30), LONDON) == utc(2026, 3, 28, 7, 30)
    assert local_moment(date(2026, 3, 29), time(7, 30), LONDON) == utc(2026, 3, 29, 6, 30)
    assert local_moment(date(2026, 10, 25), time(7, 30), LONDON) == utc(2026, 10, 25, 7, 30)


def test_time_in_the_spring_gap_fires_at_the_next_valid_time() -> None:
    # 01:30 does not exist in London on 29 March 2026: clocks go 01:00 GMT -> 02:00 BST.
    moment = local_moment(date(2026, 3, 29), time(1, 30), LONDON)
    assert moment == utc(2026, 3, 29, 1, 0)
    assert moment.astimezone(LONDON).time() == time(2, 0)
    # 02:30 does not exist in New York on 8 March 2026.
    assert local_moment(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 0)


def test_repeated_autumn_time_fires_once_at_the_first() -> None:
    moment = local_moment(date(2026, 10, 25), time(1, 30), LONDON)
    assert moment == utc(2026, 10, 25, 0, 30)
    following = next_delivery(time(1, 30), LONDON, moment)
    assert following.day == date(2026, 10, 26)


def test_next_delivery_in_another_timezone() -> None:
    now = utc(2026, 11, 28, 4, 0)  # 07:00 in Baghdad (UTC+3)
    due = next_delivery(time(7, 30), BAGHDAD, now)
    assert due.at == utc(2026, 11, 28, 4, 30)
    assert due.day == date(2026, 11, 28)
    # Right at the moment, the next one is tomorrow.
    assert next_delivery(time(7, 30), BAGHDAD, due.at).day == date(2026, 11, 29)


def test_next_delivery_crosses_midnight_in_local_time() -> None:
    # 22:30 UTC is already 01:30 tomorrow in Baghdad, so a 01:00 digest is tomorrow's 01:00.
    now = utc(2026, 11, 28, 22, 30)
    due = next_delivery(time(1, 0), BAGHDAD, now)
    assert due.day == date(2026, 11, 30)
    assert due.at == utc(2026, 11, 29, 22, 0)


def test_due_within_grace_and_not_after() -> None:
    at = time(7, 30)
    assert due_now(at, LONDON, utc(2026, 11, 28, 7, 29), GRACE) is None
    assert due_now(at, LONDON, utc(2026, 11, 28, 7, 30), GRACE) is not None
    late = due_now(at, LONDON, utc(2026, 11, 28, 13, 30), GRACE)
    assert late is not None and late.day == date(2026, 11, 28)
    assert due_now(at, LONDON, utc(2026, 11, 28, 13, 31), GRACE) is None
    gone = missed(at, LONDON, utc(2026, 11, 28, 13, 31), GRACE)
    assert gone is not None and gone.day == date(2026, 11, 28)


def test_due_yesterday_across_midnight() -> None:
    # A 23:50 digest missed while the bot was down, which comes back at 00:20.
    due = due_now(time(23, 50), LONDON, utc(2026, 11, 29, 0, 20), GRACE)
    assert due is not None
    assert due.day == date(2026, 11, 28)
