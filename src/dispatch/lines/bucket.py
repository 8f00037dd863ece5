"""Token buckets kept as one number (GCRA) — pure: every time comes from the caller.

A bucket of `rate` tokens a second holding at most `burst` tokens, starting full, is the
same thing as the generic cell rate algorithm with emission interval ``T = 1/rate`` and
tolerance ``tau = (burst - 1) * T``: the state is one float, the *theoretical arrival
time* ``tat``, and a take at ``now`` succeeds iff ``tat - tau <= now``, then
``tat = max(tat, now) + T``. So ``tat - tau`` is the earliest time the next token is there
(``next_free``): a heap of buckets ordered by it needs nothing else.

Safety margin. The gateway measures arrival times, not the times we hand messages out. If
every message reaches the gateway between d and d + J after we hand it out (J: the jitter),
a sequence that conforms to tolerance ``tau - J`` here conforms to ``tau`` there (the
ATM "cell delay variation tolerance" result: any window of length L at the gateway holds
messages we handed out within a window of length L + J). So a bucket built with
``margin_s=J`` schedules at the full rate but with J seconds less tolerance. When
``burst = 1`` the tolerance becomes negative: consecutive takes are ``T + J`` apart.
"""

from __future__ import annotations

import math
from typing import Final

NEVER_USED: Final = -math.inf  # a bucket that was never taken from is full


def bucket_size(rate: float, burst: float) -> float:
    """The bucket size the gateway simulator uses: a burst of 0 means one second of the
    rate, and never less than one message."""
    return burst if burst > 0 else max(1.0, rate)


def tolerance(rate: float, burst: float, margin_s: float) -> float:
    """GCRA tolerance (seconds) of a bucket of `burst` tokens at `rate`, minus the margin."""
    return (bucket_size(rate, burst) - 1.0) / rate - margin_s


class TokenBucket:
    """`rate` tokens a second (fractional allowed), `burst` at most, starting full.

    ``margin_s`` is the jitter to absorb between here and the party that counts (see the
    module docstring). Times are floats in seconds from any monotonic clock, never
    decreasing from one call to the next.
    """

    __slots__ = ("interval", "rate", "tat", "tolerance")

    def __init__(self, rate: float, burst: float = 0.0, *, margin_s: float = 0.0) -> None:
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number, got {rate!r}")
        if burst < 0 or margin_s < 0:
            raise ValueError("burst and margin_s must not be negative")
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = tolerance(rate, burst, margin_s)
        self.tat = NEVER_USED

    @property
    def next_free(self) -> float:
        """The earliest time at which one token is there."""
        return self.tat - self.tolerance

    def available(self, now: float, limit: int) -> int:
        """How many tokens could be taken at `now` (at most `limit`)."""
        if self.tat - self.tolerance > now:  # the same expression as next_free, on purpose
            return 0
        ahead = max(self.tat - now, 0.0)
        extra = math.floor((self.tolerance - ahead) * self.rate)
        return min(limit, 1 + max(extra, 0))

    def take(self, now: float, count: int = 1) -> None:
        """Charge `count` tokens at `now`; the caller checked `available` first."""
        self.tat = max(self.tat, now) + count * self.interval

    def take_spaced(self, now: float, count: int, later_tolerance: float | None = None
                    ) -> tuple[float, ...]:
        """Charge `count` tokens for submissions sent one after another, each as early as
        the bucket allows from `now` (the first at `now`: the caller checked a token is
        there): their offsets from `now`. A long SMS is one submission per part, and a
        bucket smaller than its parts can only carry them spaced out. `later_tolerance`:
        the tolerance for all but the first (default: the bucket's own)."""
        offsets: list[float] = []
        tat, tolerance, interval = self.tat, self.tolerance, self.interval
        for index in range(count):
            at = max(now, tat - tolerance)
            offsets.append(at - now)
            tat = max(tat, at) + interval
            if index == 0 and later_tolerance is not None:
                tolerance = later_tolerance
        self.tat = tat
        return tuple(offsets)

    def try_take(self, now: float) -> bool:
        """Take one token if there is one."""
        if self.tat - self.tolerance > now:
            return False
        self.tat = max(self.tat, now) + self.interval
        return True
