"""When a campaign's window next opens, why it is closed, and how it is said: fixed dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from dispatch.policy.deadline import parse_deadline
from dispatch.policy.next_opening import closed_because, describe_opening, next_opening
from dispatch.policy.sending import Schedule, SendPolicy, send_policy

PARIS = ZoneInfo("Europe/Paris")


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=PARIS)


def sms(window: str | None = None, deadline: str | None = None) -> SendPolicy:
    """The default SMS policy (mon-sat 09:00-20:00, French holidays off) unless told."""
    return send_policy(Schedule(window=window, deadline=deadline))


@pytest.mark.parametrize(("now", "opens", "why"), [
    # Sunday 6 July 2025, noon: the default SMS window has no Sunday.
    (paris(2025, 7, 6, 12), paris(2025, 7, 7, 9), "no sending on Sundays"),
    # A Tuesday evening: tomorrow morning.
    (paris(2025, 7, 8, 20, 30), paris(2025, 7, 9, 9), "outside its hours"),
    # Before opening on a weekday: today.
    (paris(2025, 7, 9, 7), paris(2025, 7, 9, 9), "outside its hours"),
    # Monday 14 July 2025, Fête nationale: Tuesday 09:00.
    (paris(2025, 7, 14, 10), paris(2025, 7, 15, 9), "Fête nationale"),
    # Saturday 12 July evening: Sunday, then the holiday Monday, then Tuesday.
    (paris(2025, 7, 12, 21), paris(2025, 7, 15, 9), "outside its hours"),
    # Thursday 1 May 2025: Friday 2 May.
    (paris(2025, 5, 1, 9, 30), paris(2025, 5, 2, 9), "Fête du travail"),
    # Christmas Day 2025 is a Thursday.
    (paris(2025, 12, 25, 15), paris(2025, 12, 26, 9), "Noël"),
])
def test_a_closed_window_opens_next_at_the_first_open_instant(
        now: dt.datetime, opens: dt.datetime, why: str) -> None:
    policy = sms()
    assert next_opening(policy, "Europe/Paris", now) == opens
    assert closed_because(policy, "Europe/Paris", now) == why


def test_an_open_window_opens_now_in_the_zones_local_time() -> None:
    now = dt.datetime(2025, 7, 9, 8, 0, tzinfo=dt.UTC)  # 10:00 in Paris
    opens = next_opening(sms(), "Europe/Paris", now)
    assert opens == now and opens is not None
    assert opens.tzinfo == PARIS and opens.hour == 10
    assert closed_because(sms(), "Europe/Paris", now) == ""


def test_the_answer_is_in_the_recipients_zone() -> None:
    # 12:00 in Paris on a Wednesday is 14:00 in Réunion: open in both.
    now = paris(2025, 7, 9, 12)
    assert next_opening(sms(), "Indian/Reunion", now) == now
    # 19:00 in Paris is 21:00 in Réunion: closed there until 09:00 Réunion time.
    evening = paris(2025, 7, 9, 19)
    opens = next_opening(sms(), "Indian/Reunion", evening)
    assert opens is not None and opens.tzinfo == ZoneInfo("Indian/Reunion")
    assert (opens.day, opens.hour, opens.minute) == (10, 9, 0)
    assert opens == paris(2025, 7, 10, 7)


def test_holidays_ignored_and_custom_windows() -> None:
    always = sms(window="always")
    assert next_opening(always, "Europe/Paris", paris(2025, 7, 14, 3)) == paris(2025, 7, 14, 3)
    weekend = sms(window="sat-sun 10:00-12:00")
    assert next_opening(weekend, "Europe/Paris", paris(2025, 7, 9, 12)) == paris(2025, 7, 12, 10)
    assert closed_because(weekend, "Europe/Paris", paris(2025, 7, 9, 12)) == \
        "no sending on Wednesdays"


def test_no_opening_before_the_deadline_is_none() -> None:
    # Saturday 20:30, deadline at midnight (election eve): the window never opens again.
    policy = sms(deadline="2025-07-13T00:00")
    now = paris(2025, 7, 12, 20, 30)
    assert next_opening(policy, "Europe/Paris", now) is None
    assert closed_because(policy, "Europe/Paris", now) == "no opening before its deadline"
    # Before the deadline with the window open: now.
    assert next_opening(policy, "Europe/Paris", paris(2025, 7, 12, 10)) == paris(2025, 7, 12, 10)
    # Past an instant deadline.
    past = SendPolicy(deadline=parse_deadline("2025-07-01T00:00:00+00:00"))
    assert next_opening(past, "Europe/Paris", paris(2025, 7, 9, 12)) is None


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        next_opening(sms(), "Europe/Paris", dt.datetime(2025, 7, 9, 12))


def test_spring_forward_opening_in_local_time() -> None:
    # 30 March 2025, clocks jump 02:00 -> 03:00; a 02:30 start opens at 03:00.
    policy = sms(window="daily 02:30-04:00")
    opens = next_opening(policy, "Europe/Paris", paris(2025, 3, 30, 1))
    assert opens is not None and (opens.hour, opens.minute) == (3, 0)


@pytest.mark.parametrize(("opens", "text"), [
    (paris(2025, 7, 7, 9), "Mon 09:00"),
    (paris(2025, 7, 6, 13), "Sun 13:00"),  # later the same day
    (paris(2025, 7, 12, 11, 59), "Sat 11:59"),  # under six days ahead
    (paris(2025, 7, 13, 9), "Sun 13 Jul 09:00"),  # a week ahead: the same day name
    (paris(2025, 8, 4, 9), "Mon 4 Aug 09:00"),
])
def test_describe_opening(opens: dt.datetime, text: str) -> None:
    assert describe_opening(opens, paris(2025, 7, 6, 12)) == text
