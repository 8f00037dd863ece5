"""Reading processes and metrics: /proc parsing, histogram quantiles, counters."""

from __future__ import annotations

import math
import os

import pytest

from dispatch.bench.measure import (
    counter_total,
    histogram_buckets,
    histogram_quantile,
    parse_cpu_ticks,
    parse_status_kb,
    read_proc,
)

# A /proc/<pid>/stat line whose command name holds a space and a parenthesis.
STAT = ("4242 (python (x) y) S 1 4242 4242 0 -1 4194304 100 0 0 0 "
        "250 75 3 4 20 0 3 0 12345 100000000 5000 18446744073709551615")
STATUS = "Name:\tpython\nVmPeak:\t  300000 kB\nVmHWM:\t   61440 kB\nVmRSS:\t   51200 kB\n"

EXPOSITION = """\
# HELP dispatch_queue_wait_seconds From enqueue to acceptance
# TYPE dispatch_queue_wait_seconds histogram
dispatch_queue_wait_seconds_bucket{gateway="default",le="0.01"} 0.0
dispatch_queue_wait_seconds_bucket{gateway="default",le="0.05"} 50.0
dispatch_queue_wait_seconds_bucket{gateway="default",le="0.1"} 90.0
dispatch_queue_wait_seconds_bucket{gateway="default",le="+Inf"} 100.0
dispatch_queue_wait_seconds_count{gateway="default"} 100.0
dispatch_queue_wait_seconds_sum{gateway="default"} 4.2
dispatch_submit_latency_seconds_bucket{gateway="default",le="0.01"} 7.0
dispatch_messages_total{gateway="default",outcome="submitted"} 100.0
dispatch_messages_total{gateway="default",outcome="retried"} 3.0
dispatch_messages_created{gateway="default",outcome="retried"} 1.7e+09
""".splitlines()


def test_cpu_ticks_are_utime_plus_stime_whatever_the_command_name() -> None:
    assert parse_cpu_ticks(STAT) == 250 + 75


def test_status_values_in_kb_and_zero_when_absent() -> None:
    assert parse_status_kb(STATUS, "VmHWM") == 61440
    assert parse_status_kb(STATUS, "VmRSS") == 51200
    assert parse_status_kb(STATUS, "VmSwap") == 0


def test_reading_this_process() -> None:
    stats = read_proc(os.getpid())
    assert stats is not None
    assert stats.cpu_s > 0
    assert stats.peak_rss_mb >= stats.rss_mb > 1


def test_a_process_that_is_gone_reads_as_none() -> None:
    assert read_proc(2**22 + 1) is None  # above the kernel's pid_max ceiling


def test_buckets_of_one_metric_only_with_inf_last() -> None:
    buckets = histogram_buckets(EXPOSITION, "dispatch_queue_wait_seconds")
    assert buckets == [(0.01, 0.0), (0.05, 50.0), (0.1, 90.0), (math.inf, 100.0)]


def test_buckets_of_several_daemons_add_up() -> None:
    assert histogram_buckets(EXPOSITION + EXPOSITION, "dispatch_queue_wait_seconds")[-1] \
        == (math.inf, 200.0)


def test_quantile_interpolates_inside_its_bucket() -> None:
    buckets = histogram_buckets(EXPOSITION, "dispatch_queue_wait_seconds")
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.05)
    # rank 70 lies 20/40 of the way through the (0.05, 0.1] bucket
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.075)
    # rank 25 in the first non-empty bucket, which starts at the previous bound 0.01
    assert histogram_quantile(0.25, buckets) == pytest.approx(0.03)


def test_quantile_in_the_inf_bucket_is_the_last_finite_bound() -> None:
    buckets = histogram_buckets(EXPOSITION, "dispatch_queue_wait_seconds")
    assert histogram_quantile(0.99, buckets) == 0.1


def test_quantile_of_nothing_is_none() -> None:
    assert histogram_quantile(0.5, []) is None
    assert histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None


def test_counter_total_filters_by_label_and_ignores_created() -> None:
    assert counter_total(EXPOSITION, "dispatch_messages", 'outcome="retried"') == 3.0
    assert counter_total(EXPOSITION, "dispatch_messages") == 103.0
    assert counter_total(EXPOSITION, "dispatch_receipts") == 0.0


def test_a_known_longest_value_narrows_the_top_buckets() -> None:
    buckets = [(60.0, 50.0), (300.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.99, buckets) == pytest.approx(60 + 240 * 49 / 50)
    assert histogram_quantile(0.99, buckets, most=110.0) == pytest.approx(60 + 50 * 49 / 50)
    only_inf = [(1.0, 0.0), (math.inf, 10.0)]
    assert histogram_quantile(0.5, only_inf, most=3.0) == pytest.approx(2.0)
