"""The Trio face of a `LineScheduler`: senders pull assignments in batches.

    service = LineService(scheduler)
    # sender task (one or more per gateway):
    while True:
        batch = await service.next_assignments(gateway.batch_size)   # [(message, line)]
        results = await gateway.submit(...)  # each with its line.address as the sender
        for _, line in batch:
            service.release(line)            # once the gateway answered for it

One sender at a time waits on the scheduler (a fair lock; the others queue behind it), so
there is a single sleeper. It sleeps until the scheduler's next ready time plus `linger_s`;
a change that makes something ready sooner (a push into an idle pool, a resume, a line
back from its concurrency limit, a window slot) brings its deadline forward to that time
plus `linger_s`. The linger gathers what becomes ready close together into one batch (lines
freed a few ms apart, window slots freed by a burst of responses), so gateway batches fill
up instead of going one message at a time; it costs each line at most `linger_s` of its
time (0.1 % of a 0.2 msg/s line at the default 5 ms). No polling: with nothing queued it
sleeps until a push.

Changes go straight to `service.scheduler` (`push`, `set_campaign`, `pause`, `resume`,
`cancel`): the scheduler's `on_ready` hook, installed here, wakes the sleeper when needed.
"""

from __future__ import annotations

import math
from typing import Final, Generic, TypeVar

import trio

from dispatch.lines.scheduler import Assignment, Line, LineScheduler

M = TypeVar("M")
MIN_SLEEP_S: Final = 1e-6  # a floor on every sleep: never a hot loop at one instant


class LineService(Generic[M]):
    def __init__(self, scheduler: LineScheduler[M], *, linger_s: float = 0.005) -> None:
        if linger_s < 0:
            raise ValueError(f"linger_s must not be negative, got {linger_s}")
        self.scheduler = scheduler
        self._linger_s = linger_s
        self._turn = trio.Lock()
        self._sleeping: trio.CancelScope | None = None  # the sleeper's, deadline and all
        self._closed = False
        scheduler.on_ready = self._on_ready

    async def next_assignments(self, max_n: int) -> list[Assignment[M]]:
        """Wait until at least one assignment may go out, then take up to `max_n`.
        Raises trio.EndOfChannel once the service is closed."""
        if max_n < 1:
            raise ValueError(f"max_n must be at least 1, got {max_n}")
        async with self._turn:
            while not self._closed:
                now = trio.current_time()
                batch = self.scheduler.take(now, max_n)
                if batch:
                    return batch
                await self._sleep(now, self.scheduler.next_ready_time())
        raise trio.EndOfChannel("the line service is closed")

    def release(self, line: Line, sent_until: float = -math.inf) -> None:
        """The gateway answered for one assignment on `line` (see LineScheduler.release)."""
        self.scheduler.release(line, sent_until)

    def close(self) -> list[M]:
        """Stop handing out assignments: every waiting sender gets EndOfChannel, and the
        messages still queued are handed back (cancelling every campaign)."""
        self._closed = True
        if self._sleeping is not None:
            self._sleeping.cancel()
        return [message for name in self.scheduler.campaigns
                for message in self.scheduler.cancel(name)]

    async def _sleep(self, now: float, ready_at: float) -> None:
        deadline = ready_at + self._linger_s if ready_at < math.inf else math.inf
        try:
            with trio.move_on_at(max(deadline, now + MIN_SLEEP_S)) as self._sleeping:
                await trio.sleep_forever()
        finally:
            self._sleeping = None

    def _on_ready(self, ready_at: float) -> None:
        """The scheduler's hook: something may be ready from `ready_at` (NOW: at once)."""
        if self._sleeping is not None:
            deadline = max(ready_at, trio.current_time()) + self._linger_s
            if deadline < self._sleeping.deadline:
                self._sleeping.deadline = deadline
