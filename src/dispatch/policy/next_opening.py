"""When a campaign's sending window next opens for a zone, and how to say it — pure.

`dispatch status` says when a closed window opens again ("opens Mon 09:00"), and enqueue
can say when sending starts. Both ask the campaign's `SendPolicy` (window, holidays,
deadline), as the daemon does per message, so what is shown is what the daemon will do.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from dispatch.policy.holidays import HolidayCalendar
from dispatch.policy.sending import Action, SendPolicy
from dispatch.policy.windows import WEEKDAYS, WindowError

# Named here rather than with strftime("%a"): the machine's locale must not change them.
_DAY_NAMES: Final = tuple(day.capitalize() for day in WEEKDAYS)
_WEEKDAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                         "Sunday")
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                  "Nov", "Dec")
# Within this, a day name alone is unambiguous (the same name comes back after 7 days).
_SAME_WEEK: Final = dt.timedelta(days=6)


def next_opening(policy: SendPolicy, zone: str, now: dt.datetime) -> dt.datetime | None:
    """The first instant at or after `now` (timezone-aware) when the campaign may send to
    a recipient in `zone`, in that zone's local time: `now` itself while the window is
    open; None when it never opens again before the deadline (its messages expire), or
    not within a year (a window whose days are all holidays)."""
    if now.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {now.isoformat()}")
    try:
        decision = policy.decide_zone(zone, now.timestamp())
    except WindowError:
        return None
    local = ZoneInfo(zone)
    if decision.action is Action.SEND:
        return now.astimezone(local)
    if decision.action is Action.EXPIRE or decision.until_ts is None:
        return None
    return dt.datetime.fromtimestamp(decision.until_ts, local)


def closed_because(policy: SendPolicy, zone: str, now: dt.datetime) -> str:
    """Why the window is closed in `zone` at `now` (an operator wonders why nothing goes
    out on a Monday: 14 July): "Fête nationale", "no sending on Sundays", "outside its
    hours" or "no opening before its deadline"; "" when it is open."""
    local = now.astimezone(ZoneInfo(zone))
    opens = next_opening(policy, zone, now)
    if opens == local:
        return ""
    if opens is None:
        return "no opening before its deadline"
    holidays = policy.holidays
    if holidays is not None and holidays.is_holiday(zone, local.date()):
        name = holidays.name(zone, local.date()) if isinstance(holidays, HolidayCalendar) else None
        return name or "a public holiday"
    if not policy.window.by_weekday[local.weekday()]:
        return f"no sending on {_WEEKDAY_NAMES[local.weekday()]}s"
    return "outside its hours"


def describe_opening(opens: dt.datetime, now: dt.datetime) -> str:
    """`opens` as an operator reads it, in its own time zone: "Mon 09:00" within six days
    of `now`, else "Mon 21 Jul 09:00"."""
    day = _DAY_NAMES[opens.weekday()]
    if opens - now < _SAME_WEEK:
        return f"{day} {opens:%H:%M}"
    return f"{day} {opens.day} {_MONTHS[opens.month - 1]} {opens:%H:%M}"
