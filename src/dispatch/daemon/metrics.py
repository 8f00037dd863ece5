"""The daemon's Prometheus metrics, on an explicit registry (never the global one).

Label children used on the hot path are resolved once and kept, so counting a message
costs an increment, not a label lookup. What can be read when scraped is read then
(collectors.py: gateways, campaigns), and the receipts' latency is tallied in Redis by the
script that records them, a batch at a time: no metric adds work per message beyond an
increment.

Series of one process per daemon: everything but the campaign series
(dispatch_campaign_messages, dispatch_queue_depth), which describe Redis, not the daemon,
and are exported by one daemon only (`daemon.campaign_metrics`: with `--processes N`, worker
1), so that a sum over daemons does not count them N times.
"""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from typing import Any

import trio
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

import dispatch
from dispatch.daemon.collectors import (
    BulkHistogram,
    CampaignSeries,
    GatewaySeries,
    RouteSeries,
)
from dispatch.gateways.base import Gateway
from dispatch.gateways.route import RouteGateway
from dispatch.httpserver import Request, Response, error_response
from dispatch.lines.scheduler import Line, LineScheduler
from dispatch.store.receipts import AgeCounts

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
CALL_DURATION_BUCKETS = (1, 5, 10, 20, 30, 45, 60, 90, 120, 300)
QUEUE_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
RECEIPT_RESULTS = ("delivered", "failed", "expired", "parked", "repeated", "intermediate",
                   "invalid", "orphan_dropped")
# SMS receipts come within seconds to hours (a phone switched off: up to the validity
# period, often a day or two); past a day, +Inf.
RECEIPT_LATENCY_BUCKETS = (1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 43200,
                           86400)
LOOP_LAG_PERIOD_S = 1.0  # the event loop's lag is how late a sleep this long wakes
UNKNOWN_GATEWAY = "unknown"  # a receipt of a campaign this daemon does not know (any more)


class GatewayMetrics:
    def __init__(self, metrics: DaemonMetrics, gateway: str) -> None:
        self.submitted = metrics.messages.labels(gateway, "submitted")
        self.failed = metrics.messages.labels(gateway, "failed")
        self.retried = metrics.messages.labels(gateway, "retried")
        self.throttled = metrics.throttled.labels(gateway)
        self.latency = metrics.submit_latency.labels(gateway)
        self.queue_wait = partial(metrics.queue_wait.observe_all, gateway)
        metrics.queue_wait.series(gateway)


class DaemonMetrics:
    def __init__(self) -> None:
        # No `<counter>_created` gauge beside every counter and histogram series: it would
        # double the series Prometheus stores, for a start time process_start_time_seconds
        # already gives (process-wide in prometheus_client: the daemon is its only user).
        disable_created_metrics()  # type: ignore[no-untyped-call]  # (unannotated upstream)
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
        self.queue_wait = BulkHistogram(
            "dispatch_queue_wait_seconds", "From enqueue (the stream entry's time) to the "
            "gateway's acceptance, per message", QUEUE_WAIT_BUCKETS)
        self.registry.register(self.queue_wait)
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
            "were taken for (opt_out, opt_in, help, reply), or refused as unreadable "
            "(invalid: not stored)", ["intent"],
            registry=self.registry)
        self.inbound_rejected = Counter(
            "dispatch_inbound_rejected", "Posts to the inbound port refused (401) as not "
            "authentic, by gateway (\"unknown\" if none is named) and reason (unsigned, "
            "malformed, stale, bad_signature, no_secret, unknown_gateway)",
            ["gateway", "reason"], registry=self.registry)
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
            "dispatch_line_utilisation_ratio", "Share of this daemon's lines busy now (0 to "
            "1), by pool",
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
        self.ready = Gauge(
            "dispatch_ready", "1 once the daemon said READY=1 (Redis answers, every gateway "
            "bound or its failure reported); 0 before, and from the stop signal on",
            registry=self.registry)
        self.receipt_latency = BulkHistogram(
            "dispatch_receipt_latency_seconds", "From the gateway's acceptance of a message "
            "to its final receipt, by the gateway that accepted it (receipts recorded by "
            "this daemon)", RECEIPT_LATENCY_BUCKETS)
        self.registry.register(self.receipt_latency)
        self.gateways = GatewaySeries()
        self.registry.register(self.gateways)
        self.routes = RouteSeries()
        self.registry.register(self.routes)
        self.campaigns = CampaignSeries()
        self.registry.register(self.campaigns)
        self.redis_up = Gauge(
            "dispatch_redis_up", "1 while Redis answered this daemon's last PING (one every "
            "2 s), else 0: the messages in hand wait for it", registry=self.registry)
        self.event_loop_lag = Gauge(
            "dispatch_event_loop_lag_seconds", "How late the daemon's event loop woke from "
            f"its last {LOOP_LAG_PERIOD_S:g} s sleep (a busy or blocked loop delays "
            "everything)", registry=self.registry)
        self.build_info = Gauge(
            "dispatch_build_info", "Always 1: the version of dispatch and of Python this "
            "daemon runs", ["version", "python"], registry=self.registry)
        self.build_info.labels(_version(), platform.python_version()).set(1)
        ProcessCollector(registry=self.registry)  # process_cpu_seconds_total, RSS, fds...
        self.receipt_results = {name: self.receipts.labels(name) for name in RECEIPT_RESULTS}
        self._gateways: dict[str, GatewayMetrics] = {}

    def gateway(self, name: str) -> GatewayMetrics:
        if name not in self._gateways:
            self._gateways[name] = GatewayMetrics(self, name)
        return self._gateways[name]

    def watch_gateways(self, gateways: Iterable[Gateway]) -> None:
        """Errors, reachability and binds read from `gateways` when scraped; a zero
        receipt latency series for each that gets receipts (not the voice ones)."""
        for gateway in gateways:
            self.gateways.watch(gateway)
            if isinstance(gateway, RouteGateway):
                self.routes.watch(gateway)
            if not gateway.places_calls:
                self.receipt_latency.series(gateway.name)

    def receipts_aged(self, ages: Mapping[str, AgeCounts], gateway_of: Callable[[str], str]
                      ) -> None:
        """Receipt ages counted per campaign (Queue.record_receipts), by its gateway ("":
        unknown here)."""
        for campaign, counts in ages.items():
            self.receipt_latency.add(gateway_of(campaign) or UNKNOWN_GATEWAY, counts)

    async def measure_event_loop(self) -> None:
        """Until cancelled: sleep a second, and set how late the wake-up came."""
        while True:
            start = trio.current_time()
            await trio.sleep(LOOP_LAG_PERIOD_S)
            self.event_loop_lag.set(max(0.0, trio.current_time() - start - LOOP_LAG_PERIOD_S))

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
        body = generate_latest(self.registry)
        self.campaigns.scraped()  # with no await since: what `body` showed
        return Response(200, body, CONTENT_TYPE_LATEST)


def _version() -> str:
    try:
        return importlib.metadata.version("dispatch")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return dispatch.__version__


def _busy(lines: Sequence[Line]) -> int:
    """Lines with an assignment outstanding (one pass over the pool, at scrape time)."""
    return sum(1 for line in lines if line.busy)


def _utilisation(lines: Sequence[Line]) -> float:
    leased = _leased(lines)
    return _busy(lines) / leased if leased else 0.0


def _leased(lines: Sequence[Line]) -> int:
    return sum(1 for line in lines if line.leased)
