"""The receipt poster: sends delivery receipts to each message's callback URL.

Receipts wait in a time-bucketed schedule drained by one task (no task per message); due
receipts are grouped by callback URL, encoded once per batch of up to `receipt_batch`,
and handed to a few sender tasks per URL. A batch the callback refuses (non-2xx, no
connection) is retried with doubling backoff, then counted failed: every receipt ends
sent or failed, never silently dropped.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import trio

from dispatch.simulator.config import ERROR_CODES, SimulatorConfig
from dispatch.simulator.schedule import BucketSchedule, RetryHeap

log = logging.getLogger(__name__)

TICK_S = 0.01  # receipts are flushed at most this long after they are due
SENDERS_PER_URL = 4
POST_TIMEOUT_S = 5.0
# While shutting down, failed batches are retried at once rather than after backoff.
SHUTDOWN_RETRY_S = 0.05

Receipt = tuple[str, str, str]  # gateway id, reference, status


@dataclass
class ReceiptCounters:
    sent: int = 0
    pending: int = 0  # scheduled, queued, being posted or awaiting a retry
    failed: int = 0  # given up after the last attempt
    skipped: int = 0  # accepted without a callback URL
    posts: int = 0  # POST attempts
    post_failures: int = 0


@dataclass
class _Batch:
    url: str
    body: bytes
    count: int
    attempt: int = 0


class ReceiptPoster:
    def __init__(self, config: SimulatorConfig,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.counters = ReceiptCounters()
        self._batch_size = config.receipt_batch
        self._attempts = config.receipt_attempts
        self._retry_base_s = config.receipt_retry_base_ms / 1000
        self._retry_cap_s = config.receipt_retry_cap_ms / 1000
        self._transport = transport
        self._schedule: BucketSchedule[Receipt] = BucketSchedule(TICK_S)
        self._retries: RetryHeap[_Batch] = RetryHeap()
        self._wakeup = trio.Event()
        self._wake_if_due_before = -math.inf
        self._senders: dict[str, trio.MemorySendChannel[_Batch]] = {}
        self._shutting_down = False
        self._idle: trio.Event | None = None  # set when pending drops to 0, if awaited
        self._client: httpx.AsyncClient  # set by run()
        self._nursery: trio.Nursery  # set by run()

    def schedule(self, due: float, url: str, receipt: Receipt) -> None:
        """Send `receipt` to `url` at trio time `due` (sync: called on the hot path)."""
        self._schedule.add(due, url, receipt)
        self.counters.pending += 1
        if due < self._wake_if_due_before:
            self._wakeup.set()

    def skip(self) -> None:
        self.counters.skipped += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Post receipts until cancelled."""
        async with httpx.AsyncClient(timeout=POST_TIMEOUT_S, transport=self._transport
                                     ) as client, trio.open_nursery() as nursery:
            self._client = client
            self._nursery = nursery
            task_status.started()
            while True:
                await self._wait_until_due()
                now = trio.current_time()
                self._dispatch(self._schedule.pop_due(now), self._retries.pop_due(now))

    def flush_now(self) -> None:
        """Shutting down: hand every pending receipt to the senders without waiting."""
        self._shutting_down = True
        self._dispatch(self._schedule.pop_all(), self._retries.pop_all())

    async def wait_idle(self) -> None:
        """Return once no receipt is pending (bound it with a timeout)."""
        if self.counters.pending:
            self._idle = trio.Event()
            await self._idle.wait()

    async def _wait_until_due(self) -> None:
        next_due = _earliest(self._schedule.next_due(), self._retries.next_due())
        if next_due is not None and next_due <= trio.current_time():
            return
        deadline = math.inf if next_due is None else next_due
        self._wakeup = trio.Event()
        self._wake_if_due_before = deadline
        with trio.move_on_at(deadline):
            await self._wakeup.wait()
        self._wake_if_due_before = -math.inf

    def _dispatch(self, due: dict[str, list[Receipt]], retries: list[_Batch]) -> None:
        done_at = _utc_now_iso()
        for url, receipts in due.items():
            for start in range(0, len(receipts), self._batch_size):
                chunk = receipts[start:start + self._batch_size]
                self._send(_Batch(url, _encode(chunk, done_at), len(chunk)))
        for batch in retries:
            self._send(batch)

    def _send(self, batch: _Batch) -> None:
        channel = self._senders.get(batch.url)
        if channel is None:
            channel = self._senders[batch.url] = self._start_senders()
        channel.send_nowait(batch)

    def _start_senders(self) -> trio.MemorySendChannel[_Batch]:
        send, receive = trio.open_memory_channel[_Batch](math.inf)
        for _ in range(SENDERS_PER_URL):
            self._nursery.start_soon(self._post_all, receive)
        return send

    async def _post_all(self, receive: trio.MemoryReceiveChannel[_Batch]) -> None:
        async for batch in receive:
            await self._post(batch)

    async def _post(self, batch: _Batch) -> None:
        self.counters.posts += 1
        if await self._deliver(batch):
            self.counters.sent += batch.count
            self._settled(batch.count)
            return
        self.counters.post_failures += 1
        batch.attempt += 1
        if batch.attempt >= self._attempts:
            self._give_up(batch)
        else:
            self._retry_later(batch)

    async def _deliver(self, batch: _Batch) -> bool:
        try:
            response = await self._client.post(
                batch.url, content=batch.body, headers={"content-type": "application/json"})
        except (httpx.HTTPError, httpx.InvalidURL):
            return False
        return response.is_success

    def _give_up(self, batch: _Batch) -> None:
        self.counters.failed += batch.count
        self._settled(batch.count)
        log.warning("receipts: gave up on %d receipts for %s after %d attempts",
                    batch.count, batch.url, batch.attempt)

    def _settled(self, count: int) -> None:
        self.counters.pending -= count
        if not self.counters.pending and self._idle is not None:
            self._idle.set()

    def _retry_later(self, batch: _Batch) -> None:
        delay = SHUTDOWN_RETRY_S if self._shutting_down else self._backoff(batch.attempt)
        due = trio.current_time() + delay
        self._retries.add(due, batch)
        if due < self._wake_if_due_before:
            self._wakeup.set()

    def _backoff(self, attempt: int) -> float:
        return float(min(self._retry_base_s * 2 ** (attempt - 1), self._retry_cap_s))


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    return first if second is None else min(first, second)


def _encode(receipts: list[Receipt], done_at: str) -> bytes:
    return json.dumps(
        [{"id": gwid, "reference": reference, "status": status,
          "error_code": ERROR_CODES[status], "done_at": done_at}
         for gwid, reference, status in receipts],
        separators=(",", ":"),
    ).encode()


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
