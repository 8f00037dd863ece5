"""Retry policy for transient gateway errors — pure."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_s: float
    max_s: float

    def delay(self, attempt: int, hint_s: float | None, rng: random.Random) -> float:
        """Seconds to wait before attempt number `attempt + 1` (attempt counts from 1).

        Full jitter on an exponential ceiling, so that a gateway that throttled thousands
        of messages at once is not hit by all of them again at the same instant; the
        gateway's own Retry-After, when given, is a floor.
        """
        ceiling = min(self.max_s, self.base_s * 2 ** max(0, attempt - 1))
        delay = rng.uniform(ceiling / 2, ceiling)
        return max(delay, hint_s or 0.0)

    def gives_up(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
