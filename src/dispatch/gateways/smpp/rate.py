"""A bind's send rate that adapts to the SMSC's throttling — pure (time is passed in).

Unlimited until the SMSC answers ESME_RTHROTTLED or ESME_RMSGQFUL. Then a token bucket at
half the rate that was being sent, which grows by `growth` every `step_s` without another
throttle, and lifts entirely once it is `release` times the rate that was throttled
(additive probing would take minutes to climb back from a transient hiccup). One window of
requests sent before the slowdown all come back throttled: only the first throttle within
`cooldown_s` halves the rate, the others were already accounted for.

Only a throttled share of at least `threshold` of the requests sent in the last period
slows the bind down: an SMSC that throttles a few requests whatever the rate (a fault, not
a capacity limit) would otherwise halve the bind down to a trickle, while the throttled
requests are retried anyway. And the rate never goes below `min_share` of the rate
measured when the throttling began (nor below `floor`).
"""

from __future__ import annotations

import math
from typing import Final

METER_S: Final = 1.0  # the measured send rate counts at least this long a period


class AdaptiveRate:
    def __init__(self, *, floor: float = 1.0, growth: float = 1.1, step_s: float = 1.0,
                 cooldown_s: float = 1.0, burst_s: float = 0.1, release: float = 2.0,
                 min_share: float = 0.25, threshold: float = 0.5) -> None:
        self.floor = floor
        self.min_share = min_share
        self.threshold = threshold
        # Requests sent and throttled, decayed with a time constant of METER_S.
        self._recent_at = 0.0
        self._recent_sent = 0.0
        self._recent_throttled = 0.0
        self.growth = growth
        self.step_s = step_s
        self.cooldown_s = cooldown_s
        self.burst_s = burst_s
        self.release = release
        self.rate: float | None = None  # messages per second; None: not limited
        self.throttles = 0  # throttles that halved the rate
        self._ceiling = math.inf
        self._changed = -math.inf  # when the rate last halved or grew
        self._halved = -math.inf
        self._tokens = 0.0
        self._refilled = 0.0
        self._meter_start = -math.inf
        self._meter_count = 0
        self._previous_rate = 0.0
        self._lowest = floor  # the floor of this episode of throttling

    # Sending.

    def take(self, now: float, wanted: int) -> int:
        """How many of `wanted` requests may go now (0 .. wanted); they count as sent."""
        self._recover(now)
        if self.rate is None:
            self._meter(now, wanted)
            self._count(now, wanted, 0)
            return wanted
        self._refill(now, self.rate)
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        self._count(now, granted, 0)
        return granted

    def wait_s(self, now: float) -> float:
        """Seconds until one request may go (0 when one may go now)."""
        self._recover(now)
        if self.rate is None:
            return 0.0
        self._refill(now, self.rate)
        return 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate

    def _refill(self, now: float, rate: float) -> None:
        capacity = max(1.0, rate * self.burst_s)
        self._tokens = min(capacity, self._tokens + (now - self._refilled) * rate)
        self._refilled = now

    def _meter(self, now: float, count: int) -> None:
        elapsed = now - self._meter_start
        if elapsed >= METER_S:
            recent = elapsed < 2 * METER_S
            self._previous_rate = self._meter_count / elapsed if recent else 0.0
            self._meter_start, self._meter_count = now, 0
        self._meter_count += count

    def measured(self, now: float) -> float:
        """The recent send rate while unlimited (requests per second)."""
        current = self._meter_count / max(now - self._meter_start, METER_S)
        return max(self._previous_rate, current)

    # Adapting.

    def on_throttled(self, now: float) -> None:
        self._count(now, 0, 1)
        if self._recent_throttled >= self.threshold * max(1.0, self._recent_sent):
            self._slow_down(now)

    def _count(self, now: float, sent: int, throttled: int) -> None:
        decay = math.exp(-max(0.0, now - self._recent_at) / METER_S)
        self._recent_sent = self._recent_sent * decay + sent
        self._recent_throttled = self._recent_throttled * decay + throttled
        self._recent_at = now

    def _slow_down(self, now: float) -> None:
        self._recover(now)
        if now - self._halved < self.cooldown_s and self.rate is not None:
            return
        if self.rate is None:  # a new episode: its floor is a share of the free rate
            self._lowest = max(self.floor, self.measured(now) * self.min_share)
        sending = self.rate if self.rate is not None else self.measured(now)
        self.rate = max(self._lowest, sending / 2)
        self._ceiling = max(self._lowest, sending) * self.release
        self._changed = self._halved = now
        self._tokens, self._refilled = 0.0, now
        self.throttles += 1

    def _recover(self, now: float) -> None:
        if self.rate is None:
            return
        steps = int((now - self._changed) // self.step_s)
        if steps < 1:
            return
        self.rate *= self.growth ** min(steps, 1000)
        self._changed += steps * self.step_s
        if self.rate >= self._ceiling:
            self.rate = None
            self._meter_start, self._meter_count, self._previous_rate = now, 0, 0.0
