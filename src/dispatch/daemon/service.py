"""The daemon's task tree, run and stopped. Nothing is built here: the composition root
(dispatch.app) builds every part and hands them over.

    reader ──► outlet per gateway ──► senders ──► outcomes ──► recorder
       ▲       (channel, or line      │
    reclaimer   scheduler for pools)  │
                      ▲               │
                   retrier ◄──────────┘ (transient errors)           receipt sweeper
    inbox: receipts and replies (gateway callbacks on the inbound port, SMPP deliveries)
    answerer: HELP answers and opt-out confirmations, off the campaign path
    metrics (HTTP)

Start: the inbox's workers and the shared opt-out check, the inbound and metrics servers,
each gateway (SMPP: once a bind is up or has failed), the answerer; then the daemon is
ready (`run` reports its ports) and the pipeline starts.

Shutdown (SIGTERM/SIGINT, or `stop()`): the reader, reclaimer and retrier stop taking
work, which closes the gateway channels; the line schedulers hand out what active
campaigns still have queued, then close; the senders finish what they hold, the recorder
records it, and the daemon exits. Whatever is not finished within the grace period stays
pending in Redis and is taken up again on the next start.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import trio

from dispatch.daemon.lifecycle import Lifecycle
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.line_feed import LineFeed, drain
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.outlet import Outlet
from dispatch.daemon.outbound.reader import Reader
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.gateways.base import Gateway, Inbound
from dispatch.httpserver import DEFAULT_LIMITS, Handler, Limits, serve_listeners

log = logging.getLogger(__name__)

Task = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Ports:
    inbound: int | None  # None: no gateway posts back (SMPP only), no port served
    metrics: int


@dataclass(frozen=True)
class Endpoint:
    """One of the daemon's HTTP servers: its handler, on listeners opened beforehand."""

    handler: Handler
    listeners: Sequence[trio.SocketListener]
    limits: Limits = DEFAULT_LIMITS  # what one client may take of it


@dataclass(frozen=True)
class Serving:
    """What answers the outside world and runs beside the pipeline: up before the daemon
    says it is ready."""

    inbound: Endpoint | None  # the gateways' callbacks, /healthz; None: none posts back
    metrics: Endpoint
    gateways: Mapping[str, Gateway]
    inbox: Inbound  # where the gateways hand receipts and replies
    workers: Sequence[Task]  # the inbox's recording workers, the shared opt-out check
    answerer: Task | None  # HELP answers and opt-out confirmations (needs the gateways)


@dataclass(frozen=True)
class Pipeline:
    """reader → outlets → senders → recorder, and what brings messages back around."""

    reader: Reader
    outlets: Mapping[str, Outlet]
    feeds: Sequence[LineFeed]  # the line schedulers of the gateways with pools
    senders: Sequence[Task]
    recorder: Task
    # Until the reader is done: the retrier, the window waiter's releases, the receipt
    # sweeper, the line schedulers following campaign status.
    beside: Sequence[Task]
    stopping: trio.Event  # set by stop(): the reader finishes the batch in hand and returns
    tracker: Tracker  # messages admitted, not yet recorded
    waiter: WindowWaiter[Message]  # messages outside their sending window


class Daemon:
    def __init__(self, serving: Serving, pipeline: Pipeline, metrics: DaemonMetrics,
                 shutdown_grace_s: float, lifecycle: Lifecycle) -> None:
        self._serving = serving
        self._pipeline = pipeline
        self.metrics = metrics
        self.lifecycle = lifecycle  # what systemd and /healthz are told
        self._grace_s = shutdown_grace_s
        self._all = trio.CancelScope()

    @property
    def tracker(self) -> Tracker:
        return self._pipeline.tracker

    @property
    def waiter(self) -> WindowWaiter[Message]:
        return self._pipeline.waiter

    def stop(self) -> None:
        """Stop taking work and finish what is in hand within the grace period. Not a
        cancellation: a batch admitted in Redis must reach the senders, not be dropped."""
        stopping = self._pipeline.stopping
        if stopping.is_set():
            self._all.cancel()  # asked twice: stop now
            return
        log.info("stopping: finishing %d messages in hand", len(self.tracker))
        self.lifecycle.stopping()  # STOPPING=1, before draining
        stopping.set()
        self._all.deadline = trio.current_time() + self._grace_s

    async def run(self, *, task_status: trio.TaskStatus[Ports] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        with self._all:
            async with trio.open_nursery() as servers:
                task_status.started(await self._serve(servers))
                try:
                    await self._run_pipeline()
                finally:
                    servers.cancel_scope.cancel()
                    with trio.CancelScope(shield=True):
                        for gateway in self._serving.gateways.values():
                            await gateway.aclose()

    async def _serve(self, nursery: trio.Nursery) -> Ports:
        serving = self._serving
        for worker in serving.workers:
            nursery.start_soon(worker)
        inbound = (None if serving.inbound is None else
                   await nursery.start(partial(serve_listeners, limits=serving.inbound.limits),
                                       serving.inbound.handler, serving.inbound.listeners))
        metrics = await nursery.start(serve_listeners, serving.metrics.handler,
                                      serving.metrics.listeners)
        for gateway in serving.gateways.values():
            await nursery.start(gateway.run, serving.inbox)
        if serving.answerer is not None:
            nursery.start_soon(serving.answerer)
        return Ports(inbound, metrics)

    async def _run_pipeline(self) -> None:
        pipeline = self._pipeline
        async with trio.open_nursery() as nursery:
            nursery.start_soon(pipeline.recorder)
            for feed in pipeline.feeds:
                nursery.start_soon(feed.keep_leases)
            for sender in pipeline.senders:
                nursery.start_soon(sender)
            nursery.start_soon(self._intake)
        for feed in pipeline.feeds:  # every sender is done: nothing is out on the lines
            await feed.leave()

    async def _intake(self) -> None:
        """Reader and reclaimer until stop(), the `beside` tasks with them. When the reader
        is done, the rest stops (waiting retries stay pending in Redis), the gateway
        channels close and the line schedulers drain, which lets the senders finish and
        end."""
        pipeline = self._pipeline
        try:
            async with trio.open_nursery() as nursery:
                for task in pipeline.beside:
                    nursery.start_soon(task)
                async with trio.open_nursery() as readers:
                    readers.start_soon(pipeline.reader.run)
                    readers.start_soon(pipeline.reader.refresh_forever)
                    readers.start_soon(pipeline.reader.reclaim_forever)
                nursery.cancel_scope.cancel()
        finally:
            for outlet in pipeline.outlets.values():
                outlet.close()
            await drain(pipeline.feeds)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def watch_signals(daemon: Daemon, stop_signals: Sequence[int] = STOP_SIGNALS) -> None:
    with trio.open_signal_receiver(*stop_signals) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            daemon.stop()


def announce(ports: Ports, consumer: str) -> None:
    """One JSON line on stdout with the bound ports (tests and the demo read it); READY=1
    follows it (Lifecycle.ready)."""
    print(json.dumps({"inbound_port": ports.inbound, "metrics_port": ports.metrics,
                      "consumer": consumer}), flush=True)
    sys.stdout.flush()
