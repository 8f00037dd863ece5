"""Posting items (receipts, replies; the voice side's callbacks, one to a POST) to HTTP URLs
in batches, with retries.

Items wait in a time-bucketed schedule drained by one task (no task per item); due items
are grouped by URL, encoded once per batch of up to `batch_size`, and handed to a few
sender tasks per URL. A batch the URL refuses (non-2xx, no connection) is retried with
doubling backoff (dispatch.policy.backoff), then counted failed: every item ends sent or
failed, never silently dropped. A listener, if given, hears when a batch is first posted
and when it settles.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import httpx
import trio

from dispatch.policy.backoff import Backoff
from dispatch.signing import signed_headers
from dispatch.simulator.schedule import BucketSchedule, RetryHeap

log = logging.getLogger(__name__)

TICK_S = 0.01  # items are flushed at most this long after they are due
SENDERS_PER_URL = 4
POST_TIMEOUT_S = 5.0
# While shutting down, failed batches are retried at once rather than after backoff.
SHUTDOWN_RETRY_S = 0.05

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)
# The headers that sign one POST: (URL, its items, its body) -> headers.
Signer = Callable[[str, list[T], bytes], Mapping[str, str]]


@dataclass
class PostCounters:
    sent: int = 0  # items the URL acknowledged (2xx)
    pending: int = 0  # scheduled, queued, being posted or awaiting a retry
    failed: int = 0  # given up after the last attempt
    skipped: int = 0  # nowhere to send them (receipts: accepted without a callback URL)
    posts: int = 0  # POST attempts
    post_failures: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    base_s: float
    cap_s: float

    def backoff(self, attempt: int) -> float:
        """Seconds before retrying a batch whose attempt number `attempt` failed: the
        product's backoff, unjittered (tests predict the delays)."""
        return Backoff(self.base_s, self.cap_s).ceiling(attempt)


class PostListener(Protocol[T_contra]):
    def first_posted(self, items: Sequence[T_contra]) -> None:
        """The batch is about to be posted for the first time."""

    def settled(self, items: Sequence[T_contra], acknowledged: bool) -> None:
        """The batch was acknowledged (2xx), or given up after its last attempt."""


@dataclass
class _Batch(Generic[T]):
    url: str
    items: list[T]
    body: bytes
    attempt: int = 0


class BatchPoster(Generic[T]):
    def __init__(self, name: str, batch_size: int, retry: RetryPolicy,
                 encode: Callable[[list[T]], bytes],
                 transport: httpx.AsyncBaseTransport | None = None, *,
                 content_type: str = "application/json",
                 senders: int = SENDERS_PER_URL, sign: Signer[T] | None = None) -> None:
        self.name = name  # for the log: "receipts", "replies", "voice callbacks"
        self.counters = PostCounters()
        self.listener: PostListener[T] | None = None
        self._batch_size = batch_size
        self._retry = retry
        self._encode = encode
        self._transport = transport
        self._headers = {"content-type": content_type}
        self._senders_per_url = senders
        self._sign = sign
        self._schedule: BucketSchedule[T] = BucketSchedule(TICK_S)
        self._retries: RetryHeap[_Batch[T]] = RetryHeap()
        self._wakeup = trio.Event()
        self._wake_if_due_before = -math.inf
        self._senders: dict[str, trio.MemorySendChannel[_Batch[T]]] = {}
        self._shutting_down = False
        self._idle: trio.Event | None = None  # set when pending drops to 0, if awaited
        self._client: httpx.AsyncClient  # set by run()
        self._nursery: trio.Nursery  # set by run()

    def schedule(self, due: float, url: str, item: T) -> None:
        """Send `item` to `url` at trio time `due` (sync: called on the hot path)."""
        self._schedule.add(due, url, item)
        self.counters.pending += 1
        if due < self._wake_if_due_before:
            self._wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        """Post items until cancelled."""
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
        """Shutting down: hand every pending item to the senders without waiting."""
        self._shutting_down = True
        self._dispatch(self._schedule.pop_all(), self._retries.pop_all())

    async def wait_idle(self) -> None:
        """Return once no item is pending (bound it with a timeout)."""
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

    def _dispatch(self, due: dict[str, list[T]], retries: list[_Batch[T]]) -> None:
        for url, items in due.items():
            for start in range(0, len(items), self._batch_size):
                chunk = items[start:start + self._batch_size]
                if self.listener is not None:
                    self.listener.first_posted(chunk)
                self._send(_Batch(url, chunk, self._encode(chunk)))
        for batch in retries:
            self._send(batch)

    def _send(self, batch: _Batch[T]) -> None:
        channel = self._senders.get(batch.url)
        if channel is None:
            channel = self._senders[batch.url] = self._start_senders()
        channel.send_nowait(batch)

    def _start_senders(self) -> trio.MemorySendChannel[_Batch[T]]:
        send, receive = trio.open_memory_channel[_Batch[T]](math.inf)
        for _ in range(self._senders_per_url):
            self._nursery.start_soon(self._post_all, receive)
        return send

    async def _post_all(self, receive: trio.MemoryReceiveChannel[_Batch[T]]) -> None:
        async for batch in receive:
            await self._post(batch)

    async def _post(self, batch: _Batch[T]) -> None:
        self.counters.posts += 1
        if await self._deliver(batch):
            self.counters.sent += len(batch.items)
            self._settled(batch, acknowledged=True)
            return
        self.counters.post_failures += 1
        batch.attempt += 1
        if batch.attempt >= self._retry.attempts:
            self._give_up(batch)
        else:
            self._retry_later(batch)

    async def _deliver(self, batch: _Batch[T]) -> bool:
        try:
            response = await self._client.post(batch.url, content=batch.body,
                                               headers=self._headers_for(batch))
        except (httpx.HTTPError, httpx.InvalidURL):
            return False
        return response.is_success

    def _headers_for(self, batch: _Batch[T]) -> Mapping[str, str]:
        """Signed at each attempt: a retry carries a fresh timestamp, within the window."""
        if self._sign is None:
            return self._headers
        return {**self._headers, **self._sign(batch.url, batch.items, batch.body)}

    def _give_up(self, batch: _Batch[T]) -> None:
        self.counters.failed += len(batch.items)
        self._settled(batch, acknowledged=False)
        log.warning("%s: gave up on %d items for %s after %d attempts",
                    self.name, len(batch.items), batch.url, batch.attempt)

    def _settled(self, batch: _Batch[T], *, acknowledged: bool) -> None:
        if self.listener is not None:
            self.listener.settled(batch.items, acknowledged)
        self.counters.pending -= len(batch.items)
        if not self.counters.pending and self._idle is not None:
            self._idle.set()

    def _retry_later(self, batch: _Batch[T]) -> None:
        delay = SHUTDOWN_RETRY_S if self._shutting_down else self._retry.backoff(batch.attempt)
        due = trio.current_time() + delay
        self._retries.add(due, batch)
        if due < self._wake_if_due_before:
            self._wakeup.set()


def hmac_signer(secret: str) -> Signer[Any] | None:
    """A signer of dispatch v1 signatures with `secret` (None: "", posts go unsigned)."""
    if not secret:
        return None

    def sign(url: str, items: list[Any], body: bytes) -> Mapping[str, str]:
        return signed_headers(secret, body, time.time())
    return sign


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None:
        return second
    return first if second is None else min(first, second)
