"""The benchmark's result: one JSON-able dict, and the same as a few lines of text — pure.

Rates count messages that reached a final state (delivered, failed or expired: every
receipt recorded) per second of the measured interval. Latencies:
- `p50_ms`/`p99_ms`, enqueue → gateway acceptance: the daemons' own
  dispatch_queue_wait_seconds histogram, interpolated inside its buckets (coarse: bounds
  0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 s...; the bucket holding the
  quantile is cut at the run's length, which no wait can exceed);
- the same, and submit → receipt recorded (`receipt_p50_ms`/`receipt_p99_ms`), from the
  cumulative counts sampled every `sample_s` (first in, first out; see curves.py).
In backlog mode the enqueue → submit wait is time spent queued behind the rest of the
campaign, i.e. a property of the test, not of the pipeline: use --enqueue-rate for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dispatch.bench.curves import curve_delays, quantile, steady_rate
from dispatch.bench.measure import ProcStats, counter_total, histogram_buckets, histogram_quantile
from dispatch.bench.options import BenchOptions
from dispatch.bench.pipeline import PipelineRun
from dispatch.lines.bucket import bucket_size
from dispatch.vocabulary import FINAL_STATES

QUEUE_WAIT = "dispatch_queue_wait_seconds"
SUBMIT_LATENCY = "dispatch_submit_latency_seconds"
MIN_HEIGHTS = 100  # of curves.RANKS: fewer, and a quantile of the curves means nothing


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def histogram_ms(lines: list[str], metric: str, most: float) -> dict[str, float | None]:
    buckets = histogram_buckets(lines, metric)
    return {"p50_ms": ms(histogram_quantile(0.5, buckets, most)),
            "p99_ms": ms(histogram_quantile(0.99, buckets, most))}


def curve_ms(run: PipelineRun, earlier: str, later: str) -> dict[str, float | None]:
    series = run.series
    delays = curve_delays(series["t"], series[earlier], series[later],
                          run.enqueue.accepted)
    if len(delays) < min(MIN_HEIGHTS, run.enqueue.accepted):
        return {"p50_ms": None, "p99_ms": None}  # too few messages got through to tell
    return {"p50_ms": ms(quantile(delays, 0.5)), "p99_ms": ms(quantile(delays, 0.99))}


def latencies(run: PipelineRun) -> dict[str, Any]:
    # Nothing waited longer than the run lasted: the top of a wide bucket is cut there.
    most = run.ended_at
    return {
        "enqueue_to_submit": {**histogram_ms(run.metrics, QUEUE_WAIT, most),
                              "method": f"{QUEUE_WAIT} histogram, interpolated in buckets "
                                        "(the top one cut at the run's length)"},
        "enqueue_to_submit_curves": {**curve_ms(run, "entered", "passed"),
                                     "method": "cumulative counts, first in first out"},
        "submit_to_receipt": {**curve_ms(run, "passed", "final"),
                              "method": "cumulative counts, first in first out"},
        "gateway_request": {**histogram_ms(run.metrics, SUBMIT_LATENCY, most),
                            "method": f"{SUBMIT_LATENCY} histogram (one request or batch)"},
    }


def process_table(run: PipelineRun, messages: int) -> dict[str, dict[str, float | None]]:
    """CPU over the measured interval (and per message) and peak RSS of each process."""
    table: dict[str, dict[str, float | None]] = {}
    for name, end in run.procs_end.items():
        start = run.procs_start.get(name, ProcStats(0.0, 0.0, 0.0))
        cpu = end.cpu_s - start.cpu_s
        table[name] = {"cpu_s": round(cpu, 2), "cpu_s_total": round(end.cpu_s, 2),
                       "cpu_us_per_message": round(cpu / messages * 1e6, 1)
                       if messages else None, "peak_rss_mb": round(end.peak_rss_mb, 1)}
    return table


def cpu_per_message(procs: Mapping[str, Mapping[str, float | None]]) -> dict[str, float | None]:
    """Microseconds of CPU per message: the daemons' together, Redis', the simulator's
    (the gateway: what is not the product's share)."""
    daemons = [row["cpu_us_per_message"] for name, row in procs.items()
               if name.startswith("daemon")]
    redis = [row["cpu_us_per_message"] for name, row in procs.items()
             if name.startswith("redis")]  # a cluster's masters: redis, redis-2...
    def of(name: str) -> float | None:
        return procs[name]["cpu_us_per_message"] if name in procs else None
    return {"daemons": round(sum(value or 0.0 for value in daemons), 1) if daemons else None,
            "redis": round(sum(value or 0.0 for value in redis), 1) if redis else None,
            "simulator": of("simulator")}


def throughput(run: PipelineRun) -> dict[str, float | None]:
    """Final messages per second from the start to the sample at which the last of them
    was final (so a stalled or timed-out run is not charged for the wait that followed)."""
    accepted = run.enqueue.accepted
    final = run.series["final"][-1] if run.series.get("final") else 0
    end = _first_reaching(run.series, "final", final) if final else None
    passed = _first_reaching(run.series, "passed", accepted)
    span = (end if end is not None else run.ended_at) - run.started_at
    return {"per_second": rounded(final / span) if final and span > 0 else 0.0,
            "submit_per_second": rounded(accepted / (passed - run.started_at))
            if passed is not None and passed > run.started_at else None,
            "elapsed_s": round(span, 3), "started_at_s": round(run.started_at, 3)}


def line_capacity(options: BenchOptions, run: PipelineRun) -> dict[str, float | None]:
    """With lines: their capacity in messages/s (lines x rate / parts per text) and the
    share of it sustained once every line has spent its initial burst (see
    curves.steady_rate), at gateway acceptance."""
    if not options.lines:
        return {}
    parts = options.text_parts
    capacity = options.lines * options.line_rate / parts
    burst = max(1, int(bucket_size(options.line_rate, options.line_burst)) // parts)
    series = run.series
    steady = steady_rate(series.get("t", []), series.get("passed", []), options.lines, burst)
    return {"line_capacity_per_second": round(capacity, 1),
            "steady_per_second": rounded(steady),
            "capacity_ratio": round(steady / capacity, 3) if steady else None}


def _first_reaching(series: Mapping[str, Any], name: str, level: int) -> float | None:
    for moment, count in zip(series.get("t", []), series.get(name, []), strict=True):
        if count >= level:
            return float(moment)
    return None


def accounting(run: PipelineRun) -> dict[str, int]:
    """lost: enqueued messages in no state at all, or accepted by the gateway and never
    recorded as such; unfinished: still on their way when the run ended (timeout, stall);
    receipts_dropped_by_gateway: receipts the simulator gave up on or had no room to hold
    (their messages stay submitted until the daemon's receipt timeout)."""
    counts = run.counts
    final = sum(count for state, count in counts.items() if state in FINAL_STATES)
    unfinished = sum(count for state, count in counts.items() if state not in FINAL_STATES)
    # Messages still in flight may be accepted and not recorded yet (a run cut short).
    known = final + counts.get("submitted", 0) + counts.get("in_flight", 0)
    unrecorded = max(0, int(run.simulator.get("accepted", 0)) - known)
    vanished = max(0, run.enqueue.accepted - final - unfinished)
    smpp = run.simulator.get("smpp") or {}
    receipts = run.simulator.get("receipts") or {}
    dropped = sum(int(smpp.get(key, 0)) for key in ("receipts_dropped", "receipts_failed"))
    return {"lost": vanished + unrecorded, "unfinished": unfinished,
            "receipts_dropped_by_gateway": dropped + int(receipts.get("failed", 0)),
            "duplicates": int(run.simulator.get("duplicates", 0)),
            "line_violations": int(run.simulator.get("line_violations", 0)),
            "gateway_accepted": int(run.simulator.get("accepted", 0))}


def build_report(options: BenchOptions, run: PipelineRun, ceiling: dict[str, Any] | None,
                 context: dict[str, Any]) -> dict[str, Any]:
    """The whole result; `context` adds where and when (load average, date, ...)."""
    accepted = run.enqueue.accepted
    rates = throughput(run)
    lat = latencies(run)
    procs = process_table(run, accepted)
    daemons = [row for name, row in procs.items() if name.startswith("daemon")]
    ceiling_rate = ceiling.get("per_second") if ceiling else None
    return {
        "gateway": options.gateway, "messages": options.messages, "accepted": accepted,
        "mode": "paced" if options.paced else "backlog", "complete": run.complete,
        "stop_reason": run.stop_reason,
        **rates, "ceiling_per_second": ceiling_rate,
        "ratio": round(rates["per_second"] / ceiling_rate, 3)
        if rates["per_second"] and ceiling_rate else None,
        **line_capacity(options, run),
        **accounting(run),
        "p50_ms": lat["enqueue_to_submit"]["p50_ms"],
        "p99_ms": lat["enqueue_to_submit"]["p99_ms"],
        "receipt_p50_ms": lat["submit_to_receipt"]["p50_ms"],
        "receipt_p99_ms": lat["submit_to_receipt"]["p99_ms"],
        "daemon_rss_mb": max((row["peak_rss_mb"] or 0.0 for row in daemons), default=None),
        "daemon_cpu_s": round(sum(row["cpu_s"] or 0.0 for row in daemons), 2),
        "redis_bytes_per_message": round((run.memory_after - run.memory_before) / accepted)
        if run.memory_after is not None and accepted else None,
        "retried": int(counter_total(run.metrics, "dispatch_messages", 'outcome="retried"')),
        "simulator": options.simulator, "cpu_us_per_message": cpu_per_message(procs),
        "latency": lat, "processes": procs,
        "enqueue": {"elapsed_s": round(run.enqueue.elapsed_s, 3),
                    "per_second": rounded(run.enqueue.rows / run.enqueue.elapsed_s)
                    if run.enqueue.elapsed_s > 0 else None},
        "ceiling": ceiling, "settings": settings_of(options), **context,
    }


def settings_of(options: BenchOptions) -> dict[str, Any]:
    return {"batch_size": options.batch_size, "concurrency": options.concurrency,
            "binds": options.binds if options.gateway == "smpp" else None,
            "window": options.window if options.gateway == "smpp" else None,
            "daemons": options.daemons, "lines": options.lines,
            "line_rate": options.line_rate, "line_burst": options.line_burst,
            "line_jitter_s": options.line_jitter_s,
            "enqueue_rate": options.enqueue_rate, "receipt_delay_ms": options.receipt_delay_ms,
            "sample_s": options.sample_s, "simulator_profile": "perfect",
            "simulator": options.simulator}


def text_lines(report: Mapping[str, Any]) -> list[str]:
    """The headline figures, one per line, for a person at a terminal."""
    def figure(value: Any, unit: str = "") -> str:
        return "n/a" if value is None else f"{value:,}{unit}"
    cpu = report["cpu_us_per_message"]
    lines = [
        f"gateway            {report['gateway']} ({report['mode']}, "
        f"{report['accepted']:,} messages"
        f"{'' if report['complete'] else ', INCOMPLETE: ' + report['stop_reason']})",
        f"end to end         {figure(report['per_second'])} messages/s",
        f"raw ceiling        {figure(report['ceiling_per_second'])} messages/s "
        f"(ratio {figure(report['ratio'])})",
        f"enqueue->submit    p50 {figure(report['p50_ms'], ' ms')}, "
        f"p99 {figure(report['p99_ms'], ' ms')}",
        f"submit->receipt    p50 {figure(report['receipt_p50_ms'], ' ms')}, "
        f"p99 {figure(report['receipt_p99_ms'], ' ms')}",
        f"lost {report['lost']}, duplicates {report['duplicates']}, "
        f"line violations {report['line_violations']}, unfinished {report['unfinished']}, "
        f"receipts dropped by the gateway {report['receipts_dropped_by_gateway']}",
        f"redis              {figure(report['redis_bytes_per_message'], ' bytes')}"
        " per queued message",
        f"CPU per message    daemons {figure(cpu['daemons'], ' us')} + redis "
        f"{figure(cpu['redis'], ' us')}; simulator ({report['simulator']}) "
        f"{figure(cpu['simulator'], ' us')}",
    ]
    if "line_capacity_per_second" in report:
        lines.insert(3, f"lines              {figure(report['steady_per_second'])} messages/s "
                        f"sustained of {figure(report['line_capacity_per_second'])} "
                        f"(ratio {figure(report['capacity_ratio'])})")
    for name, row in report["processes"].items():
        lines.append(f"{name:<18} {row['cpu_s']:>8.2f} s CPU "
                     f"({figure(row['cpu_us_per_message'], ' us')}/message), "
                     f"peak RSS {row['peak_rss_mb']} MB")
    return lines
