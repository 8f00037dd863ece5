"""Latency and throughput from cumulative counts sampled over time — pure.

The sampler records, at times t[i], how many messages had entered the queue, passed the
gateway and reached a final state. Messages go through in (nearly) first-in first-out
order (one stream read in order, receipts after a fixed delay), so the k-th message to
pass the gateway is, to a good approximation, the k-th one to have entered it: its wait
is the horizontal distance between the two curves at height k (queueing theory's
cumulative-flow diagram). The times at which a curve reaches k are interpolated linearly
between samples, so the resolution is about one sampling period.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

RANKS = 2000  # heights at which the curves are compared: enough for a 99th percentile


def time_to_reach(times: Sequence[float], counts: Sequence[float], level: float
                  ) -> float | None:
    """When the non-decreasing `counts` first reach `level`; None if they never do."""
    index = bisect.bisect_left(counts, level)
    if index >= len(counts):
        return None
    if index == 0:
        return times[0]
    t0, t1 = times[index - 1], times[index]
    c0, c1 = counts[index - 1], counts[index]
    return t0 + (t1 - t0) * (level - c0) / (c1 - c0)


def curve_delays(times: Sequence[float], earlier: Sequence[float], later: Sequence[float],
                 total: int) -> list[float]:
    """Seconds from `earlier` to `later` reaching each of RANKS evenly spread heights in
    (0, total]; heights `later` never reaches are left out."""
    delays: list[float] = []
    steps = min(RANKS, total)
    for step in range(1, steps + 1):
        level = total * step / steps
        start = time_to_reach(times, earlier, level)
        end = time_to_reach(times, later, level)
        if start is not None and end is not None:
            delays.append(max(0.0, end - start))
    return delays


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile of `values` (nearest rank on the sorted values); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def rates(times: Sequence[float], counts: Sequence[float], window_s: float
          ) -> tuple[list[float], list[float]]:
    """(window end times, messages/s in each window): the increase of `counts` over
    consecutive windows of `window_s`, measured between the samples closest to each edge."""
    if len(times) < 2:
        return [], []
    ends: list[float] = []
    per_second: list[float] = []
    start = 0
    edge = times[0] + window_s
    for index, moment in enumerate(times):
        if moment >= edge or index == len(times) - 1:
            span = moment - times[start]
            if span > 0:
                ends.append(moment)
                per_second.append((counts[index] - counts[start]) / span)
            start = index
            edge = moment + window_s
    return ends, per_second


def steady_rate(times: Sequence[float], passed: Sequence[float], lines: int, burst: int
                ) -> float | None:
    """Messages/s a pool of `lines` sustains once each has spent its initial `burst`: from
    the moment lines x burst messages had passed to the moment m more turns of every line
    had (lines x m more messages, m as large as the run allows). Each line is used once a
    turn, in much the same order every turn, so the window holds whole turns whatever each
    line's phase: a burst-then-wait rhythm is not mistaken for a faster or slower rate.
    None when the run is shorter than one turn after the burst."""
    start = lines * burst
    turns = (int(passed[-1]) - start) // lines if passed else 0
    if turns < 1:
        return None
    begin = time_to_reach(times, passed, start)
    end = time_to_reach(times, passed, start + turns * lines)
    if begin is None or end is None or end <= begin:
        return None
    return turns * lines / (end - begin)
