"""Messages waiting to be tried again after a transient error.

One task sleeps until the earliest is due and hands it back to its gateway's senders;
nothing polls. The messages stay pending in Redis meanwhile (their claim is renewed), so
a crash loses none of them.

Messages the gateway throttled wait in a queue of their gateway, first in first out: each
for the gateway's hint at least, then at the pace the gateway accepts messages
(policy.backoff.ThrottlePace, fed by the senders through `accepted`), not a backoff that
grows with each throttle.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import deque
from collections.abc import Mapping

import trio

from dispatch.daemon.outbound.messages import Message, MessageSink
from dispatch.policy.backoff import ThrottlePace


class Retrier:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, Message]] = []
        self._order = itertools.count()
        self._wakeup = trio.Event()
        # Per gateway: throttled messages (ready time, message), and their pace.
        self._throttled: dict[str, deque[tuple[float, Message]]] = {}
        self._paces: dict[str, ThrottlePace] = {}

    def __len__(self) -> int:
        return len(self._heap) + sum(len(queue) for queue in self._throttled.values())

    def schedule(self, gateway: str, message: Message, delay_s: float) -> None:
        due = trio.current_time() + delay_s
        heapq.heappush(self._heap, (due, next(self._order), gateway, message))
        self._wakeup.set()

    def schedule_throttled(self, gateway: str, message: Message, after_s: float) -> None:
        """The gateway throttled it: back after `after_s` at least, at the gateway's pace."""
        if gateway not in self._throttled:
            self._throttled[gateway] = deque()
        self._throttled[gateway].append((trio.current_time() + after_s, message))
        self._wakeup.set()

    def accepted(self, gateway: str, count: int) -> None:
        """The gateway accepted `count` messages: the pace of its throttled ones."""
        self.pace(gateway).accepted(trio.current_time(), count)

    def pace(self, gateway: str) -> ThrottlePace:
        if gateway not in self._paces:
            self._paces[gateway] = ThrottlePace()
        return self._paces[gateway]

    async def run(self, channels: Mapping[str, MessageSink]) -> None:
        """Hand due messages back to their gateway's channel (or outlet); runs until
        cancelled."""
        while True:
            await self._sleep_until_due()
            while self._heap and self._heap[0][0] <= trio.current_time():
                _, _, gateway, message = heapq.heappop(self._heap)
                await channels[gateway].send(message)
            for gateway, queue in list(self._throttled.items()):
                pace = self.pace(gateway)
                while (queue and queue[0][0] <= trio.current_time()
                       and pace.take(trio.current_time())):
                    await channels[gateway].send(queue.popleft()[1])

    async def _sleep_until_due(self) -> None:
        self._wakeup = trio.Event()
        with trio.move_on_at(self._next_due()):
            await self._wakeup.wait()

    def _next_due(self) -> float:
        due = self._heap[0][0] if self._heap else math.inf
        now = trio.current_time()
        for gateway, queue in self._throttled.items():
            if queue:
                due = min(due, max(queue[0][0], now + self.pace(gateway).wait_s(now)))
        return due
