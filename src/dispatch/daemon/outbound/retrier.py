"""Messages waiting to be tried again after a transient error.

One task sleeps until the earliest is due and hands it back to its gateway's senders;
nothing polls. The messages stay pending in Redis meanwhile (their claim is renewed), so
a crash loses none of them.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping

import trio

from dispatch.daemon.outbound.messages import Message, MessageSink


class Retrier:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str, Message]] = []
        self._order = itertools.count()
        self._wakeup = trio.Event()

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, gateway: str, message: Message, delay_s: float) -> None:
        due = trio.current_time() + delay_s
        heapq.heappush(self._heap, (due, next(self._order), gateway, message))
        self._wakeup.set()

    async def run(self, channels: Mapping[str, MessageSink]) -> None:
        """Hand due messages back to their gateway's channel (or outlet); runs until
        cancelled."""
        while True:
            await self._sleep_until_due()
            while self._heap and self._heap[0][0] <= trio.current_time():
                _, _, gateway, message = heapq.heappop(self._heap)
                await channels[gateway].send(message)

    async def _sleep_until_due(self) -> None:
        self._wakeup = trio.Event()
        deadline = self._heap[0][0] if self._heap else float("inf")
        with trio.move_on_at(deadline):
            await self._wakeup.wait()
