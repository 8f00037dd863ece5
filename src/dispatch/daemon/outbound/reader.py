"""Takes messages from Redis in batches and hands the admitted ones to the senders.

Three sources, one path: this consumer's own pending entries (left by a previous run of
the same daemon), new entries, and entries claimed from dead consumers. Each batch is
admitted by one Lua call per campaign, which marks it in flight or acks what needs no
sending.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from dispatch.daemon.campaigns import CampaignBook
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message, message_of
from dispatch.daemon.outbound.outlet import Outlet
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.resilience import with_redis_retry
from dispatch.settings import DaemonSettings
from dispatch.store.entries import Entry, UnreadableEntry
from dispatch.store.queue import Queue

log = logging.getLogger(__name__)

REFRESH_S = 1.0
HELD_BATCHES = 4  # busy messages held in process, at most, in read batches


async def _no_wait() -> None:
    return None


@dataclass(frozen=True)
class Backpressure:
    """What else holds messages in process, besides the work in progress: how many
    `waiting` (for their window, or while their campaign is paused) are not counted as
    busy, and `room` returns once the line schedulers want more (what they hold is a few
    seconds of their lines' capacity, so that daemons sharing a pool share its messages
    too)."""

    waiting: Callable[[], int] = lambda: 0
    room: Callable[[], Awaitable[None]] = _no_wait


class Reader:
    def __init__(self, queue: Queue, book: CampaignBook, outlets: Mapping[str, Outlet],
                 tracker: Tracker, metrics: DaemonMetrics, settings: DaemonSettings, *,
                 stopping: trio.Event, pressure: Backpressure = Backpressure()) -> None:
        """`outlets`: each gateway's; `stopping`: set when the daemon stops taking work."""
        self._queue = queue
        self._book = book
        self._outlets = outlets
        self._tracker = tracker
        self._metrics = metrics
        self._batch_size = settings.batch_size
        self._block_ms = settings.read_block_ms
        self._max_held = settings.batch_size * HELD_BATCHES
        self._claim_idle_ms = int(settings.claim_idle_s * 1000)
        self._stopping = stopping
        self._pressure = pressure
        self._refreshed = trio.Event()  # the first refresh is done

    async def run(self) -> None:
        """Read until stopping: own pending entries first, then new ones. Each batch read is
        admitted and handed over whole before stopping is looked at again."""
        await self._refresh()
        self._refreshed.set()
        await self._read_own_pending()
        while not self._stopping.is_set():
            await self._wait_room()
            if not self._stopping.is_set():
                await self._read_new()

    async def refresh_forever(self) -> None:
        """Campaigns and their status about once a second, until stopping, apart from the
        reading (which may wait a long while for room): pause, resume and cancel must
        take effect within a second whatever the reader is doing."""
        await self._refreshed.wait()  # run() refreshes first
        while True:
            with trio.move_on_after(REFRESH_S):
                await self._stopping.wait()
            if self._stopping.is_set():
                return
            await self._refresh()

    async def reclaim_forever(self) -> None:
        """Every half idle period, claim what dead consumers left and renew what we hold."""
        while True:
            with trio.move_on_after(self._claim_idle_ms / 2000):
                await self._stopping.wait()
            if self._stopping.is_set():
                return
            await self._renew_held()
            for campaign in self._campaigns():
                await self._claim_stale(campaign)

    async def _wait_room(self) -> None:
        await self._tracker.wait_below(self._max_held, self._pressure.waiting)
        await self._until_room_or_stopping(self._pressure.room)

    async def _until_room_or_stopping(self, room: Callable[[], Awaitable[None]]) -> None:
        """A daemon whose lines are all busy (or that has none) still stops at once."""
        async with trio.open_nursery() as nursery:
            async def first(wait: Callable[[], Awaitable[Any]]) -> None:
                await wait()
                nursery.cancel_scope.cancel()
            nursery.start_soon(first, room)
            nursery.start_soon(first, self._stopping.wait)

    async def _refresh(self) -> None:
        await with_redis_retry("refresh", self._book.refresh, self._metrics)

    async def _read_own_pending(self) -> None:
        for campaign in self._campaigns():
            if self._stopping.is_set():
                return
            after = b"0"
            while not self._stopping.is_set() and (entries := await with_redis_retry(
                    "read", partial(self._queue.read_pending, campaign, after,
                                    self._batch_size), self._metrics)):
                after = entries[-1].entry_id
                await self._wait_room()
                await self._admit(entries)

    async def _read_new(self) -> None:
        campaigns = self._campaigns(active_only=True)
        if not campaigns:
            with trio.move_on_after(REFRESH_S):
                await self._stopping.wait()
            return
        entries = await with_redis_retry(
            "read", lambda: self._queue.read_new(campaigns, self._batch_size, self._block_ms),
            self._metrics)
        await self._admit(entries)

    async def _claim_stale(self, campaign: str) -> None:
        entries = await with_redis_retry(
            "claim", lambda: self._queue.claim_stale(campaign, self._claim_idle_ms,
                                                     self._batch_size), self._metrics)
        if entries:
            log.info("claimed %d messages of campaign %s from a dead consumer",
                     len(entries), campaign)
            await self._wait_room()
            await self._admit(entries)

    async def _renew_held(self) -> None:
        for campaign, entry_ids in self._tracker.held_by_campaign().items():
            await with_redis_retry(
                "renew", partial(self._queue.renew, campaign, entry_ids), self._metrics)

    def _campaigns(self, *, active_only: bool = False) -> list[str]:
        return self._book.sendable(list(self._outlets), active_only=active_only)

    async def _admit(self, entries: Sequence[Entry]) -> None:
        by_campaign: dict[str, list[Message]] = {}
        for entry in entries:
            try:
                message = message_of(entry)
            except UnreadableEntry as exc:
                await self._dead_letter(entry, str(exc))
                continue
            by_campaign.setdefault(entry.campaign, []).append(message)
        for campaign, messages in by_campaign.items():
            await self._admit_campaign(campaign, messages)

    async def _admit_campaign(self, campaign: str, messages: list[Message]) -> None:
        items = [(m.entry_id, m.number) for m in messages]
        flags = await with_redis_retry(
            "admit", lambda: self._queue.admit(campaign, items), self._metrics)
        admitted = [m for m, send in zip(messages, flags, strict=True) if send]
        self._tracker.add(admitted)
        self._metrics.in_process.set(len(self._tracker))
        outlet = self._outlets[self._book.campaigns[campaign].gateway]
        await outlet.hand_over(campaign, admitted)

    async def _dead_letter(self, entry: Entry, reason: str) -> None:
        """Keep an entry that cannot be read, with why, and ack it: it must not loop."""
        self._metrics.dead_letters.inc()
        log.error("campaign %s entry %s is unreadable (%s): moved to dead letters",
                  entry.campaign, entry.entry_id.decode(), reason)
        await with_redis_retry(
            "dead_letter", partial(self._queue.dead_letter, entry, reason), self._metrics)

