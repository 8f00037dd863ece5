"""The daemon's Prometheus metrics, on an explicit registry (never the global one).

Label children used on the hot path are resolved once and kept, so counting a message
costs an increment, not a label lookup.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from dispatch.httpserver import Request, Response, error_response
from dispatch.lines.scheduler import Line, LineScheduler

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CALL_DURATION_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 300)
QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
RECEIPT_RESULTS = ("delivered", "failed", "expired", "parked", "repeated", "intermediate",
                   "invalid")


class GatewayMetrics:
    def __init__(self, metrics: DaemonMetrics, gateway: str) -> None:
        self.submitted = metrics.messages.labels(gateway, "submitted")
        self.failed = metrics.messages.labels(gateway, "failed")
        self.retried = metrics.messages.labels(gateway, "retried")
        self.throttled = metrics.throttled.labels(gateway)
        self.latency = metrics.submit_latency.labels(gateway)
        self.queue_wait = metrics.queue_wait.labels(gateway)


class DaemonMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter(
            "dispatch_messages", "Messages by gateway and outcome of their submission",
            ["gateway", "outcome"], registry=self.registry)
        self.throttled = Counter(
            "dispatch_throttled", "Submissions the gateway answered 'too fast' (SMPP "
            "ESME_RTHROTTLED or ESME_RMSGQFUL, HTTP 429), by gateway; each is also retried",
            ["gateway"], registry=self.registry)
        self.receipts = Counter(
            "dispatch_receipts", "Delivery receipts received, by what became of them",
            ["result"], registry=self.registry)
        self.submit_latency = Histogram(
            "dispatch_submit_latency_seconds", "Time for a gateway to answer a submission "
            "request (one message or one batch)", ["gateway"], buckets=LATENCY_BUCKETS,
            registry=self.registry)
        self.queue_wait = Histogram(
            "dispatch_queue_wait_seconds", "From enqueue (the stream entry's time) to the "
            "gateway's acceptance, per message", ["gateway"], buckets=QUEUE_WAIT_BUCKETS,
            registry=self.registry)
        self.queue_depth = Gauge(
            "dispatch_queue_depth", "Messages queued and not yet taken, by campaign",
            ["campaign"], registry=self.registry)
        self.in_process = Gauge(
            "dispatch_in_process_messages", "Messages this daemon holds (admitted, not yet "
            "recorded)", registry=self.registry)
        self.answers = Counter(
            "dispatch_answers", "Answers to recipients (HELP, opt-out confirmations), by "
            "reason and result (sent, failed, retried)", ["reason", "result"],
            registry=self.registry)
        self.redis_errors = Counter(
            "dispatch_redis_errors", "Redis operations that failed and were retried",
            ["operation"], registry=self.registry)
        self.receipt_timeouts = Counter(
            "dispatch_receipt_timeouts", "Submitted messages expired because their final "
            "receipt never came (daemon.receipt_timeout_h)", registry=self.registry)
        self.inbound_messages = Counter(
            "dispatch_inbound_messages", "Messages from recipients (MO) stored, by what they "
            "were taken for (opt_out, opt_in, help, reply)", ["intent"],
            registry=self.registry)
        self.dead_letters = Counter(
            "dispatch_dead_letters", "Queue entries that could not be read at all",
            registry=self.registry)
        self.lines = Gauge(
            "dispatch_lines", "Lines this daemon drives (its leased share), by pool",
            ["pool"], registry=self.registry)
        self.lines_busy = Gauge(
            "dispatch_lines_busy", "Lines with a message handed out and not yet answered by "
            "the gateway (a call: not yet ended), by pool", ["pool"], registry=self.registry)
        self.line_utilisation = Gauge(
            "dispatch_line_utilisation", "Share of this daemon's lines busy now, by pool",
            ["pool"], registry=self.registry)
        self.waiting_for_line = Gauge(
            "dispatch_messages_waiting_for_line", "Messages held for a line of their pool, by "
            "gateway (paused campaigns' included)", ["gateway"], registry=self.registry)
        self.waiting_for_window = Gauge(
            "dispatch_messages_waiting_for_window", "Messages this daemon holds until their "
            "sending window opens in the recipient's zone, by campaign (sum over daemons; a "
            "campaign whose window is closed in mainland France is not read at all: its "
            "messages stay in dispatch_queue_depth)", ["campaign"], registry=self.registry)
        self.calls = Counter(
            "dispatch_calls", "Calls that ended, by outcome (human, machine, no_answer, busy, "
            "failed, unknown), and calls called again (retried), opted out (9 pressed) or "
            "whose end matched no call in progress here (unmatched)", ["outcome"],
            registry=self.registry)
        self.call_duration = Histogram(
            "dispatch_call_duration_seconds", "Connected time of the calls that ended",
            buckets=CALL_DURATION_BUCKETS, registry=self.registry)
        self.calls_in_progress = Gauge(
            "dispatch_calls_in_progress", "Calls placed by this daemon, not ended yet",
            registry=self.registry)
        self.receipt_results = {name: self.receipts.labels(name) for name in RECEIPT_RESULTS}
        self._gateways: dict[str, GatewayMetrics] = {}

    def gateway(self, name: str) -> GatewayMetrics:
        if name not in self._gateways:
            self._gateways[name] = GatewayMetrics(self, name)
        return self._gateways[name]

    def watch_lines(self, gateway: str, scheduler: LineScheduler[Any], pools: list[str]
                    ) -> None:
        """Line gauges read from `scheduler` when scraped (nothing on the hot path)."""
        self.waiting_for_line.labels(gateway).set_function(lambda: scheduler.queued)
        for pool in pools:
            lines = scheduler.lines(pool)
            self.lines.labels(pool).set_function(partial(_leased, lines))
            self.lines_busy.labels(pool).set_function(partial(_busy, lines))
            self.line_utilisation.labels(pool).set_function(partial(_utilisation, lines))

    async def handle(self, request: Request) -> Response:
        if request.path != "/metrics":
            return error_response(404, "not found; try /metrics")
        return Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)


def _busy(lines: Sequence[Line]) -> int:
    """Lines with an assignment outstanding (one pass over the pool, at scrape time)."""
    return sum(1 for line in lines if line.busy)


def _utilisation(lines: Sequence[Line]) -> float:
    leased = _leased(lines)
    return _busy(lines) / leased if leased else 0.0


def _leased(lines: Sequence[Line]) -> int:
    return sum(1 for line in lines if line.leased)
