"""What becomes of a voice message when its call ends — pure.

A call answered by a person delivers the message. A busy line or a phone nobody answered
is called again later (each its own delay), until the campaign's attempts are spent. An
answering machine either counts as delivered (the message was left on it: the default) or
is called again like a call nobody answered. A failed call (an unallocated number, the
network refusing it) fails the message; a call whose fate is unknown (cancelled, no final
status in time) expires it, never called again blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dispatch.vocabulary import CallOutcome, StateCode

MACHINE_POLICIES: Final = ("leave", "retry")
# Across every voice campaign: at most this many calls to a number in this many days
# (the frequency policy for calls of COMPLIANCE.md).
CALLS_PER_NUMBER: Final = 4
CALL_CAP_DAYS: Final = 30


@dataclass(frozen=True)
class CallPolicy:
    max_attempts: int = 3  # calls per message
    busy_retry_s: float = 600.0
    no_answer_retry_s: float = 3600.0
    machine: str = "leave"  # "leave": delivered on the machine; "retry": called again

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= 10:
            raise ValueError(f"attempts per message must be 1 to 10, got {self.max_attempts}")
        if self.busy_retry_s < 0 or self.no_answer_retry_s < 0:
            raise ValueError("retry delays must not be negative")
        if self.machine not in MACHINE_POLICIES:
            raise ValueError(f"answering machines: {' or '.join(MACHINE_POLICIES)}, "
                             f"got {self.machine!r}")

    def decide(self, outcome: CallOutcome, calls: int, reason: str) -> CallDecision:
        """After the `calls`-th call of a message ended with `outcome`."""
        if outcome is CallOutcome.HUMAN:
            return CallDecision(StateCode.DELIVERED, reason)
        if outcome is CallOutcome.MACHINE and self.machine == "leave":
            return CallDecision(StateCode.DELIVERED, "left on an answering machine")
        if outcome is CallOutcome.FAILED:
            return CallDecision(StateCode.FAILED, f"call {reason}")
        if outcome is CallOutcome.UNKNOWN:
            return CallDecision(StateCode.EXPIRED, f"call {reason}: fate unknown")
        if calls >= self.max_attempts:
            return CallDecision(StateCode.FAILED, f"{_WHY[outcome]} after {calls} calls")
        delay = self.busy_retry_s if outcome is CallOutcome.BUSY else self.no_answer_retry_s
        return CallDecision(None, _WHY[outcome], delay)


@dataclass(frozen=True)
class CallDecision:
    """A final state with its reason, or (code None) a call again `retry_after_s` later."""

    code: StateCode | None
    reason: str
    retry_after_s: float = 0.0


_WHY: Final = {CallOutcome.BUSY: "busy", CallOutcome.NO_ANSWER: "no answer",
               CallOutcome.MACHINE: "answering machine"}
