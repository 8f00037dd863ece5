"""Records outcomes in batches (one Lua call per campaign per batch), then lets go of the
messages. A Redis failure is retried, never dropped: the outcome is the proof of what
was sent."""

from __future__ import annotations

from functools import partial

import trio

from dispatch.daemon.batching import batches
from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.tracker import Tracker
from dispatch.daemon.resilience import with_redis_retry
from dispatch.settings import DaemonSettings
from dispatch.store.queue import Queue
from dispatch.vocabulary import Outcome


class Recorder:
    def __init__(self, queue: Queue, tracker: Tracker, metrics: DaemonMetrics,
                 settings: DaemonSettings) -> None:
        self._queue = queue
        self._tracker = tracker
        self._metrics = metrics
        self._batch_size = settings.record_batch_size
        self._linger_s = settings.record_delay_ms / 1000

    async def run(self, receive: trio.MemoryReceiveChannel[tuple[str, Outcome]]) -> None:
        """Ends when every sender has closed its side and the last batch is recorded."""
        async with receive:
            async for batch in batches(receive, self._batch_size, self._linger_s):
                await self._record(batch)

    async def _record(self, batch: list[tuple[str, Outcome]]) -> None:
        by_campaign: dict[str, list[Outcome]] = {}
        for campaign, outcome in batch:
            by_campaign.setdefault(campaign, []).append(outcome)
        for campaign, outcomes in by_campaign.items():
            await with_redis_retry(
                "record", partial(self._queue.record, campaign, outcomes), self._metrics)
            self._tracker.discard(outcome.entry_id for outcome in outcomes)
        self._metrics.in_process.set(len(self._tracker))
