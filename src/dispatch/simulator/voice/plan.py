"""What becomes of a call, decided when it is placed — pure (one seeded random.Random).

The outcome is drawn from `call_outcomes`; then the times, in seconds after placement:

- human, machine: rings `call_ring_ms` (± jitter), is answered, stays connected
  `call_duration_ms` (± jitter), then `completed`. Rung longer than the request's Timeout,
  it ends `no-answer` at the Timeout instead (counted no_answer).
- human with a Gather in its script: with probability `dtmf_rate` the recipient presses 9
  at a uniform moment of the message; the call ends there (once the 9 is acknowledged).
- no_answer: `no-answer` after the ring time, or the Timeout if shorter.
- busy, failed, invalid: end quickly (a tenth of a ring time) without ringing; invalid is
  an unallocated number, `failed` with SipResponseCode 404.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Final

from dispatch.simulator.config import (
    BUSY,
    FAILED,
    HUMAN,
    INVALID,
    MACHINE,
    NO_ANSWER,
    OutcomePicker,
    SimulatorConfig,
)

QUICK_SHARE: Final = 0.1  # busy, failed, invalid end after this share of a ring time
FINAL_STATUS: Final = {HUMAN: "completed", MACHINE: "completed", NO_ANSWER: "no-answer",
                       BUSY: "busy", FAILED: "failed", INVALID: "failed"}
ANSWERED_BY: Final = {HUMAN: "human", MACHINE: "machine_end_beep"}
RINGS: Final = frozenset((HUMAN, MACHINE, NO_ANSWER))  # outcomes that ring


@dataclass(frozen=True, slots=True)
class CallPlan:
    outcome: str
    end_s: float  # the final status (with `press`: the moment the 9 is pressed)
    answer_s: float | None = None  # None: never answered
    press: bool = False  # a 9 is pressed at end_s

    def final_fields(self, machine_detection: bool) -> dict[str, str]:
        """The final status callback's own fields."""
        fields = {"CallStatus": FINAL_STATUS[self.outcome]}
        if self.answer_s is not None:
            if machine_detection:
                fields["AnsweredBy"] = ANSWERED_BY[self.outcome]
            # Whole seconds, rounded up as providers bill (ms first: float noise).
            fields["CallDuration"] = str(math.ceil(round(self.end_s - self.answer_s, 3)))
        elif self.outcome == INVALID:
            fields["SipResponseCode"] = "404"
        return fields


class CallPlanner:
    def __init__(self, config: SimulatorConfig, rng: random.Random) -> None:
        self._rng = rng
        self._picker = OutcomePicker(config.call_outcomes)
        self._ring = (config.call_ring_ms / 1000, config.call_ring_jitter_ms / 1000)
        self._duration = (config.call_duration_ms / 1000, config.call_duration_jitter_ms / 1000)
        self._dtmf_rate = config.dtmf_rate

    def plan(self, *, gather: bool, timeout_s: float | None) -> CallPlan:
        outcome = self._picker.pick(self._rng.random())
        ring = self._draw(self._ring)
        if outcome not in RINGS:
            return CallPlan(outcome, ring * QUICK_SHARE)
        if timeout_s is not None and timeout_s < ring:
            return CallPlan(NO_ANSWER, timeout_s)
        if outcome == NO_ANSWER:
            return CallPlan(NO_ANSWER, ring)
        duration = self._draw(self._duration)
        if outcome == HUMAN and gather and self._dtmf_rate and \
                self._rng.random() < self._dtmf_rate:
            return CallPlan(outcome, ring + self._rng.uniform(0, duration), ring, press=True)
        return CallPlan(outcome, ring + duration, ring)

    def _draw(self, mean_jitter: tuple[float, float]) -> float:
        mean, jitter = mean_jitter
        return mean + self._rng.uniform(-jitter, jitter) if jitter else mean
