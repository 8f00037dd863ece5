"""Reconnection delays: jittered exponential backoff, capped — pure.

"Full jitter" (a random delay between half and all of the current step) keeps the binds
of several daemons from reconnecting in lockstep after an SMSC restart.
"""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, *, first_s: float = 0.5, max_s: float = 30.0, factor: float = 2.0,
                 rng: random.Random | None = None) -> None:
        self.first_s = min(first_s, max_s)
        self.max_s = max_s
        self.factor = factor
        self._rng = rng or random.Random()
        self._step = self.first_s

    def next_delay(self) -> float:
        """The delay before the next attempt; each call lengthens the following one."""
        step = self._step
        self._step = min(self.max_s, step * self.factor)
        return self._rng.uniform(step / 2, step)

    def slow(self) -> float:
        """The delay after a configuration error: the cap, barely jittered."""
        self._step = self.max_s
        return self._rng.uniform(0.9 * self.max_s, self.max_s)

    def reset(self) -> None:
        """A connection succeeded: the next failure starts from the first step again."""
        self._step = self.first_s
