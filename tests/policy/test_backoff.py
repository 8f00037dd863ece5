"""Reconnection delays."""

from __future__ import annotations

import random

from dispatch.policy.backoff import Backoff, Retries, RetryPolicy, ThrottlePace


def test_delays_grow_jittered_up_to_the_cap_and_reset() -> None:
    backoff = Retries(Backoff(first_s=0.5, max_s=4.0), random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    steps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(step / 2 <= d <= step for d, step in zip(delays, steps, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_configuration_errors_wait_the_cap() -> None:
    backoff = Retries(Backoff(first_s=0.5, max_s=30.0), random.Random(2))
    assert 27.0 <= backoff.slow() <= 30.0
    assert backoff.next_delay() >= 15.0  # and the next failure starts from the cap


def test_a_throttled_message_waits_the_hint_the_first_time_then_the_pace_only() -> None:
    policy = RetryPolicy(max_attempts=5, base_s=0.5, max_s=30.0)
    assert policy.throttled_after(1.0) == 1.0
    assert policy.throttled_after(None) == 0.5
    assert policy.throttled_after(1.0, again=True) == 0.0


def test_the_throttle_pace_is_twice_the_accepted_rate_and_decays_without_acceptances(
        ) -> None:
    pace = ThrottlePace(headroom=2.0, floor=5.0, window_s=1.0)
    assert pace.rate(0.0) == 5.0  # nothing accepted yet: the floor
    pace.accepted(0.0, 100)  # a level of 100 in a 1 s window: 100/s
    assert pace.rate(0.0) == 200.0
    assert 5.0 < pace.rate(2.0) < 200.0 * 0.14  # e^-2 of it two seconds later
    assert pace.rate(60.0) == 5.0


def test_the_throttle_pace_lets_one_go_per_token() -> None:
    pace = ThrottlePace(headroom=1.0, floor=10.0, burst_s=0.0)  # 10/s, one at a time
    assert pace.take(0.0)
    assert not pace.take(0.05)
    assert pace.wait_s(0.05) == 0.05
    assert pace.take(0.1)
