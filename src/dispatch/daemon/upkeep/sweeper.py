"""Messages whose final receipt never comes: expired after the receipt timeout.

A gateway may lose a receipt, or send it while no daemon listens for longer than it
retries. The correlation of every submission waits in the receipt map of its hour; what is
still there after `receipt_timeout_h` never got its receipt. The sweeper marks those
messages expired ("no final receipt within N h") and drops the map, so every message ends
in a final state. The cost is proportional to the receipts missing, not to the traffic.
Several daemons may sweep at once: applying a final state is idempotent.
"""

from __future__ import annotations

import logging
from functools import partial

import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.resilience import with_redis_retry
from dispatch.store.queue import Queue
from dispatch.store.receipts import ReceiptMaps
from dispatch.vocabulary import StateCode

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 60.0
CHUNK = 500


class ReceiptSweeper:
    def __init__(self, queue: Queue, metrics: DaemonMetrics) -> None:
        self._queue = queue
        self._metrics = metrics

    async def run(self) -> None:
        while True:
            await self.sweep_once()
            await trio.sleep(SWEEP_INTERVAL_S)

    async def sweep_once(self) -> int:
        """Expire what the overdue receipt maps hold; returns how many were expired. First,
        forget the correlations of the receipts applied lately (store/receipts.py: the
        next lookup takes them along; after a lull there is none)."""
        await with_redis_retry("sweep", self._queue.receipts.flush, self._metrics)
        expired = 0
        for map_key in self._queue.overdue_maps():
            expired += await self._sweep_map(map_key)
        return expired

    async def _sweep_map(self, map_key: str) -> int:
        expired, cursor = 0, 0
        reason = f"no final receipt within {self._queue.receipt_timeout_h} h"
        while True:
            cursor, rows = await with_redis_retry(
                "sweep", partial(self._queue.scan_map, map_key, cursor, CHUNK), self._metrics)
            # An expiry for each, as a receipt would be; one that came meanwhile won.
            expiries = [(gateway_id, StateCode.EXPIRED, reason) for gateway_id, _, _ in rows]
            recorded = await with_redis_retry("sweep", partial(
                self._queue.record_receipts, expiries, ReceiptMaps([map_key]), park=False),
                self._metrics)
            expired += recorded.counts[2]
            if cursor == 0:
                break
        await with_redis_retry("sweep", partial(self._queue.drop_map, map_key), self._metrics)
        if expired:
            self._metrics.receipt_timeouts.inc(expired)
            log.warning("%d messages had no final receipt after %d h: marked expired",
                        expired, self._queue.receipt_timeout_h)
        return expired
