"""Exponential backoff, defined once for the whole product — pure.

Attempt n (counted from 1) waits up to `first_s * factor ** (n - 1)`, capped at `max_s`.
Jittered, the wait is drawn between half and all of that ceiling, so that what failed
together (thousands of messages throttled at once, the binds of several daemons after an
SMSC restart) does not come back together.

A message the gateway throttled ("too fast": it did not take it) is not backed off: the
wait would grow with each throttle, to minutes for the unlucky few of a long run, while the
gateway takes messages at its pace all along. It waits the gateway's hint, then goes back
at the pace the gateway accepts messages (`ThrottlePace`).

Used by the daemon's retries of transient gateway errors (`RetryPolicy`: jittered, the
gateway's Retry-After as a floor), the SMPP binds' reconnections (`Retries`: jittered,
counting its own attempts) and the simulator's posts of receipts and replies (the bare
ceiling: its tests predict the delays).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field


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

    def throttled_after(self, hint_s: float | None, *, again: bool = False) -> float:
        """The least a throttled message waits: the gateway's own hint (Retry-After, SMPP's
        second), else the first step of the backoff; never more with each throttle. Once
        `again` (throttled before): nothing more, it goes back at the pace the gateway
        accepts (ThrottlePace), which is what keeps the gateway from being pressed; a hint
        waited again on every throttle only lengthens the unlucky messages' tail (at 50 %
        throttling, ~10 throttles in a row for the last of 500 batches: 10 s)."""
        if again:
            return 0.0
        return hint_s if hint_s is not None else self.base_s

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


@dataclass
class ThrottlePace:
    """The rate throttled messages go back to a gateway at: `headroom` times the rate it
    accepted messages at lately (a count decayed over `window_s`), at least `floor`; a
    token bucket holding `burst_s` of it. Pure: time is passed in.

    Following what the gateway takes spreads a wave of throttled messages over the time
    the gateway needs for them, and keeps them coming at its pace however often each one
    was throttled. The headroom probes above it: the accepted rate alone would shrink
    the pace with every throttle (half throttled: half as fast each round), and only the
    gateway knows when it takes more."""

    headroom: float = 2.0
    floor: float = 20.0
    window_s: float = 1.0
    burst_s: float = 0.02
    _level: float = field(default=0.0, init=False)  # accepted, decayed
    _at: float = field(default=-math.inf, init=False)
    _tokens: float = field(default=0.0, init=False)
    _refilled: float = field(default=-math.inf, init=False)

    def accepted(self, now: float, count: int) -> None:
        """The gateway accepted `count` messages."""
        self._level = self._decayed(now) + count
        self._at = now

    def rate(self, now: float) -> float:
        """Throttled messages per second that may go back now."""
        return max(self.floor, self.headroom * self._decayed(now) / self.window_s)

    def wait_s(self, now: float) -> float:
        """Seconds until one may go (0: now)."""
        rate = self.rate(now)
        capacity = max(1.0, rate * self.burst_s)
        elapsed = max(0.0, now - self._refilled)
        self._tokens = capacity if math.isinf(elapsed) else min(
            capacity, self._tokens + elapsed * rate)
        self._refilled = max(self._refilled, now)
        # A hair short of a token counts as one: the wait would be lost in the clock's
        # float (now + 1e-17 == now) and the caller would wake at once, again and again.
        return 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / rate

    def take(self, now: float) -> bool:
        """One may go now (and is counted)."""
        if self.wait_s(now) > 0:
            return False
        self._tokens -= 1
        return True

    def _decayed(self, now: float) -> float:
        if math.isinf(self._at):
            return 0.0
        return self._level * math.exp(-max(0.0, now - self._at) / self.window_s)
