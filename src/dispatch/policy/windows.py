"""Sending windows in the recipient's local time — pure.

A window is, per day of the week, a few ranges of local wall-clock time ("mon-sat
09:00-20:00"). The rule, and its consequences at DST changes: a message may be sent at an
instant when the recipient's clock reads a time inside a range of an open day (a day of the
window that is not a holiday there). Hence:
- spring forward, a range starting in the skipped hour (02:30 when clocks jump from 02:00
  to 03:00) opens at the first instant after the jump (03:00 local);
- fall back, a wall time that happens twice is inside the window both times: a range
  starting at 02:30 opens at the first 02:30; a range ending at 02:30 closes at the first
  02:30 and opens again when the clock goes back to 02:00, until the second 02:30.
Day ranges are [start, end): "09:00-20:00" includes 09:00 and excludes 20:00; "24:00" ends
a range at midnight. No range crosses midnight: write "20:00-24:00" and "00:00-08:00".

How: for a zone and a local date, the instants when the window is open are computed exactly
in UTC, by cutting the day into stretches of constant UTC offset (the offset changes found
by bisection, to the second), and cached per (window, zone, date). `is_open`/`next_open`
then compare floats; `next_open_ts`/`open_interval` are the float forms for hot paths.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from typing import Final, Protocol
from zoneinfo import ZoneInfo

Range = tuple[int, int]  # seconds since local midnight, [start, end), end <= 86400
Interval = tuple[float, float]  # POSIX seconds, [start, end)

DAY: Final = 86400
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES: Final[dict[str, int]] = {
    **{name: i for i, name in enumerate(WEEKDAYS)},
    **{name: i for i, name in enumerate(("lun", "mar", "mer", "jeu", "ven", "sam", "dim"))},
}
_EVERY_DAY: Final = ("daily", "all")
_AROUND_SEPARATORS: Final = re.compile(r"\s*([-,;])\s*")
_TIME: Final = re.compile(r"(\d{1,2})(?:[:hH](\d{2})?)?")
# No UTC offset is beyond +/-16 h, so the instants whose wall time falls on a date lie
# within this margin of that date's midnight read as if it were UTC.
_MARGIN: Final = 16 * 3600
# next_open gives up after this many days (a window whose only days are all holidays).
MAX_DAYS_AHEAD: Final = 400
_EPOCH: Final = dt.datetime(1970, 1, 1)
_EPOCH_ORDINAL: Final = _EPOCH.toordinal()


class WindowError(ValueError):
    """A malformed window, or one that never opens; the message says what and where."""


class Holidays(Protocol):
    def is_holiday(self, zone: str, day: dt.date) -> bool: ...


@dataclasses.dataclass(frozen=True)
class SendingWindow:
    """Ranges of local time per weekday, Monday first; build it with `parse_window`."""

    by_weekday: tuple[tuple[Range, ...], ...]

    def __post_init__(self) -> None:
        if len(self.by_weekday) != 7:
            raise WindowError(f"a window needs 7 days, got {len(self.by_weekday)}")
        if not any(self.by_weekday):
            raise WindowError("the window is never open: give at least one day and range")
        for day, ranges in zip(WEEKDAYS, self.by_weekday, strict=True):
            for start, end in ranges:
                if not 0 <= start < end <= DAY:
                    raise WindowError(f"{day}: range {_hhmm(start)}-{_hhmm(end)} is not "
                                      f"within a day or ends before it starts")

    def __str__(self) -> str:
        clauses: list[str] = []
        for first, last in _day_groups(self.by_weekday):
            days = WEEKDAYS[first] if first == last else f"{WEEKDAYS[first]}-{WEEKDAYS[last]}"
            times = ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in self.by_weekday[first])
            clauses.append(f"{days} {times}")
        return "; ".join(clauses)


def parse_window(spec: str) -> SendingWindow:
    """`"mon-fri 10:00-13:00,14:00-20:00; sat 10:00-12:00"` as a SendingWindow.

    Days: mon..sun (or lun..dim), lists "mon,wed", ranges "mon-fri" (may wrap: "sat-mon"),
    "daily". Times: 09:00, 9:00, 9h, 09h30; 24:00 as an end. Overlapping ranges merge.
    """
    by_day: list[list[Range]] = [[] for _ in WEEKDAYS]
    tidy = _AROUND_SEPARATORS.sub(r"\1", spec)
    clauses = [clause.strip() for clause in tidy.split(";") if clause.strip()]
    if not clauses:
        raise WindowError(f"empty sending window {spec!r}: expected e.g. 'mon-sat 09:00-20:00'")
    for clause in clauses:
        days_text, _, times_text = clause.partition(" ")
        if not times_text.strip():
            raise WindowError(f"sending window {spec!r}: {clause!r} needs days then times, "
                              f"e.g. 'mon-sat 09:00-20:00'")
        ranges = [_parse_range(spec, part) for part in times_text.strip().split(",")]
        for day in _parse_days(spec, days_text):
            by_day[day].extend(ranges)
    return SendingWindow(tuple(_merged(ranges) for ranges in by_day))


def intersect(first: SendingWindow, second: SendingWindow) -> SendingWindow:
    """The times open in both (a campaign's window narrowed to a recipient's consent slot);
    WindowError when they never meet."""
    return SendingWindow(tuple(_common(a, b) for a, b in zip(first.by_weekday,
                                                                second.by_weekday,
                                                                strict=True)))


def _common(first: tuple[Range, ...], second: tuple[Range, ...]) -> tuple[Range, ...]:
    return tuple((max(a_start, b_start), min(a_end, b_end))
                 for a_start, a_end in first for b_start, b_end in second
                 if max(a_start, b_start) < min(a_end, b_end))


def _parse_days(spec: str, text: str) -> list[int]:
    if text.lower() in _EVERY_DAY:
        return list(range(7))
    days: list[int] = []
    for item in text.lower().split(","):
        first, dash, last = item.partition("-")
        start = _day(spec, first)
        end = _day(spec, last) if dash else start
        days.extend((start + i) % 7 for i in range((end - start) % 7 + 1))
    return days


def _day(spec: str, name: str) -> int:
    if name not in _DAY_NAMES:
        raise WindowError(f"sending window {spec!r}: unknown day {name!r} "
                          f"(use {' '.join(WEEKDAYS)}, lun..dim, or daily)")
    return _DAY_NAMES[name]


def _parse_range(spec: str, text: str) -> Range:
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise WindowError(f"sending window {spec!r}: {text!r} is not a range like 09:00-20:00")
    start, end = _seconds(spec, start_text), _seconds(spec, end_text)
    if start >= DAY or start >= end:
        raise WindowError(f"sending window {spec!r}: range {text!r} ends before it starts "
                          f"(a range cannot cross midnight: split it at 24:00)")
    return start, end


def _seconds(spec: str, text: str) -> int:
    match = _TIME.fullmatch(text)
    hours, minutes = (int(match[1]), int(match[2] or 0)) if match else (99, 0)
    if hours * 60 + minutes > 24 * 60 or minutes >= 60:
        raise WindowError(f"sending window {spec!r}: {text!r} is not a time (HH:MM, up to 24:00)")
    return (hours * 60 + minutes) * 60


def _merged(ranges: list[Range]) -> tuple[Range, ...]:
    merged: list[Range] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}"


def _day_groups(by_weekday: tuple[tuple[Range, ...], ...]) -> list[tuple[int, int]]:
    """Runs of consecutive open weekdays with the same ranges, as (first, last)."""
    groups: list[tuple[int, int]] = []
    for day, ranges in enumerate(by_weekday):
        if groups and groups[-1][1] == day - 1 and by_weekday[day - 1] == ranges:
            groups[-1] = (groups[-1][0], day)
        elif ranges:
            groups.append((day, day))
    return groups


SMS_WINDOW: Final = parse_window("mon-sat 09:00-20:00")
VOICE_WINDOW: Final = parse_window("mon-fri 10:00-13:00,14:00-20:00")


def is_open(window: SendingWindow, zone: str, holidays: Holidays | None,
            at: dt.datetime) -> bool:
    """May a message to a recipient in `zone` be sent at `at` (timezone-aware)?"""
    return open_interval(window, zone, holidays, _timestamp(at)) is not None


def next_open(window: SendingWindow, zone: str, holidays: Holidays | None,
              at: dt.datetime) -> dt.datetime:
    """The first instant >= `at` when the window is open, in UTC (`at` itself when open)."""
    ts = _timestamp(at)
    opens = next_open_ts(window, zone, holidays, ts)
    return at.astimezone(dt.UTC) if opens == ts else dt.datetime.fromtimestamp(opens, dt.UTC)


def open_interval(window: SendingWindow, zone: str, holidays: Holidays | None,
                  ts: float) -> Interval | None:
    """The open interval containing POSIX time `ts`, or None when closed then."""
    day = dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).date()
    if not _open_day(window, zone, holidays, day):
        return None
    for start, end in _intervals(window, zone, day):
        if start <= ts < end:
            return start, end
    return None


def next_open_ts(window: SendingWindow, zone: str, holidays: Holidays | None,
                 ts: float) -> float:
    """`next_open` in POSIX seconds; raises WindowError if nothing opens within a year."""
    today = dt.datetime.fromtimestamp(ts, ZoneInfo(zone)).date()
    # From the day before: where clocks go back across midnight, yesterday comes again.
    for ahead in range(-1, MAX_DAYS_AHEAD):
        day = today + dt.timedelta(days=ahead)
        if _open_day(window, zone, holidays, day):
            for start, end in _intervals(window, zone, day):
                if end > ts:
                    return max(start, ts)
    raise WindowError(f"window {window} never opens in {zone} within {MAX_DAYS_AHEAD} days")


def wall_to_utc(wall: dt.datetime, zone: str) -> float:
    """The first instant (POSIX s) when the clock in `zone` reads `wall` (naive) or later."""
    target = (wall - _EPOCH).total_seconds()
    for start, end, offset in _offset_stretches(ZoneInfo(zone), int(target) - _MARGIN,
                                                int(target) + _MARGIN):
        instant = max(start, target - offset)
        if instant < end:
            return instant
    raise AssertionError("unreachable: the stretches cover every offset")


def _open_day(window: SendingWindow, zone: str, holidays: Holidays | None,
              day: dt.date) -> bool:
    if not window.by_weekday[day.weekday()]:
        return False
    return holidays is None or not holidays.is_holiday(zone, day)


@functools.lru_cache(maxsize=8192)
def _intervals(window: SendingWindow, zone: str, day: dt.date) -> tuple[Interval, ...]:
    """The instants of local date `day` when its ranges are open, in UTC, merged."""
    midnight = (day.toordinal() - _EPOCH_ORDINAL) * DAY  # the date's midnight as if UTC
    found: list[Interval] = []
    for start, end, offset in _offset_stretches(ZoneInfo(zone), midnight - _MARGIN,
                                                midnight + DAY + _MARGIN):
        for opens, closes in window.by_weekday[day.weekday()]:
            low, high = max(start, midnight + opens - offset), min(end, midnight + closes - offset)
            if low < high:
                found.append((low, high))
    return _merged_intervals(sorted(found))


def _merged_intervals(intervals: list[Interval]) -> tuple[Interval, ...]:
    merged: list[Interval] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)


def _offset_stretches(zone: ZoneInfo, start: int, end: int) -> list[tuple[int, int, int]]:
    """[start, end) cut where the UTC offset changes: (from, to, offset seconds) each."""
    stretches: list[tuple[int, int, int]] = []
    while start < end:
        offset = _offset(zone, start)
        change = end if _offset(zone, end - 1) == offset else _first_change(zone, start, end - 1)
        stretches.append((start, change, offset))
        start = change
    return stretches


def _first_change(zone: ZoneInfo, low: int, high: int) -> int:
    """The first second in (low, high] whose offset differs from low's (high's does)."""
    offset = _offset(zone, low)
    while high - low > 1:
        middle = (low + high) // 2
        if _offset(zone, middle) == offset:
            low = middle
        else:
            high = middle
    return high


def _offset(zone: ZoneInfo, ts: int) -> int:
    offset = dt.datetime.fromtimestamp(ts, zone).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    return int(offset.total_seconds())


def _timestamp(at: dt.datetime) -> float:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {at.isoformat()}")
    return at.timestamp()
