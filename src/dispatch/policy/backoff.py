"""Exponential backoff, defined once for the whole product — pure.

Attempt n (counted from 1) waits up to `first_s * factor ** (n - 1)`, capped at `max_s`.
Jittered, the wait is drawn between half and all of that ceiling, so that what failed
together (thousands of messages throttled at once, the binds of several daemons after an
SMSC restart) does not come back together.

Used by the daemon's retries of transient gateway errors (`RetryPolicy`: jittered, the
gateway's Retry-After as a floor), the SMPP binds' reconnections (`Retries`: jittered,
counting its own attempts) and the simulator's posts of receipts and replies (the bare
ceiling: its tests predict the delays).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first_s: float
    max_s: float
    factor: float = 2.0

    def ceiling(self, attempt: int) -> float:
        """The longest wait after attempt `attempt` failed."""
        try:
            return min(self.max_s, self.first_s * self.factor ** max(0, attempt - 1))
        except OverflowError:  # thousands of attempts (a bind failing for days): the cap
            return self.max_s

    def jittered(self, attempt: int, rng: random.Random) -> float:
        """A wait between half and all of the ceiling."""
        ceiling = self.ceiling(attempt)
        return rng.uniform(ceiling / 2, ceiling)


class Retries:
    """A jittered backoff that counts its own attempts (a connection kept up): each delay
    lengthens the next, until a success resets it."""

    def __init__(self, backoff: Backoff, rng: random.Random | None = None) -> None:
        self.backoff = backoff
        self._rng = rng or random.Random()
        self._attempt = 0
        self._at_cap = False

    def next_delay(self) -> float:
        """The delay before the next attempt."""
        self._attempt += 1
        if self._at_cap:
            return self._rng.uniform(self.backoff.max_s / 2, self.backoff.max_s)
        return self.backoff.jittered(self._attempt, self._rng)

    def slow(self) -> float:
        """The delay after a configuration error (retrying soon cannot help): the cap,
        barely jittered; the next failures wait from the cap too."""
        self._at_cap = True
        return self._rng.uniform(0.9 * self.backoff.max_s, self.backoff.max_s)

    def reset(self) -> None:
        """An attempt succeeded: the next failure starts from the first step again."""
        self._attempt = 0
        self._at_cap = False


@dataclass(frozen=True)
class RetryPolicy:
    """How a message is retried after a transient gateway error."""

    max_attempts: int
    base_s: float
    max_s: float

    def delay(self, attempt: int, hint_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1): the
        jittered backoff, with the gateway's own Retry-After, when given, as a floor."""
        return max(Backoff(self.base_s, self.max_s).jittered(attempt, rng), hint_s or 0.0)

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
