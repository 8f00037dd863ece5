"""What the SMSC answers a submit_sm, before looking at the message — pure (times are
plain floats from trio.current_time(), so MockClock drives them in tests).

Order of the checks, each answering on its own:
1. line rate (per source address): over it -> ESME_RTHROTTLED, counted as a line
   violation (the client is expected to respect its lines' rates: every submit_sm, each
   part of a long message and each retry, takes one token);
2. never responding (`no_response`): the request is dropped, not accepted;
3. window: `smpp_window` submit_sm already outstanding on the bind -> ESME_RMSGQFUL;
4. bind rate -> ESME_RTHROTTLED;
5. random throttling (`throttle_rate`) -> ESME_RTHROTTLED;
6. injected error (`smpp_error`) -> `smpp_error_status`;
otherwise the message is accepted.

"Outstanding" is what the SMSC has read and not yet answered on the wire, so a client
that keeps its own window within `smpp_window` never sees ESME_RMSGQFUL. That answer
goes out at once; every other submit_sm_resp after `smpp_latency_ms` (+ jitter).
"""

from __future__ import annotations

import random
from enum import Enum
from typing import Final

from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.live_faults import LiveFaults

MAX_LINES: Final = 100_000  # line buckets kept; idle (full) ones are forgotten beyond


class Verdict(Enum):
    ACCEPT = "accept"
    IGNORE = "ignore"  # no response at all
    QUEUE_FULL = "queue_full"
    LINE_THROTTLED = "line_throttled"
    BIND_THROTTLED = "bind_throttled"
    THROTTLED = "throttled"  # random, not the client's fault
    ERROR = "error"


class TokenBucket:
    """`rate` tokens a second, at most `capacity` saved; starts full."""

    __slots__ = ("capacity", "rate", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def take(self, now: float) -> bool:
        """Take one token if there is one."""
        tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if tokens >= 1.0:
            self.tokens = tokens - 1.0
            return True
        self.tokens = tokens
        return False

    def is_full(self, now: float) -> bool:
        return self.tokens + (now - self.updated) * self.rate >= self.capacity


def bucket_size(rate: float, burst: float) -> float:
    """A burst of 0 means one second of the rate (at least one message)."""
    return burst if burst > 0 else max(1.0, rate)


class RateLimiter:
    """One token bucket per key (source address), bounded in number."""

    def __init__(self, rate: float, burst: float, max_keys: int = MAX_LINES) -> None:
        self.rate = rate
        self.capacity = bucket_size(rate, burst)
        self.max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def __len__(self) -> int:
        return len(self._buckets)

    def allow(self, key: str, now: float) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._forget_idle(now)
            bucket = self._buckets[key] = TokenBucket(self.rate, self.capacity, now)
        return bucket.take(now)

    def _forget_idle(self, now: float) -> None:
        # A full bucket is what a new one would be: forgetting it changes nothing.
        idle = [key for key, bucket in self._buckets.items() if bucket.is_full(now)]
        for key in idle or list(self._buckets)[: self.max_keys // 10]:
            del self._buckets[key]


class SubmitPolicy:
    def __init__(self, config: SimulatorConfig, rng: random.Random) -> None:
        self._rng = rng
        self.window = config.smpp_window
        self.bind_rate = config.smpp_bind_rate
        self._lines = RateLimiter(config.line_rate, config.line_burst) if config.line_rate \
            else None
        self._p_ignore = config.no_response
        self._p_throttle = config.throttle_rate
        self._p_error = config.smpp_error
        self._latency_s = config.smpp_latency_ms / 1000
        self._jitter_s = config.smpp_latency_jitter_ms / 1000
        self.live = LiveFaults()  # the simulator shares its own with the HTTP side

    @property
    def lines_seen(self) -> int:
        """Source addresses with a rate bucket (idle ones are forgotten past MAX_LINES)."""
        return len(self._lines) if self._lines is not None else 0

    def bind_bucket(self, now: float) -> TokenBucket | None:
        """The rate limit of a new bind (None: unlimited)."""
        if not self.bind_rate:
            return None
        return TokenBucket(self.bind_rate, bucket_size(self.bind_rate, 0), now)

    def decide(self, source_addr: str, bind_bucket: TokenBucket | None, outstanding: int,
               now: float) -> Verdict:
        if self._lines is not None and not self._lines.allow(source_addr, now):
            return Verdict.LINE_THROTTLED
        rng = self._rng
        if self._p_ignore and rng.random() < self._p_ignore:
            return Verdict.IGNORE
        if outstanding >= self.window:
            return Verdict.QUEUE_FULL
        if bind_bucket is not None and not bind_bucket.take(now):
            return Verdict.BIND_THROTTLED
        p_throttle = max(self._p_throttle, self.live.throttle_share(now))
        if p_throttle and rng.random() < p_throttle:
            return Verdict.THROTTLED
        if self._p_error and rng.random() < self._p_error:
            return Verdict.ERROR
        return Verdict.ACCEPT

    def latency(self, now: float) -> float:
        """Seconds to hold a submit_sm_resp back (0: answer at once); a live stall holds
        it until the stall ends, at least."""
        latency = self._latency_s
        if self._jitter_s:
            latency += self._rng.uniform(0, self._jitter_s)
        return max(latency, self.live.stall_s(now))
