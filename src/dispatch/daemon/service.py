"""The daemon's task tree and its shutdown.

    reader ──► outlet per gateway ──► senders ──► outcomes ──► recorder
       ▲       (channel, or line      │
    reclaimer   scheduler for pools)  │
                      ▲               │
                   retrier ◄──────────┘ (transient errors)           receipt sweeper
    inbox: receipts and replies (HTTP endpoint, gateway adapters)   metrics (HTTP)
    answerer: HELP answers and opt-out confirmations, off the campaign path (answers.py)

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

import trio

from dispatch.daemon.answers import Answerer, answer_texts
from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.inbox import Inbox
from dispatch.daemon.inflight import InFlightNumbers
from dispatch.daemon.line_feed import LineFeed, LinePlan
from dispatch.daemon.messages import Message
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.notify import sd_notify
from dispatch.daemon.optout_check import optout_check
from dispatch.daemon.outlet import Outlet
from dispatch.daemon.reader import Reader
from dispatch.daemon.recorder import Recorder
from dispatch.daemon.replies import ReplyHandler
from dispatch.daemon.retrier import Retrier
from dispatch.daemon.sender import Sender
from dispatch.daemon.shared_check import SharedOptOutCheck
from dispatch.daemon.sweeper import ReceiptSweeper
from dispatch.daemon.tracker import Tracker
from dispatch.gateways.base import Gateway
from dispatch.httpserver import serve_http
from dispatch.policy.backoff import RetryPolicy
from dispatch.policy.waiting import WindowWaiter
from dispatch.settings import AnswerSettings, DaemonSettings
from dispatch.store.line_leases import LineLeases
from dispatch.store.queue import Queue
from dispatch.vocabulary import Outcome

log = logging.getLogger(__name__)

WAITER_CAPACITY = 100_000  # messages held for their window; past it, the retrier holds them

# Builds the gateways once the receipt callback URL (which needs the bound port) is known.
GatewayFactory = Callable[[str], dict[str, Gateway]]


@dataclass(frozen=True)
class Ports:
    inbound: int
    metrics: int


class Daemon:
    def __init__(self, settings: DaemonSettings, queue: Queue, book: CampaignBook,
                 make_gateways: GatewayFactory, metrics: DaemonMetrics | None = None, *,
                 answers: AnswerSettings | None = None,
                 lines: Mapping[str, LinePlan] | None = None,
                 line_leases: LineLeases | None = None) -> None:
        """`answers`: how to answer HELP and opt-outs (None: no answers); `lines`: the line
        plan of each gateway with pools (its pools' campaigns go out through its line
        scheduler); `line_leases`: where the lines are shared with other daemons (None:
        this daemon drives every line)."""
        self._settings = settings
        self._lines = lines or {}
        self._line_leases = line_leases
        self._queue = queue
        self._book = book
        self._make_gateways = make_gateways
        self._gateways: dict[str, Gateway] = {}
        self.metrics = metrics or DaemonMetrics()
        self.tracker = Tracker()
        self._submitting = InFlightNumbers()
        replies = ReplyHandler(queue, lambda: list(book.campaigns), self._submitting,
                               texts=answer_texts(answers), identity_of=book.identity_of)
        self._answerer = None if answers is None else Answerer(
            queue.answers, queue.optouts.secret, answers, self.metrics)
        self._inbox = Inbox(queue, self.metrics, settings.record_batch_size, replies)
        self._retrier = Retrier()
        self._optout_check = SharedOptOutCheck(optout_check(queue.optouts, self.metrics))
        # Messages outside their sending window, until it opens (wall clock).
        self._waiter: WindowWaiter[Message] = WindowWaiter(WAITER_CAPACITY)
        # Set by stop(): the reader and reclaimer finish the batch in hand and return. Not a
        # cancellation: a batch admitted in Redis must reach the senders, not be dropped.
        self._stopping = trio.Event()
        self._all = trio.CancelScope()

    def stop(self) -> None:
        """Stop taking work and finish what is in hand within the grace period."""
        if self._stopping.is_set():
            self._all.cancel()  # asked twice: stop now
            return
        log.info("stopping: finishing %d messages in hand", len(self.tracker))
        self._stopping.set()
        self._all.deadline = trio.current_time() + self._settings.shutdown_grace_s

    async def run(self, *, task_status: trio.TaskStatus[Ports] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        with self._all:
            async with trio.open_nursery() as servers:
                ports = await self._start_servers(servers)
                self._gateways = self._make_gateways(self._callback_url(ports.inbound))
                for gateway in self._gateways.values():
                    await servers.start(gateway.run, self._inbox)
                if self._answerer is not None:
                    servers.start_soon(self._answerer.run, self._gateways)
                task_status.started(ports)
                try:
                    await self._pipeline()
                finally:
                    servers.cancel_scope.cancel()
                    with trio.CancelScope(shield=True):
                        for gateway in self._gateways.values():
                            await gateway.aclose()

    def _callback_url(self, inbound_port: int) -> str:
        s = self._settings
        return s.public_inbound_url or f"http://{s.inbound_host}:{inbound_port}/receipts"

    async def _start_servers(self, nursery: trio.Nursery) -> Ports:
        s = self._settings
        nursery.start_soon(self._inbox.run)
        nursery.start_soon(self._optout_check.run)
        inbound = await nursery.start(serve_http, self._inbox.handle, s.inbound_host,
                                      s.inbound_port)
        metrics = await nursery.start(serve_http, self.metrics.handle, s.metrics_host,
                                      s.metrics_port)
        return Ports(inbound, metrics)

    async def _pipeline(self) -> None:
        s = self._settings
        outcome_send, outcome_receive = trio.open_memory_channel[tuple[str, Outcome]](
            s.record_batch_size * 4)
        channels = {name: trio.open_memory_channel[Message](s.batch_size * 2)
                    for name in self._gateways}
        feeds = {name: LineFeed(name, plan, self._line_leases, self._queue.consumer,
                                self._gateways[name].parts)
                 for name, plan in self._lines.items() if name in self._gateways}
        outlets = {name: Outlet(self._book, pair[0], feeds.get(name))
                   for name, pair in channels.items()}
        reader = Reader(self._queue, self._book, self.tracker, outlets, self.metrics,
                        batch_size=s.batch_size, block_ms=s.read_block_ms,
                        max_held=s.batch_size * 4, claim_idle_s=s.claim_idle_s,
                        stopping=self._stopping, waiting=partial(self._not_busy, feeds),
                        room=partial(_room, list(feeds.values())))
        recorder = Recorder(self._queue, self.tracker, self.metrics, s.record_batch_size,
                            s.record_delay_ms / 1000)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(recorder.run, outcome_receive)
            for feed in feeds.values():
                self.metrics.watch_lines(feed.gateway, feed.scheduler, feed.pools)
                nursery.start_soon(feed.keep_leases)
            async with outcome_send:
                for name, (_, receive) in channels.items():
                    self._start_senders(nursery, name, receive, outcome_send, feeds.get(name))
                nursery.start_soon(self._intake_tasks, reader, outlets,
                                   [(feed, outcome_send.clone()) for feed in feeds.values()])
        for feed in feeds.values():  # every sender is done: nothing is out on the lines
            await feed.leave()

    def _not_busy(self, feeds: Mapping[str, LineFeed]) -> int:
        """Held messages that are not work in progress: waiting for their window, queued
        for a line while their campaign is paused, or sending parts spaced out."""
        return len(self._waiter) + sum(feed.paused_held() + feed.spacing
                                       for feed in feeds.values())

    def _start_senders(self, nursery: trio.Nursery, name: str,
                       receive: trio.MemoryReceiveChannel[Message],
                       outcome_send: trio.MemorySendChannel[tuple[str, Outcome]],
                       lines: LineFeed | None) -> None:
        """`concurrency` senders on the gateway's channel, and as many on its lines (idle
        unless campaigns of both kinds are running)."""
        gateway = self._gateways[name]
        with receive:
            for _ in range(gateway.concurrency):
                nursery.start_soon(self._sender(name, outcome_send).run, receive.clone())
                if lines is not None:
                    nursery.start_soon(self._sender(name, outcome_send).run_lines, lines)

    def _sender(self, name: str, outcome_send: trio.MemorySendChannel[tuple[str, Outcome]]
                ) -> Sender:
        s = self._settings
        return Sender(self._gateways[name], self._book, self._retrier,
                      RetryPolicy(s.max_attempts, s.retry_base_s, s.retry_max_s),
                      self.metrics.gateway(name), outcome_send.clone(), self._waiter,
                      self._optout_check, self._submitting)

    async def _intake_tasks(self, reader: Reader, outlets: dict[str, Outlet],
                            feeds: list[tuple[LineFeed, trio.MemorySendChannel[
                                tuple[str, Outcome]]]]) -> None:
        """Reader and reclaimer until stop(); the retrier, sweeper and campaign status of
        the line schedulers beside them. When the reader is done, the rest stops (waiting
        retries stay pending in Redis), the gateway channels close and the line schedulers
        drain, which lets the senders finish and end."""
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._retrier.run, outlets)
                nursery.start_soon(self._release_waiting, outlets)
                nursery.start_soon(ReceiptSweeper(self._queue, self.metrics).run)
                for feed, outcomes in feeds:
                    nursery.start_soon(feed.follow, self._book, outcomes)
                async with trio.open_nursery() as readers:
                    readers.start_soon(reader.run)
                    readers.start_soon(reader.refresh_forever)
                    readers.start_soon(reader.reclaim_forever)
                nursery.cancel_scope.cancel()
        finally:
            for outlet in outlets.values():
                outlet.close()
            await _drain([feed for feed, _ in feeds])

    async def _release_waiting(self, outlets: dict[str, Outlet]) -> None:
        """Messages whose window opened go back to their gateway's senders."""
        batches_send, batches = trio.open_memory_channel[list[Message]](0)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._waiter.run, batches_send)
            async for released in batches:
                for message in released:
                    gateway = self._book.campaigns[message.campaign].gateway
                    await outlets[gateway].send(message)


async def _room(feeds: list[LineFeed]) -> None:
    """Until every line scheduler wants more messages."""
    for feed in feeds:
        await feed.wait_room()


async def _drain(feeds: list[LineFeed]) -> None:
    """Let the line schedulers hand out what they hold, then close them (also when the
    grace period runs out meanwhile)."""
    try:
        async with trio.open_nursery() as nursery:
            for feed in feeds:
                nursery.start_soon(feed.drain)
    finally:
        for feed in feeds:
            feed.close()


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def watch_signals(daemon: Daemon, stop_signals: Sequence[int] = STOP_SIGNALS) -> None:
    with trio.open_signal_receiver(*stop_signals) as signals:
        async for signum in signals:
            log.info("received %s", signal.Signals(signum).name)
            sd_notify("STOPPING=1")
            daemon.stop()


def announce(ports: Ports, consumer: str) -> None:
    """One JSON line on stdout with the bound ports (tests and the demo read it)."""
    print(json.dumps({"inbound_port": ports.inbound, "metrics_port": ports.metrics,
                      "consumer": consumer}), flush=True)
    sys.stdout.flush()
    sd_notify("READY=1")
