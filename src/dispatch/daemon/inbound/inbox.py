"""What gateways send us, gateway-neutral: delivery receipts and replies (MO), recorded,
then acknowledged.

Gateway adapters read their own protocol (gateways/*) and hand receipts and replies here
(the `Inbound` interface); each call returns only once what it carries is recorded (a
receipt applied, or parked until its submission is recorded), so nothing is acknowledged
to a gateway and then lost. Receipts are recorded in batches: one Lua call for a batch,
not one per receipt.

Receipts that join others (one HTTP request may carry one receipt) go through a queue of
jobs shared by several recording workers, each taking whatever is waiting when it is free
(natural batching, no linger). Adapters that batch themselves (SMPP: what one read
brought) record in the calling task, one hop less: an SMSC sends deliver_sm only while its
window has room, so receipts flow at (window / time to record and answer a batch).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import trio

from dispatch.daemon.batching import drain_ready
from dispatch.daemon.inbound.replies import ReplyHandler
from dispatch.daemon.metrics import RECEIPT_LATENCY_BUCKETS, DaemonMetrics
from dispatch.daemon.outbound.calls import CallBook
from dispatch.daemon.resilience import with_redis_retry
from dispatch.gateways.base import INVALID_REPLY
from dispatch.store.queue import Queue
from dispatch.store.receipts import ReceiptMaps
from dispatch.vocabulary import CallEnded, InboundMessage, Keypress, Receipt

log = logging.getLogger(__name__)
T = TypeVar("T")

# What receipt_apply.lua counts, in its order.
RECORD_RESULTS = ("delivered", "failed", "expired", "repeated", "parked")
RECORD_WORKERS = 4  # Redis round trips in flight for receipts that join others
# Receipts per Lua call: an unknown one is looked for in every receipt map (49 by
# default), and a script past Redis' 5 s limit answers every other command BUSY: 80 posts
# of 1 MiB (464,000 receipts) recorded in one call stopped the daemon.
RECEIPTS_PER_CALL = 2000


CALL_WORKERS = 2  # batches of call ends being settled at once


@dataclass
class Job(Generic[T]):
    """What one caller (an HTTP request) hands over, and the event it waits on."""

    items: Sequence[T]
    done: trio.Event = field(default_factory=trio.Event)


class Inbox:
    """Receipts and replies from every gateway (the `Inbound` of gateways.base)."""

    def __init__(self, queue: Queue, metrics: DaemonMetrics, batch_size: int,
                 replies: ReplyHandler, calls: CallBook | None = None,
                 workers: int = RECORD_WORKERS,
                 gateway_of: Callable[[str], str] = lambda campaign: "") -> None:
        """`calls`: the calls this daemon placed (None: it places none); `gateway_of`: a
        campaign's gateway (the receipt latency metric is by gateway)."""
        self._queue = queue
        self._gateway_of = gateway_of
        self._replies = replies
        self._calls = calls
        self._metrics = metrics
        self._batch_size = batch_size  # jobs (HTTP requests, SMPP reads) per Redis batch
        self._workers = workers
        self._send, self._receive = trio.open_memory_channel[Job[Receipt]](1024)
        self._call_send, self._call_jobs = trio.open_memory_channel[Job[CallEnded]](1024)

    async def receipts(self, receipts: Sequence[Receipt], *, join_others: bool = False
                       ) -> None:
        """Returns once the receipts are recorded (applied, or parked as orphans); with
        `join_others`, recorded by a worker together with other callers' receipts."""
        if not receipts:
            return
        if not join_others:
            await self._record(list(receipts))
            return
        await _handed_over(self._send, receipts)

    def not_recorded(self, kind: str, count: int = 1) -> None:
        if kind == INVALID_REPLY:
            self._metrics.inbound_messages.labels("invalid").inc(count)
        else:
            self._metrics.receipt_results[kind].inc(count)

    async def calls(self, ended: Sequence[CallEnded]) -> None:
        """Returns once each call's line is free and its message recorded (or waiting to
        be called again); settled together with the ends other callers hand over at the
        same moment (a status callback brings one)."""
        if self._calls is None:
            self._metrics.calls.labels("unmatched").inc(len(ended))
            return
        await _handed_over(self._call_send, ended)

    async def keypresses(self, presses: Sequence[Keypress]) -> None:
        """Returns once the 9s among them are on the suppression list."""
        stops = await with_redis_retry(
            "keypresses", lambda: self._replies.keypresses(presses), self._metrics)
        await self._replicated()
        if stops and self._calls is not None:
            self._metrics.calls.labels("opted_out").inc(len(stops))
            campaigns = Counter(campaign for press in stops
                                if (campaign := self._calls.campaign_of(press.gateway_id)))
            await self._calls.count({campaign: {"opted_out": count}
                                     for campaign, count in campaigns.items()})

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        """Returns once the replies are stored, and the opt-outs among them in force."""
        intents = await with_redis_retry(
            "replies", lambda: self._replies.handle(messages), self._metrics)
        await self._replicated()
        for intent in intents:
            self._metrics.inbound_messages.labels(str(intent)).inc()

    async def _replicated(self) -> None:
        """What was just recorded is on the replicas the settings ask for (redis.replicas)
        before the gateway gets its acknowledgement: a failover keeps it."""
        await with_redis_retry("replicas", self._queue.replicated, self._metrics)

    async def run(self) -> None:
        """Record receipts and settle call ends in batches; runs until cancelled."""
        async with trio.open_nursery() as nursery:
            for _ in range(self._workers):
                nursery.start_soon(self._batches_forever, self._receive, self._record)
            if self._calls is not None:
                for _ in range(CALL_WORKERS):
                    nursery.start_soon(self._batches_forever, self._call_jobs,
                                       self._calls.settle)

    async def _batches_forever(self, jobs_in: trio.MemoryReceiveChannel[Job[T]],
                               handle: Callable[[list[T]], Awaitable[None]]) -> None:
        while True:
            jobs = [await jobs_in.receive()]
            drain_ready(jobs_in, jobs, self._batch_size)
            items = [item for job in jobs for item in job.items]
            if items:
                await handle(items)
            for job in jobs:
                job.done.set()

    async def _record(self, receipts: list[Receipt]) -> None:
        maps = self._queue.receipt_maps()
        for start in range(0, len(receipts), RECEIPTS_PER_CALL):
            await self._record_some(receipts[start:start + RECEIPTS_PER_CALL], maps)

    async def _record_some(self, receipts: list[Receipt], maps: ReceiptMaps) -> None:
        rows = [(r.gateway_id, r.code, r.reason) for r in receipts]
        recorded = await with_redis_retry(
            "receipt_record", lambda: self._queue.record_receipts(
                rows, maps, age_bounds_s=RECEIPT_LATENCY_BUCKETS), self._metrics)
        await self._replicated()
        for name, count in zip(RECORD_RESULTS, recorded.counts, strict=True):
            self._metrics.receipt_results[name].inc(count)
        self._metrics.receipt_results["orphan_dropped"].inc(recorded.dropped)
        self._metrics.receipts_aged(recorded.ages, self._gateway_of)



async def _handed_over(jobs: trio.MemorySendChannel[Job[T]], items: Sequence[T]) -> None:
    """Until a worker has handled `items` (with whatever else was waiting)."""
    job = Job(items)
    await jobs.send(job)
    await job.done.wait()
