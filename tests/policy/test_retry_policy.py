from __future__ import annotations

import random

from dispatch.policy.backoff import RetryPolicy


def test_delay_grows_exponentially_within_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=8, base_s=0.5, max_s=4.0)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (7, 4.0)]:
        for _ in range(50):
            delay = policy.delay(attempt, None, rng)
            assert ceiling / 2 <= delay <= ceiling


def test_gateway_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(max_attempts=8, base_s=0.5, max_s=4.0)
    assert policy.delay(1, 3.0, random.Random(1)) == 3.0


def test_gives_up_at_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, base_s=0.1, max_s=1.0)
    assert not policy.gives_up(2)
    assert policy.gives_up(3)
