"""Every random decision of the HTTP gateway, from one seeded random.Random — pure.

Order of the whole-request faults: 429 first, then 5xx, each an independent draw; so at
probability 1 for both, every request is throttled. The lost response is drawn after the
messages were accepted.
"""

from __future__ import annotations

import random

from dispatch.simulator.config import OutcomePicker, SimulatorConfig
from dispatch.simulator.live_faults import LiveFaults

SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultDecider:
    def __init__(self, config: SimulatorConfig, rng: random.Random) -> None:
        self._rng = rng
        self._p429 = config.error_429
        self._p5xx = config.error_5xx
        self._p_lost = config.lost_response
        self._latency_s = config.latency_ms / 1000
        self._latency_jitter_s = config.latency_jitter_ms / 1000
        self._receipt_delay_s = config.receipt_delay_ms / 1000
        self._receipt_jitter_s = config.receipt_jitter_ms / 1000
        self._outcomes = OutcomePicker(config.outcomes)
        self.live = LiveFaults()  # the simulator shares its own with the SMSC

    def request_fault(self, now: float) -> int | None:
        """The HTTP status of an injected whole-request fault, or None to process it."""
        p429 = max(self._p429, self.live.throttle_share(now))
        if p429 and self._rng.random() < p429:
            return 429
        if self._p5xx and self._rng.random() < self._p5xx:
            return self._rng.choice(SERVER_ERROR_STATUSES)
        return None

    def lose_response(self) -> bool:
        """True: the messages stay accepted but the client gets a 504, as from a proxy whose
        wait for the gateway ran out (the answer was lost on the way)."""
        return bool(self._p_lost) and self._rng.random() < self._p_lost

    def response_latency(self, now: float) -> float:
        """Seconds to hold the response back (0 when no latency is configured and no live
        stall is on)."""
        latency = self._latency_s
        if self._latency_jitter_s:
            latency += self._rng.uniform(0, self._latency_jitter_s)
        return max(latency, self.live.stall_s(now))

    def receipt_delay(self) -> float:
        if self._receipt_jitter_s:
            return self._receipt_delay_s + self._rng.uniform(0, self._receipt_jitter_s)
        return self._receipt_delay_s

    def outcome(self) -> str:
        return self._outcomes.pick(self._rng.random())
