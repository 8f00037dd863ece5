"""Per message: send now, wait for the window, or expire — one campaign's policy, pure.

`SendPolicy.decide` combines the recipient's zone (from the number), the campaign's sending
window, the holidays there and the deadline there. It runs per message, so the answer is
cached per zone together with the span of time over which it holds (an open interval, or
the closed stretch until the next opening): a call is a zone look-up, a dict get and two
float comparisons, and recomputes only when `now` leaves the span.

A message expires at the deadline, and also as soon as its window cannot open before the
deadline (Saturday evening with an election-eve deadline at midnight): the outcome is the
same, and known earlier.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
from collections.abc import Callable, Sequence
from typing import Final

from dispatch.policy.deadline import NO_DEADLINE, Deadline, parse_deadline
from dispatch.policy.holidays import FRENCH_HOLIDAYS, HolidayCalendar
from dispatch.policy.timezones import zone_for_number
from dispatch.policy.windows import (
    SMS_WINDOW,
    VOICE_WINDOW,
    Holidays,
    SendingWindow,
    intersect,
    next_open_ts,
    open_interval,
    parse_window,
)

DEFAULT_WINDOWS: Final[dict[str, SendingWindow]] = {"sms": SMS_WINDOW, "voice": VOICE_WINDOW}


class Action(enum.StrEnum):
    SEND = "send"
    WAIT = "wait"
    EXPIRE = "expire"


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    until_ts: float | None = None  # WAIT only: when the window opens, POSIX seconds

    @property
    def until(self) -> dt.datetime | None:
        """WAIT only: when the window opens, in UTC."""
        return None if self.until_ts is None else dt.datetime.fromtimestamp(self.until_ts, dt.UTC)


SEND: Final = Decision(Action.SEND)
EXPIRE: Final = Decision(Action.EXPIRE)

# zone -> (valid from, valid until, decision): the decision holds for now in [from, until).
_Cached = tuple[float, float, Decision]


class SendPolicy:
    """One campaign's timing rules. Not thread-safe (Trio: one thread, no await inside)."""

    def __init__(self, window: SendingWindow = SMS_WINDOW,
                 holidays: Holidays | None = FRENCH_HOLIDAYS,
                 deadline: Deadline = NO_DEADLINE, *,
                 zone_for: Callable[[str], str] = zone_for_number) -> None:
        self.window = window
        self.holidays = holidays
        self.deadline = deadline
        self.zone_for = zone_for
        self._by_zone: dict[str, _Cached] = {}

    @classmethod
    def for_campaign(cls, *, channel: str = "sms", window: str | None = None,
                     deadline: str | Deadline | None = None, skip_holidays: bool = True,
                     alsace_moselle: bool = False) -> SendPolicy:
        """A policy from campaign settings: the channel's default window unless `window`
        (parse_window syntax) overrides it; `deadline` as parse_deadline reads it."""
        if channel not in DEFAULT_WINDOWS:
            raise ValueError(f"unknown channel {channel!r} (expected {', '.join(DEFAULT_WINDOWS)})")
        chosen = parse_window(window) if window is not None else DEFAULT_WINDOWS[channel]
        if isinstance(deadline, str):
            deadline = parse_deadline(deadline)
        holidays = HolidayCalendar(alsace_moselle=alsace_moselle) if skip_holidays else None
        return cls(chosen, holidays, deadline or NO_DEADLINE)

    def decide(self, number_e164: str, now: dt.datetime) -> Decision:
        """SEND, WAIT (until the window opens) or EXPIRE, for a message to `number_e164`."""
        if now.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got naive {now.isoformat()}")
        return self.decide_zone(self.zone_for(number_e164), now.timestamp())

    def decide_ts(self, number_e164: str, now_ts: float) -> Decision:
        """`decide` with `now` in POSIX seconds (time.time()), the hot-path form."""
        return self.decide_zone(self.zone_for(number_e164), now_ts)

    def decide_many(self, numbers_e164: Sequence[str], now_ts: float) -> list[Decision]:
        """`decide_ts` for a batch read at one instant."""
        zone_for, decide_zone = self.zone_for, self.decide_zone
        return [decide_zone(zone_for(number), now_ts) for number in numbers_e164]

    def decide_zone(self, zone: str, now_ts: float) -> Decision:
        """The decision for a recipient in `zone` (an IANA name) at POSIX time `now_ts`."""
        cached = self._by_zone.get(zone)
        if cached is not None and cached[0] <= now_ts < cached[1]:
            return cached[2]
        cached = self._compute(zone, now_ts)
        self._by_zone[zone] = cached
        return cached[2]

    def _compute(self, zone: str, now: float) -> _Cached:
        deadline = self.deadline.timestamp_for(zone)
        if now >= deadline:
            return now, math.inf, EXPIRE
        interval = open_interval(self.window, zone, self.holidays, now)
        if interval is not None:
            return now, min(interval[1], deadline), SEND
        opens = next_open_ts(self.window, zone, self.holidays, now)
        if opens >= deadline:
            return now, math.inf, EXPIRE
        return now, opens, Decision(Action.WAIT, opens)


# Meta `window` value for a campaign sent at any hour, holidays included (demos, tests).
ALWAYS = "always"
ALWAYS_WINDOW = "mon-sun 00:00-24:00"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """When a campaign may send, as its meta keeps it (store/campaign_meta.py)."""

    window: str | None = None  # parse_window syntax, "always" (any hour, holidays
    # included), or None: the channel's default window
    deadline: str | None = None  # parse_deadline syntax; None: no deadline
    channel: str = "sms"
    skip_holidays: bool = True  # no sending on public holidays


class SlotPolicies:
    """A campaign's policy narrowed to each recipient's consent slot (voice: a call only
    inside the slot the recipient consented to), built once per slot."""

    def __init__(self, base: SendPolicy) -> None:
        self.base = base
        self._by_slot: dict[str, SendPolicy] = {}

    def for_slot(self, slot: str) -> SendPolicy:
        """The policy for a recipient with `slot` ("" : the campaign's); WindowError when
        the slot cannot be read or never meets the campaign's window."""
        if not slot:
            return self.base
        policy = self._by_slot.get(slot)
        if policy is None:
            window = intersect(self.base.window, parse_window(slot))
            policy = self._by_slot[slot] = SendPolicy(window, self.base.holidays,
                                                      self.base.deadline)
        return policy


def send_policy(schedule: Schedule) -> SendPolicy:
    """The campaign's policy from its schedule."""
    window, skip_holidays = schedule.window, schedule.skip_holidays
    if window == ALWAYS:
        window, skip_holidays = ALWAYS_WINDOW, False
    return SendPolicy.for_campaign(channel=schedule.channel, window=window,
                                   deadline=schedule.deadline, skip_holidays=skip_holidays)
