"""Reconnection delays."""

from __future__ import annotations

import random

from dispatch.policy.backoff import Backoff, Retries


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
