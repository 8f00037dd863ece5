"""What gateways send us: delivery receipts and replies (MO), recorded, then answered.

HTTP gateways post to the daemon's inbound endpoint (POST /receipts, POST /inbound);
SMPP adapters call `receipts()` / `messages()` directly. Either way the gateway gets its
acknowledgement only once what it sent is recorded (a receipt applied, or parked until its
submission is recorded), so nothing is acknowledged and then lost. Receipts are recorded
in batches: one Lua call for a batch, not one per receipt.

Receipts posted over HTTP (one request may carry one receipt) go through a queue of jobs
shared by several recording workers, each taking whatever is waiting when it is free
(natural batching, no linger). Adapters that batch themselves (SMPP: what one read
brought) record in the calling task, one hop less: an SMSC sends deliver_sm only while its
window has room, so receipts flow at (window / time to record and answer a batch).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from dispatch.daemon.batching import drain_ready
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.replies import ReplyHandler
from dispatch.daemon.resilience import with_redis_retry
from dispatch.httpserver import Request, Response, error_response, json_response
from dispatch.store.queue import Queue
from dispatch.vocabulary import InboundMessage, Receipt, StateCode

log = logging.getLogger(__name__)

# Final receipt statuses and the state code each one leads to.
FINAL_STATUS_CODES = {"delivered": StateCode.DELIVERED, "undeliverable": StateCode.FAILED,
                      "rejected": StateCode.FAILED, "expired": StateCode.EXPIRED}
INTERMEDIATE_STATUSES = frozenset({"accepted", "enroute", "buffered", "sent"})
# What receipt_record.lua counts, in its order.
RECORD_RESULTS = ("delivered", "failed", "expired", "repeated", "parked")
MAX_RECEIPTS_PER_REQUEST = 10_000
RECORD_WORKERS = 4  # Redis round trips in flight for receipts posted over HTTP


@dataclass
class ReceiptJob:
    """The receipts of one HTTP request, and the event its handler waits on."""

    receipts: Sequence[Receipt]
    done: trio.Event = field(default_factory=trio.Event)


class Inbox:
    """Receipts and replies from every gateway: HTTP ones through `handle`, the others
    (SMPP deliver_sm) through the `Inbound` methods."""

    def __init__(self, queue: Queue, metrics: DaemonMetrics, batch_size: int,
                 replies: ReplyHandler, workers: int = RECORD_WORKERS) -> None:
        self._queue = queue
        self._replies = replies
        self._metrics = metrics
        self._batch_size = batch_size  # jobs (HTTP requests, SMPP reads) per Redis batch
        self._workers = workers
        self._send, self._receive = trio.open_memory_channel[ReceiptJob](1024)

    async def handle(self, request: Request) -> Response:
        if request.path == "/healthz":
            return json_response({"ok": True})
        if request.path not in ("/receipts", "/inbound"):
            return error_response(404, "not found; use POST /receipts or POST /inbound")
        if request.method != "POST":
            return error_response(405, "use POST")
        if request.path == "/inbound":
            return await self._handle_inbound(request)
        try:
            receipts, ignored = self.parse(request.json())
        except ValueError as exc:
            self._metrics.receipt_results["invalid"].inc()
            log.warning("receipt request refused: %s", exc)
            return error_response(400, str(exc))
        await self._queued(receipts)
        return json_response({"recorded": len(receipts), "ignored": ignored})

    async def _handle_inbound(self, request: Request) -> Response:
        try:
            messages = parse_inbound(request.json())
        except ValueError as exc:
            log.warning("inbound message request refused: %s", exc)
            return error_response(400, str(exc))
        await self.messages(messages)
        return json_response({"recorded": len(messages)})

    async def receipts(self, receipts: Sequence[Receipt]) -> None:
        """Returns once the receipts are recorded (applied, or parked as orphans)."""
        if receipts:
            await self._record(list(receipts))

    async def _queued(self, receipts: Sequence[Receipt]) -> None:
        """As `receipts`, batched with those of other requests."""
        job = ReceiptJob(receipts)
        await self._send.send(job)
        await job.done.wait()

    async def messages(self, messages: Sequence[InboundMessage]) -> None:
        """Returns once the replies are stored, and the opt-outs among them in force."""
        intents = await with_redis_retry(
            "replies", lambda: self._replies.handle(messages), self._metrics)
        for intent in intents:
            self._metrics.inbound_messages.labels(str(intent)).inc()

    def parse(self, payload: Any) -> tuple[list[Receipt], int]:
        """Final receipts to record, and how many intermediate ones were ignored."""
        items = payload if isinstance(payload, list) else [payload]
        if len(items) > MAX_RECEIPTS_PER_REQUEST:
            raise ValueError(f"more than {MAX_RECEIPTS_PER_REQUEST} receipts in one request")
        receipts = [r for index, item in enumerate(items)
                    if (r := _parse_item(item, index)) is not None]
        ignored = len(items) - len(receipts)
        if ignored:
            self._metrics.receipt_results["intermediate"].inc(ignored)
        return receipts, ignored

    async def run(self) -> None:
        """Record receipts in batches; runs until cancelled."""
        async with trio.open_nursery() as nursery:
            for _ in range(self._workers):
                nursery.start_soon(self._record_forever)

    async def _record_forever(self) -> None:
        while True:
            jobs = [await self._receive.receive()]
            drain_ready(self._receive, jobs, self._batch_size)
            receipts = [receipt for job in jobs for receipt in job.receipts]
            if receipts:
                await self._record(receipts)
            for job in jobs:
                job.done.set()

    async def _record(self, receipts: list[Receipt]) -> None:
        rows = [(r.gateway_id, r.code, r.reason) for r in receipts]
        maps = self._queue.receipt_maps()
        counts = await with_redis_retry(
            "receipt_record", lambda: self._queue.record_receipts(rows, maps), self._metrics)
        for name, count in zip(RECORD_RESULTS, counts, strict=True):
            self._metrics.receipt_results[name].inc(count)


def _parse_item(item: Any, index: int) -> Receipt | None:
    if not isinstance(item, dict):
        raise ValueError(f"receipt {index}: expected an object")
    gateway_id, status = item.get("id"), item.get("status")
    if not isinstance(gateway_id, str) or not gateway_id:
        raise ValueError(f"receipt {index}: 'id' must be a non-empty string")
    if not isinstance(status, str):
        raise ValueError(f"receipt {index}: 'status' must be a string")
    status = status.lower()
    if status in INTERMEDIATE_STATUSES:
        return None
    if status not in FINAL_STATUS_CODES:
        raise ValueError(f"receipt {index}: unknown status {status[:40]!r}")
    reason = f"receipt {status}, error {str(item.get('error_code', ''))[:40]}"
    return Receipt(gateway_id, FINAL_STATUS_CODES[status], reason)


def parse_inbound(payload: Any, gateway: str = "http") -> list[InboundMessage]:
    """`{"from", "to", "text"}` or a list of them, as HTTP gateways post replies."""
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > MAX_RECEIPTS_PER_REQUEST:
        raise ValueError(f"more than {MAX_RECEIPTS_PER_REQUEST} messages in one request")
    messages = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"message {index}: expected an object")
        source, destination, text = item.get("from"), item.get("to"), item.get("text")
        if not (isinstance(source, str) and isinstance(destination, str)
                and isinstance(text, str)):
            raise ValueError(f"message {index}: 'from', 'to' and 'text' must be strings")
        messages.append(InboundMessage(source, destination, text, gateway))
    return messages
