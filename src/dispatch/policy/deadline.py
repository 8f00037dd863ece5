"""Campaign deadline: after it, unsent messages expire and are never sent — pure.

The election-eve blackout (Code électoral L.49) starts at 00:00 on the day before the vote,
in local time, so the deadline is per recipient zone: a Réunion recipient's blackout starts
at 00:00 Réunion time, two or three hours before Paris'. Some territories also vote a day
earlier than the mainland (for presidential, legislative and European elections: the
Antilles, French Guiana, Saint-Pierre-et-Miquelon, French Polynesia; `EARLY_VOTE_ZONES`),
so their deadline is a further day earlier. Which territories vote early depends on the
election: `election_eve` takes them explicitly.

Three forms of deadline:
- a local wall time ("2027-04-10T00:00"): reached in each zone when its clock reads it;
- an instant ("2027-04-10T00:00+02:00"): the same moment everywhere;
- per-zone wall times overriding either, for the zones that vote on another day.
A wall time that does not exist in a zone (clocks jumping over midnight) is reached at the
first instant after it; one that happens twice, at the first time.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Final

from dispatch.policy.timezones import DEFAULT_ZONE
from dispatch.policy.windows import wall_to_utc

# Zones that vote on Saturday when the mainland votes on Sunday, for presidential,
# legislative and European elections (the Americas and Polynesia, behind Paris).
EARLY_VOTE_ZONES: Final = frozenset({
    "America/Guadeloupe", "America/Martinique", "America/Cayenne", "America/Miquelon",
    "America/Marigot", "America/St_Barthelemy", "Pacific/Tahiti",
})


class DeadlineError(ValueError):
    """A deadline that cannot be read; the message names the text and the accepted forms."""


class Deadline:
    """When messages to each zone expire; `NO_DEADLINE` never expires anything."""

    def __init__(self, *, wall: dt.datetime | None = None, instant: dt.datetime | None = None,
                 wall_by_zone: Mapping[str, dt.datetime] | None = None) -> None:
        if wall is not None and instant is not None:
            raise DeadlineError("a deadline is a local wall time or an instant, not both")
        if wall is not None and wall.tzinfo is not None:
            raise DeadlineError(f"a wall-time deadline is naive, got {wall.isoformat()}")
        if instant is not None and instant.utcoffset() is None:
            raise DeadlineError(f"an instant deadline needs a UTC offset: {instant.isoformat()}")
        self.wall = wall
        self.instant = instant
        self.wall_by_zone = dict(wall_by_zone or {})
        self._ts_by_zone: dict[str, float] = {}

    def timestamp_for(self, zone: str) -> float:
        """The deadline for `zone` in POSIX seconds (math.inf: none). Cached per zone."""
        ts = self._ts_by_zone.get(zone)
        if ts is None:
            ts = self._ts_by_zone[zone] = self._compute(zone)
        return ts

    def for_zone(self, zone: str) -> dt.datetime | None:
        """The deadline for `zone` in UTC, None when there is none."""
        ts = self.timestamp_for(zone)
        return None if ts == math.inf else dt.datetime.fromtimestamp(ts, dt.UTC)

    def expired(self, at: dt.datetime, zone: str = DEFAULT_ZONE) -> bool:
        """Has the deadline passed at `at` (aware) for a recipient in `zone`?"""
        if at.utcoffset() is None:
            raise ValueError(f"expected a timezone-aware datetime, got naive {at.isoformat()}")
        return at.timestamp() >= self.timestamp_for(zone)

    def __str__(self) -> str:
        base = (self.instant.isoformat() if self.instant is not None
                else f"{self.wall.isoformat()} local" if self.wall is not None else "none")
        overrides = ", ".join(f"{zone} {wall.isoformat()}"
                              for zone, wall in sorted(self.wall_by_zone.items()))
        return f"{base} ({overrides})" if overrides else base

    def _compute(self, zone: str) -> float:
        wall = self.wall_by_zone.get(zone, self.wall)
        if zone not in self.wall_by_zone and self.instant is not None:
            return self.instant.timestamp()
        return math.inf if wall is None else wall_to_utc(wall, zone)


NO_DEADLINE: Final = Deadline()


def election_eve_deadline(vote_date: dt.date, zone: str) -> dt.datetime:
    """00:00 local time in `zone` on the day before `vote_date`, in UTC."""
    eve = dt.datetime.combine(vote_date - dt.timedelta(days=1), dt.time())
    return dt.datetime.fromtimestamp(wall_to_utc(eve, zone), dt.UTC)


def election_eve(vote_date: dt.date, *, early_zones: Iterable[str] = ()) -> Deadline:
    """The L.49 deadline of an election on `vote_date` (the mainland's date), per zone.

    Every zone's deadline is 00:00 local on the day before `vote_date`; for `early_zones`
    (pass EARLY_VOTE_ZONES for a presidential, legislative or European election) a day earlier.
    """
    eve = dt.datetime.combine(vote_date - dt.timedelta(days=1), dt.time())
    early = eve - dt.timedelta(days=1)
    return Deadline(wall=eve, wall_by_zone=dict.fromkeys(early_zones, early))


def parse_deadline(text: str) -> Deadline:
    """`--deadline`: "2027-04-10" or "2027-04-10T00:00" (local wall time in each recipient's
    zone) or "2027-04-10T00:00+02:00" / "...Z" (one instant everywhere)."""
    try:
        parsed = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeadlineError(
            f"deadline {text!r} is not a date or date-time: expected 2027-04-10, "
            f"2027-04-10T00:00 (recipients' local time) or 2027-04-10T00:00+02:00") from None
    if parsed.utcoffset() is None:
        return Deadline(wall=parsed.replace(tzinfo=None))
    return Deadline(instant=parsed)
