"""Whether a route's member is in service — pure (the time is given).

A member is taken out after `out_after` failed submissions in a row (no answer, an error
answer, a lost connection), or at once when it cannot be reached at all (no connection, no
bind). It stays out for a backoff period (`out_for_s`, doubled each time it fails again
right after coming back, up to `out_max_s`), then takes traffic again on trial: its first
answer brings it back, its first failure takes it out again for longer.
"""

from __future__ import annotations

import enum

from dispatch.policy.backoff import Backoff


class Change(enum.Enum):
    """What a submission's result changed for the member: a switch of traffic."""

    NONE = "none"
    OUT = "out"  # taken out of service: its traffic goes to the next member
    BACK = "back"  # answered again after being out: back in service


class Standing:
    def __init__(self, out_after: int, backoff: Backoff) -> None:
        self._out_after = out_after
        self._backoff = backoff
        self._failures = 0  # failed submissions in a row
        self._outs = 0  # times taken out without answering in between
        self.out_until = 0.0  # out of service until then
        self.on_trial = False  # back from a period out, not answered yet

    def in_service(self, now: float) -> bool:
        return now >= self.out_until

    def answered(self, now: float) -> Change:
        """A submission was answered (accepted, refused or throttled: it is working)."""
        if not self.in_service(now):
            return Change.NONE  # a late answer of a submission made before it went out
        self._failures = 0
        self._outs = 0
        if self.on_trial:
            self.on_trial = False
            return Change.BACK
        return Change.NONE

    def failed(self, now: float, unreachable: bool) -> Change:
        """A submission failed; `unreachable`: the member could not be reached at all."""
        if not self.in_service(now):
            return Change.NONE  # a late answer of a submission made before it went out
        self._failures += 1
        if not (unreachable or self.on_trial or self._failures >= self._out_after):
            return Change.NONE
        self._outs += 1
        self._failures = 0
        self.out_until = now + self._backoff.ceiling(self._outs)
        self.on_trial = True
        return Change.OUT
