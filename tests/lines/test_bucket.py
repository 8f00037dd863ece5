"""The GCRA token bucket, checked against a plain token bucket as the simulator keeps it."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatch.lines.bucket import TokenBucket, bucket_size

EPSILON = 1e-9  # float noise of the reference bucket's arithmetic, not slack in the rule


def simulator_violations(arrivals: Sequence[float], rate: float, burst: float) -> int:
    """Arrivals finding less than one token in a bucket of `rate`/s, capacity
    bucket_size(rate, burst), starting full: what the gateway simulator counts."""
    capacity = bucket_size(rate, burst)
    tokens, updated, violations = capacity, -math.inf, 0
    for t in sorted(arrivals):
        tokens = capacity if updated == -math.inf else min(
            capacity, tokens + (t - updated) * rate)
        updated = t
        if tokens >= 1.0 - EPSILON:
            tokens -= 1.0
        else:
            violations += 1
    return violations


def window_violations(arrivals: Sequence[float], rate: float, burst: float) -> int:
    """Sliding windows holding more than the bucket allows: for any window [t_i, t_j],
    at most capacity + rate * (t_j - t_i) arrivals."""
    capacity = bucket_size(rate, burst)
    times = sorted(arrivals)
    return sum(1 for i in range(len(times)) for j in range(i + 1, len(times))
               if j - i + 1 > capacity + rate * (times[j] - times[i]) + EPSILON)


def test_starts_full_and_refills_at_its_rate() -> None:
    bucket = TokenBucket(1.0, 3.0)
    assert bucket.available(0.0, 10) == 3
    bucket.take(0.0, 3)
    assert bucket.available(0.0, 10) == 0
    assert bucket.next_free == 1.0
    assert bucket.available(1.0, 10) == 1
    assert bucket.available(2.5, 10) == 2
    assert bucket.available(100.0, 10) == 3  # never more than the burst


def test_fractional_rate_with_the_default_burst_of_one() -> None:
    bucket = TokenBucket(0.2)
    assert bucket.try_take(0.0)
    assert not bucket.try_take(4.99)
    assert bucket.next_free == 5.0
    assert bucket.try_take(5.0)


def test_the_margin_spaces_single_token_buckets_by_interval_plus_margin() -> None:
    bucket = TokenBucket(0.2, 1.0, margin_s=0.05)
    assert bucket.try_take(0.0)
    assert bucket.next_free == pytest.approx(5.05)
    assert not bucket.try_take(5.04)
    assert bucket.try_take(5.05)


def test_the_margin_shrinks_the_burst_not_the_rate() -> None:
    bucket = TokenBucket(1.0, 3.0, margin_s=0.5)  # 2.5 tokens of tolerance here
    assert bucket.available(0.0, 10) == 2
    bucket.take(0.0, 2)
    assert bucket.next_free == pytest.approx(0.5)
    takes = sum(bucket.try_take(t / 100) for t in range(1, 100_01))
    assert takes == 100  # then exactly the rate, 1/s


def test_refuses_nonsense() -> None:
    for rate in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="rate"):
            TokenBucket(rate)
    with pytest.raises(ValueError, match="negative"):
        TokenBucket(1.0, -1.0)


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(0.05, 200.0), burst=st.sampled_from([0.0, 1.0, 2.0, 5.0, 50.0]),
       jitter=st.floats(0.0, 0.5), seed=st.integers(0, 2**32))
def test_what_it_allows_never_violates_at_the_gateway_despite_jitter(
        rate: float, burst: float, jitter: float, seed: int) -> None:
    """Takes tried at random times, each arriving 0..jitter later: the gateway's bucket
    (same rate and burst) never finds one too many."""
    rng = random.Random(seed)
    bucket = TokenBucket(rate, burst, margin_s=jitter)
    now, arrivals = 0.0, list[float]()
    for _ in range(300):
        now += rng.expovariate(rate * 3)
        while bucket.available(now, 1_000) and len(arrivals) < 1_000:
            bucket.take(now)
            arrivals.append(now + rng.uniform(0.0, jitter))
    assert simulator_violations(arrivals, rate, burst) == 0
    assert window_violations(arrivals[:200], rate, burst) == 0


def test_parts_on_a_single_token_bucket_go_one_interval_plus_margin_apart() -> None:
    bucket = TokenBucket(0.2, 1.0, margin_s=0.05)
    assert bucket.take_spaced(100.0, 3) == pytest.approx((0.0, 5.05, 10.1))
    assert bucket.next_free == pytest.approx(115.15)  # the next message after the last part


def test_parts_that_fit_the_burst_go_at_once_but_for_the_margin() -> None:
    bucket = TokenBucket(1.0, 3.0, margin_s=0.5)
    assert bucket.take_spaced(10.0, 2) == (0.0, 0.0)  # 2.5 tokens of tolerance here
    assert bucket.next_free == pytest.approx(10.5)
    assert bucket.take_spaced(10.5, 2) == pytest.approx((0.0, 1.0))  # half a token left


@settings(max_examples=200, deadline=None)
@given(rate=st.floats(0.05, 200.0), burst=st.sampled_from([0.0, 1.0, 2.0, 5.0]),
       jitter=st.floats(0.0, 0.5), seed=st.integers(0, 2**32))
def test_spaced_parts_never_violate_at_the_gateway_despite_jitter(
        rate: float, burst: float, jitter: float, seed: int) -> None:
    """Messages of 1 to 4 parts, each taken once a token is there, every part arriving
    0..jitter after its offset: the gateway's bucket never finds one too many."""
    rng = random.Random(seed)
    bucket = TokenBucket(rate, burst, margin_s=jitter)
    now, arrivals = 0.0, list[float]()
    while len(arrivals) < 400:
        now = max(now + rng.expovariate(rate * 3), bucket.next_free)
        arrivals += [now + offset + rng.uniform(0.0, jitter)
                     for offset in bucket.take_spaced(now, rng.randint(1, 4))]
    assert simulator_violations(sorted(arrivals), rate, burst) == 0


def test_the_reference_checkers_do_catch_violations() -> None:
    assert simulator_violations([0.0, 4.9], 0.2, 0.0) == 1
    assert window_violations([0.0, 4.9], 0.2, 0.0) == 1
    assert simulator_violations([0.0, 5.0, 10.0], 0.2, 0.0) == 0
    assert simulator_violations([0.0, 0.0, 0.0, 1.0], 1.0, 3.0) == 0
    assert simulator_violations([0.0, 0.0, 0.0, 0.5], 1.0, 3.0) == 1
