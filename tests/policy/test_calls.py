"""What a call's end leads to, by the campaign's call policy."""

from __future__ import annotations

import pytest

from dispatch.policy.calls import CallDecision, CallPolicy
from dispatch.vocabulary import CallOutcome, StateCode

POLICY = CallPolicy(max_attempts=3, busy_retry_s=600, no_answer_retry_s=3600)


@pytest.mark.parametrize(("outcome", "calls", "expected"), [
    (CallOutcome.HUMAN, 1, CallDecision(StateCode.DELIVERED, "answered by a person")),
    (CallOutcome.MACHINE, 1, CallDecision(StateCode.DELIVERED, "left on an answering machine")),
    (CallOutcome.FAILED, 1, CallDecision(StateCode.FAILED, "call failed (SIP 404)")),
    (CallOutcome.UNKNOWN, 1, CallDecision(StateCode.EXPIRED, "call canceled: fate unknown")),
    (CallOutcome.BUSY, 1, CallDecision(None, "busy", 600)),
    (CallOutcome.NO_ANSWER, 2, CallDecision(None, "no answer", 3600)),
    (CallOutcome.BUSY, 3, CallDecision(StateCode.FAILED, "busy after 3 calls")),
    (CallOutcome.NO_ANSWER, 3, CallDecision(StateCode.FAILED, "no answer after 3 calls")),
])
def test_each_outcome_leads_to_a_final_state_or_a_call_again(
        outcome: CallOutcome, calls: int, expected: CallDecision) -> None:
    reason = {CallOutcome.HUMAN: "answered by a person", CallOutcome.FAILED: "failed (SIP 404)",
              CallOutcome.UNKNOWN: "canceled"}.get(outcome, str(outcome))
    assert POLICY.decide(outcome, calls, reason) == expected


def test_an_answering_machine_may_be_called_again_like_nobody_answered() -> None:
    retry = CallPolicy(max_attempts=2, no_answer_retry_s=60, machine="retry")
    assert retry.decide(CallOutcome.MACHINE, 1, "") == CallDecision(None, "answering machine",
                                                                     60)
    assert retry.decide(CallOutcome.MACHINE, 2, "") == CallDecision(
        StateCode.FAILED, "answering machine after 2 calls")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_attempts": 0}, "attempts per message must be 1 to 10"),
    ({"busy_retry_s": -1}, "must not be negative"),
    ({"machine": "hang up"}, "answering machines: leave or retry"),
])
def test_a_policy_outside_its_bounds_is_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CallPolicy(**kwargs)  # type: ignore[arg-type]
