from __future__ import annotations

import random
from collections import Counter

from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.http.faults import SERVER_ERROR_STATUSES, FaultDecider


def decider(seed: int = 7, **knobs: object) -> FaultDecider:
    return FaultDecider(SimulatorConfig(**knobs), random.Random(seed))  # type: ignore[arg-type]


def test_no_fault_and_no_latency_by_default() -> None:
    faults = decider()
    assert {faults.request_fault(0.0) for _ in range(1000)} == {None}
    assert not any(faults.lose_response() for _ in range(1000))
    assert faults.response_latency(0.0) == 0
    assert faults.receipt_delay() == 0.2


def test_probability_one_always_injects_and_429_comes_first() -> None:
    assert {decider(error_429=1.0, error_5xx=1.0).request_fault(0.0) for _ in range(100)} == {429}
    statuses = {decider(seed, error_5xx=1.0).request_fault(0.0) for seed in range(100)}
    assert statuses == set(SERVER_ERROR_STATUSES)
    assert all(decider(lost_response=1.0).lose_response() for _ in range(100))


def test_same_seed_gives_the_same_decisions() -> None:
    knobs = {"error_429": 0.3, "error_5xx": 0.3, "lost_response": 0.5}
    first, second = decider(42, **knobs), decider(42, **knobs)
    assert ([first.request_fault(0.0) for _ in range(200)]
            == [second.request_fault(0.0) for _ in range(200)])
    assert [first.outcome() for _ in range(200)] == [second.outcome() for _ in range(200)]


def test_fault_rates_follow_the_probabilities() -> None:
    faults = decider(3, error_429=0.2, error_5xx=0.5)
    counts = Counter(faults.request_fault(0.0) for _ in range(10_000))
    assert 1800 < counts[429] < 2200
    # 5xx is drawn only for requests not throttled: 0.8 * 0.5 = 40 %.
    assert 3700 < sum(counts[status] for status in SERVER_ERROR_STATUSES) < 4300


def test_outcomes_follow_the_mix() -> None:
    faults = decider(5, outcomes={"delivered": 0.75, "rejected": 0.25})
    counts = Counter(faults.outcome() for _ in range(10_000))
    assert set(counts) == {"delivered", "rejected"}
    assert 7300 < counts["delivered"] < 7700


def test_latency_and_receipt_delay_stay_within_their_jitter() -> None:
    faults = decider(latency_ms=10, latency_jitter_ms=5, receipt_delay_ms=100,
                     receipt_jitter_ms=50)
    latencies = [faults.response_latency(0.0) for _ in range(1000)]
    delays = [faults.receipt_delay() for _ in range(1000)]
    assert all(0.010 <= latency <= 0.015 for latency in latencies)
    assert all(0.100 <= delay <= 0.150 for delay in delays)
    assert len(set(delays)) > 1
