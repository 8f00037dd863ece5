"""Latency and rates from cumulative counts."""

from __future__ import annotations

import pytest

from dispatch.bench.curves import curve_delays, quantile, rates, steady_rate, time_to_reach
from dispatch.bench.sampler import stage_totals


def test_time_to_reach_interpolates_between_samples() -> None:
    times, counts = [0.0, 1.0, 2.0], [0, 100, 300]
    assert time_to_reach(times, counts, 50) == pytest.approx(0.5)
    assert time_to_reach(times, counts, 200) == pytest.approx(1.5)
    assert time_to_reach(times, counts, 0) == 0.0
    assert time_to_reach(times, counts, 301) is None


def test_delays_between_two_curves_shifted_by_a_constant() -> None:
    times = [float(t) for t in range(11)]
    earlier = [min(1000, 200 * t) for t in range(11)]
    later = [max(0, min(1000, 200 * (t - 2))) for t in range(11)]  # two seconds behind
    delays = curve_delays(times, earlier, later, 1000)
    assert len(delays) == 1000
    assert quantile(delays, 0.5) == pytest.approx(2.0)
    assert quantile(delays, 0.99) == pytest.approx(2.0)


def test_heights_never_reached_are_left_out() -> None:
    times, earlier, later = [0.0, 1.0], [0, 10], [0, 5]
    assert len(curve_delays(times, earlier, later, 10)) == 5


def test_quantile_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert quantile(values, 0.5) == 50.0
    assert quantile(values, 0.99) == 99.0
    assert quantile([], 0.5) is None


def test_rates_per_window() -> None:
    times = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    counts = [0, 50, 100, 400, 700, 700, 700]
    ends, per_second = rates(times, counts, 1.0)
    assert ends == [1.0, 2.0, 3.0]
    assert per_second == [100.0, 600.0, 0.0]
    assert rates([0.0], [0], 1.0) == ([], [])


def test_stage_totals_from_state_counts() -> None:
    counts = {"queued": 5, "in_flight": 3, "submitted": 2, "delivered": 7, "failed": 1,
              "expired": 1, "suppressed": 0}
    assert stage_totals(counts) == (19, 11, 9)


def test_steady_rate_counts_whole_turns_of_the_lines_after_their_burst() -> None:
    # 10 lines, burst 1, one message each per 5 s turn, each turn sent in a 1 s rush: the
    # rate is 2/s whatever the rushes, once the first burst (the first 10) is out.
    times = [t / 10 for t in range(0, 300)]
    passed = [10 * (1 + int(t // 5)) if (t % 5) >= 1 else 10 * int(t // 5) + int(10 * (t % 5))
              for t in times]
    assert steady_rate(times, passed, 10, 1) == pytest.approx(2.0)
    assert steady_rate(times[:20], passed[:20], 10, 1) is None  # not one turn after the burst
