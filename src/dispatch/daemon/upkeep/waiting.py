"""Messages held for their sending window, made visible: every second, what this daemon's
window waiter holds per campaign goes to Redis (`dispatch status` sums the daemons) and to
the gauge dispatch_messages_waiting_for_window{campaign}.

The waiter keeps the counts up to date as messages come and go (WindowWaiter.held_by), so
this costs one pipelined round trip a second while anything waits, nothing otherwise, and
never a Redis call per message.

Only messages waiting for their window are counted: calls parked until their retry (busy,
no answer) wait in the same waiter, but for another reason (`window_group`). Messages of a
campaign whose window is closed in mainland France are not read at all while it is (the
daemon's reader skips the campaign): they stay queued in Redis, and `dispatch status`
counts them from the queue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

import trio

from dispatch.daemon.metrics import DaemonMetrics
from dispatch.daemon.outbound.messages import Message
from dispatch.daemon.outbound.window_waiter import WindowWaiter
from dispatch.store.redis import REDIS_ERRORS, is_transient
from dispatch.store.waiting import WindowWaiting

log = logging.getLogger(__name__)

PUBLISH_S: Final = 1.0


def window_group(message: Message) -> str | None:
    """A parked message's campaign, None for a call parked until its retry (a message
    placed no call before it first waits for its window; `calls` does not change while
    it is parked)."""
    return message.campaign if message.calls == 0 else None


class WaitingPublisher:
    def __init__(self, waiter: WindowWaiter[Message], store: WindowWaiting,
                 metrics: DaemonMetrics, wall_clock: Callable[[], float] = time.time) -> None:
        self._waiter = waiter
        self._store = store
        self._gauge = metrics.waiting_for_window
        self._errors = metrics.redis_errors.labels("publish_waiting")
        self._wall_clock = wall_clock
        self._published: set[str] = set()  # campaigns with a count in Redis
        self._shown: set[str] = set()  # campaigns with a gauge series

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            await self.publish_once()
            await trio.sleep(PUBLISH_S)

    async def publish_once(self) -> None:
        counts = self._waiter.held_by()
        self._show(counts)
        gone = self._published - counts.keys()
        if not counts and not gone:
            return
        try:
            await self._store.publish(counts, gone, self._wall_clock())
        except REDIS_ERRORS as exc:  # a gauge: the next second says it again
            if not is_transient(exc):
                raise
            self._errors.inc()
            log.debug("waiting counts not published (%s: %s)", type(exc).__name__, exc)
            return
        self._published = set(counts)

    def _show(self, counts: dict[str, int]) -> None:
        for campaign, count in counts.items():
            self._gauge.labels(campaign).set(count)
        for campaign in self._shown - counts.keys():
            self._gauge.remove(campaign)  # no series left behind per campaign that is done
        self._shown = set(counts)
