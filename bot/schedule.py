"""When daily digests are due: local times in IANA timezones, DST, grace windows (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.errors import NewsbotError

_CLOCK = re.compile(r"^(\d{1,2})[:.h](\d{2})$")


class ScheduleError(NewsbotError):
    """A time of day or timezone a user typed is not valid.

    `kind` is "time" or "timezone" and `value` the (shortened) text, so an adapter can say
    it in the user's language.
    """

    def __init__(self, message: str, *, kind: str = "", value: str = "") -> None:
        super().__init__(message)
        self.kind, self.value = kind, value


def parse_clock(text: str) -> time:
    """'07:30' / '7:30' / '7.30' -> time(7, 30); anything else raises ScheduleError."""
    match = _CLOCK.match(text.strip())
    if match:
        hour, minute = int(match[1]), int(match[2])
        if hour < 24 and minute < 60:
            return time(hour, minute)
    raise ScheduleError(
        f"“{text[:20]}” is not a time of day: use HH:MM, e.g. 07:30", kind="time", value=text[:20]
    )


def parse_timezone(text: str) -> ZoneInfo:
    """An IANA timezone name ('Asia/Baghdad', 'UTC'), case-insensitive; else ScheduleError."""
    name = text.strip()
    if name.upper() in {"UTC", "GMT", "Z"}:
        return ZoneInfo("UTC")
    try:
        if "/" in name or name in available_timezones():
            return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    by_lower = {zone.lower(): zone for zone in available_timezones()}
    if name.lower() in by_lower:
        return ZoneInfo(by_lower[name.lower()])
    raise ScheduleError(
        f"“{text[:40]}” is not a timezone: use a name like Europe/London or Asia/Baghdad",
        kind="timezone",
        value=text[:40],
    )


def local_moment(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant (UTC) when the clock in `zone` shows `at` on `day`.

    A time that does not exist that day (clocks spring forward over it) becomes the next
    valid time, the moment the clocks change; a time that happens twice (clocks fall back)
    is the first of the two.
    """
    naive = datetime.combine(day, at)
    earlier = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if earlier.astimezone(zone).replace(tzinfo=None) == naive:
        return earlier
    # In a gap: read with the old offset it lands after the change, with the new one
    # before it; the change itself lies between the two. Bisect to the second.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = earlier
    before = low.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(zone).utcoffset() == before:
            low = mid
        else:
            high = mid
    return high.replace(microsecond=0)


@dataclass(frozen=True)
class Due:
    """A digest owed to a chat: for its local `day`, scheduled at `at` (UTC)."""

    day: date
    at: datetime


def next_delivery(at: time, zone: ZoneInfo, after: datetime) -> Due:
    """The first scheduled delivery strictly after `after` (an aware datetime)."""
    local_day = after.astimezone(zone).date()
    for offset in range(3):
        day = local_day + timedelta(days=offset)
        moment = local_moment(day, at, zone)
        if moment > after:
            return Due(day, moment)
    raise AssertionError("unreachable: a day always has the time within three days")


def due_now(at: time, zone: ZoneInfo, now: datetime, grace: timedelta) -> Due | None:
    """The delivery that should go out at `now`: scheduled at or before now, within grace.

    Looks at today and yesterday (local), so a 23:50 digest missed until 00:10 still goes.
    Whether it was already delivered is the store's business, not this function's.
    """
    local_day = now.astimezone(zone).date()
    for day in (local_day, local_day - timedelta(days=1)):
        moment = local_moment(day, at, zone)
        if moment <= now <= moment + grace:
            return Due(day, moment)
    return None


def missed(at: time, zone: ZoneInfo, now: datetime, grace: timedelta) -> Due | None:
    """The latest scheduled delivery at or before `now`, if it is already past the grace
    window; None while it may still go out (an earlier day is never looked at)."""
    local_day = now.astimezone(zone).date()
    for day in (local_day, local_day - timedelta(days=1)):
        moment = local_moment(day, at, zone)
        if moment <= now:
            return Due(day, moment) if moment + grace < now else None
    return None
