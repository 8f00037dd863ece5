"""What becomes of a call: the outcome mix, the times, the final fields — pure."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any

import pytest

from dispatch.simulator.config import (
    CALL_MIX,
    DEFAULT_CALL_OUTCOMES,
    SimulatorConfig,
    SimulatorConfigError,
    parse_outcome_mix,
)
from dispatch.simulator.voice.plan import QUICK_SHARE, CallPlan, CallPlanner


def planner(seed: int = 7, **knobs: Any) -> CallPlanner:
    return CallPlanner(SimulatorConfig(**knobs), random.Random(seed))


def test_outcomes_follow_the_mix_with_a_seed() -> None:
    plans = planner().plan
    counts = Counter(plans(gather=False, timeout_s=None).outcome for _ in range(20_000))
    for name, share in DEFAULT_CALL_OUTCOMES.items():
        assert counts[name] / 20_000 == pytest.approx(share, abs=0.01), name


def test_the_same_seed_gives_the_same_calls() -> None:
    first, second = planner(3, call_ring_jitter_ms=1000), planner(3, call_ring_jitter_ms=1000)
    assert [first.plan(gather=True, timeout_s=None) for _ in range(50)] == \
        [second.plan(gather=True, timeout_s=None) for _ in range(50)]


def test_answered_calls_ring_then_stay_connected() -> None:
    plan = planner(call_outcomes={"human": 1}, call_ring_ms=4000, call_duration_ms=30_000
                   ).plan(gather=False, timeout_s=None)
    assert plan == CallPlan("human", 34.0, 4.0)
    assert plan.final_fields(machine_detection=True) == {
        "CallStatus": "completed", "AnsweredBy": "human", "CallDuration": "30"}
    assert plan.final_fields(machine_detection=False) == {
        "CallStatus": "completed", "CallDuration": "30"}


def test_jitter_stays_either_side_of_the_mean() -> None:
    plans = planner(call_outcomes={"machine": 1}, call_ring_ms=1000, call_ring_jitter_ms=500,
                    call_duration_ms=2000, call_duration_jitter_ms=1000)
    rings = [p.answer_s or 0 for p in (plans.plan(gather=False, timeout_s=None)
                                      for _ in range(2000))]
    assert min(rings) >= 0.5 and max(rings) <= 1.5
    assert sum(rings) / len(rings) == pytest.approx(1.0, abs=0.02)


def test_machine_busy_failed_and_invalid_final_fields() -> None:
    def final(outcome: str) -> dict[str, str]:
        plan = planner(call_outcomes={outcome: 1}, call_ring_ms=2000, call_duration_ms=1500
                       ).plan(gather=False, timeout_s=None)
        return plan.final_fields(machine_detection=True)

    assert final("machine") == {"CallStatus": "completed", "AnsweredBy": "machine_end_beep",
                                "CallDuration": "2"}
    assert final("no_answer") == {"CallStatus": "no-answer"}
    assert final("busy") == {"CallStatus": "busy"}
    assert final("failed") == {"CallStatus": "failed"}
    assert final("invalid") == {"CallStatus": "failed", "SipResponseCode": "404"}


def test_busy_and_failures_end_quickly_no_answer_after_the_ring() -> None:
    for outcome in ("busy", "failed", "invalid"):
        plan = planner(call_outcomes={outcome: 1}, call_ring_ms=2000).plan(
            gather=False, timeout_s=None)
        assert (plan.end_s, plan.answer_s) == (2.0 * QUICK_SHARE, None)
    assert planner(call_outcomes={"no_answer": 1}, call_ring_ms=2000).plan(
        gather=False, timeout_s=None) == CallPlan("no_answer", 2.0)


def test_a_shorter_timeout_ends_the_ringing_no_answer() -> None:
    for outcome in ("human", "no_answer"):
        plan = planner(call_outcomes={outcome: 1}, call_ring_ms=8000).plan(
            gather=True, timeout_s=5.0)
        assert plan == CallPlan("no_answer", 5.0)
    longer = planner(call_outcomes={"human": 1}, call_ring_ms=8000, call_duration_ms=1000
                     ).plan(gather=False, timeout_s=20.0)
    assert longer == CallPlan("human", 9.0, 8.0)


def test_nine_is_pressed_during_the_message_at_the_dtmf_rate() -> None:
    plans = planner(call_outcomes={"human": 1}, call_ring_ms=1000, call_duration_ms=10_000,
                    dtmf_rate=0.3)
    drawn = [plans.plan(gather=True, timeout_s=None) for _ in range(5000)]
    pressed = [plan for plan in drawn if plan.press]
    assert len(pressed) / len(drawn) == pytest.approx(0.3, abs=0.02)
    assert all(1.0 <= plan.end_s <= 11.0 for plan in pressed)
    # The duration runs up to the press, in whole seconds rounded up.
    assert pressed[0].final_fields(machine_detection=True)["CallDuration"] == str(
        math.ceil(pressed[0].end_s - 1.0))
    # No Gather, or not a human: nothing to press.
    assert not any(plans.plan(gather=False, timeout_s=None).press for _ in range(500))
    machines = planner(call_outcomes={"machine": 1}, dtmf_rate=1.0)
    assert not any(machines.plan(gather=True, timeout_s=None).press for _ in range(500))


def test_call_outcome_mix_knob_names_its_flag() -> None:
    assert parse_outcome_mix("human=3,busy=1", CALL_MIX) == {"human": 0.75, "busy": 0.25}
    with pytest.raises(SimulatorConfigError,
                       match=r"^--call-outcomes: unknown outcome 'delivered'"):
        SimulatorConfig(call_outcomes={"delivered": 1})
    assert SimulatorConfig(call_outcomes={"human": 1, "machine": 3}).call_outcomes == {
        "human": 0.25, "machine": 0.75}


@pytest.mark.parametrize(("knobs", "message"), [
    ({"dtmf_rate": 1.5}, "--dtmf-rate: must be a probability"),
    ({"call_ring_ms": -1}, "--call-ring-ms: must be a finite number"),
    ({"voice_cps": float("inf")}, "--voice-cps: must be a finite number"),
    ({"call_duration_ms": 100, "call_duration_jitter_ms": 200},
     r"--call-duration-jitter-ms: must be at most --call-duration-ms \(100\)"),
    ({"voice_accounts": {"AC1": ""}}, "--voice-account: 'AC1'"),
])
def test_bad_voice_knobs_are_refused_naming_the_flag(knobs: dict[str, Any], message: str
                                                     ) -> None:
    with pytest.raises(SimulatorConfigError, match=message):
        SimulatorConfig(**knobs)
