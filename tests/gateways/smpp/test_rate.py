"""The adaptive per-bind rate, driven by a MockClock."""

from __future__ import annotations

import pytest
from trio.testing import MockClock

from dispatch.gateways.smpp.rate import AdaptiveRate


def sent_over(rate: AdaptiveRate, clock: MockClock, seconds: float, step_s: float = 0.01
              ) -> int:
    """Offer a message every step for `seconds`; how many the rate let through."""
    sent = 0
    for _ in range(round(seconds / step_s)):
        sent += rate.take(clock.current_time(), 1)
        clock.jump(step_s)
    return sent


def test_unlimited_until_throttled() -> None:
    clock = MockClock()
    rate = AdaptiveRate(threshold=0.0)
    assert rate.take(clock.current_time(), 500) == 500
    assert rate.wait_s(clock.current_time()) == 0
    assert rate.rate is None


def test_a_throttle_halves_the_rate_being_sent() -> None:
    clock = MockClock()
    rate = AdaptiveRate(threshold=0.0)
    assert sent_over(rate, clock, 1.0) == 100  # 100/s offered and sent
    rate.on_throttled(clock.current_time())
    assert rate.rate == pytest.approx(50, rel=0.1)
    assert sent_over(rate, clock, 0.99) == pytest.approx(50, abs=3)
    assert rate.throttles == 1


def test_a_window_of_throttles_counts_once_then_further_ones_halve_again() -> None:
    clock = MockClock()
    rate = AdaptiveRate(cooldown_s=1.0, threshold=0.0)
    rate.take(clock.current_time(), 80)
    for _ in range(80):  # the whole window comes back throttled at once
        rate.on_throttled(clock.current_time())
    assert rate.rate == pytest.approx(40)
    clock.jump(0.5)
    rate.on_throttled(clock.current_time())  # still the same burst
    assert rate.rate == pytest.approx(40)
    clock.jump(0.6)
    rate.on_throttled(clock.current_time())
    assert rate.rate == pytest.approx(40 * 1.1 / 2)  # grew one step, then halved
    assert rate.throttles == 2


def test_the_rate_never_falls_below_the_floor() -> None:
    clock = MockClock()
    rate = AdaptiveRate(floor=2.0, threshold=0.0)
    for _ in range(20):
        rate.on_throttled(clock.current_time())
        clock.jump(1.0)
    assert rate.rate is not None and rate.rate >= 2.0


def test_wait_tells_when_the_next_message_may_go() -> None:
    clock = MockClock()
    rate = AdaptiveRate(threshold=0.0)
    rate.take(clock.current_time(), 20)
    rate.on_throttled(clock.current_time())  # 10/s, empty bucket
    assert rate.take(clock.current_time(), 5) == 0
    assert rate.wait_s(clock.current_time()) == pytest.approx(0.1)
    clock.jump(0.1)
    assert rate.take(clock.current_time(), 5) == 1


def test_recovers_gradually_then_lifts() -> None:
    clock = MockClock()
    rate = AdaptiveRate(growth=1.1, step_s=1.0, release=2.0, threshold=0.0)
    rate.take(clock.current_time(), 100)
    rate.on_throttled(clock.current_time())  # 50/s, lifted past 200/s
    clock.jump(5.0)
    rate.wait_s(clock.current_time())
    assert rate.rate == pytest.approx(50 * 1.1 ** 5)
    clock.jump(10.0)  # 50 * 1.1**15 = 209 > 200
    assert rate.take(clock.current_time(), 1000) == 1000
    assert rate.rate is None


def test_a_steady_minority_of_throttles_does_not_slow_the_bind_down() -> None:
    """An SMSC throttling 30 % of requests whatever the rate (a fault, not a limit)."""
    clock = MockClock()
    rate = AdaptiveRate()
    for _ in range(1000):
        rate.take(clock.current_time(), 10)
        for _ in range(3):  # 3 of every 10 sent
            rate.on_throttled(clock.current_time())
        clock.jump(0.01)
    assert rate.rate is None


def test_a_majority_of_throttles_slows_the_bind_down() -> None:
    clock = MockClock()
    rate = AdaptiveRate()
    for _ in range(100):
        rate.take(clock.current_time(), 10)
        for _ in range(6):
            rate.on_throttled(clock.current_time())
        clock.jump(0.01)
    assert rate.rate is not None
