"""Park messages outside their sending window until it opens — Trio, no I/O.

`WindowWaiter` holds items in a heap by due time (wall-clock POSIX seconds, as
`SendPolicy` gives them in `Decision.until_ts`); its `run` task sleeps until the earliest is
due and sends the due items, in due order (ties in parking order), as batches on a memory
channel. No polling: the task sleeps until the earliest due time, and `park` wakes it only
when the new item is due before everything held. While items are held, it still looks at the
wall clock at least every `recheck_s` (60 s) so that a stepped system clock (NTP, suspend)
delays a release by at most that; an empty waiter sleeps until something is parked.

Time: Trio's clock measures the sleeps, the injected `wall_clock` (default time.time) says
what time it is, so tests run it on MockClock(autojump) with `wall_clock=lambda: T0 +
trio.current_time()`.

Memory bound: at most `capacity` items (about 100 bytes each plus the item itself: the
daemon parks its messages, a few hundred bytes each). Past it `park` returns False and
holds nothing: the caller keeps the message elsewhere (the daemon: in its retrier) and
offers it again later. Nothing parked is lost when the daemon stops: its stream entry is
still pending in Redis, and the next start takes it up.

Counted by group: with `group` (an item's campaign, or None for an item not to count; it
must give a parked item the same answer until it leaves), `held_by()` says how many each
group has parked, kept up to date as items come and go (a dict increment each), so that
publishing them (`dispatch status`, metrics) never walks the heap.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

import trio

T = TypeVar("T")
_Entry = tuple[float, int, T]  # (due, parking order, item)


class WindowWaiter(Generic[T]):
    """Items parked until a wall-clock time; `run` releases them when due."""

    def __init__(self, capacity: int, *, wall_clock: Callable[[], float] = time.time,
                 max_batch: int = 1000, recheck_s: float = 60.0,
                 group: Callable[[T], str | None] | None = None) -> None:
        if capacity < 1 or max_batch < 1 or recheck_s <= 0:
            raise ValueError("capacity and max_batch must be >= 1 and recheck_s > 0")
        self.capacity = capacity
        self.max_batch = max_batch
        self.recheck_s = recheck_s
        self._wall_clock = wall_clock
        self._heap: list[_Entry[T]] = []
        self._in_flight = 0  # popped, being handed over: still counted against capacity
        self._order = itertools.count()
        self._wakeup = trio.Event()
        self._group = group
        self._by_group: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._heap) + self._in_flight

    @property
    def full(self) -> bool:
        return len(self) >= self.capacity

    def held_by(self) -> dict[str, int]:
        """How many items each group has parked (groups with none left out)."""
        return dict(self._by_group)

    def next_due(self) -> float | None:
        """The earliest due time held, None when empty."""
        return self._heap[0][0] if self._heap else None

    def park(self, item: T, due_ts: float) -> bool:
        """Hold `item` until `due_ts`; False (nothing held) when at capacity."""
        if due_ts != due_ts:  # NaN would break the heap's order
            raise ValueError("due_ts is NaN")
        if len(self) >= self.capacity:
            return False
        entry = (due_ts, next(self._order), item)
        heapq.heappush(self._heap, entry)
        self._count((item,), 1)
        if self._heap[0] is entry:
            self._wakeup.set()  # due before everything else: the sleeping task re-plans
        return True

    def remove_if(self, predicate: Callable[[T], bool]) -> list[T]:
        """Take out the items matching `predicate` (a cancelled campaign), in due order."""
        kept: list[_Entry[T]] = []
        removed: list[_Entry[T]] = []
        for entry in self._heap:
            (removed if predicate(entry[2]) else kept).append(entry)
        heapq.heapify(kept)
        self._heap = kept
        self._count((item for _, _, item in removed), -1)
        return [item for _, _, item in sorted(removed, key=lambda e: e[:2])]

    async def run(self, out: trio.MemorySendChannel[list[T]], *,
                  task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Release due items on `out` as batches (at most max_batch each), forever.

        A batch whose hand-over is cancelled (shutdown) goes back in, still counted.
        """
        task_status.started()
        while True:
            entries = self._pop_due(self._wall_clock())
            if entries:
                await self._hand_over(out, entries)
            else:
                await self._sleep_until_due()

    def _pop_due(self, now: float) -> list[_Entry[T]]:
        heap = self._heap
        entries: list[_Entry[T]] = []
        while heap and heap[0][0] <= now and len(entries) < self.max_batch:
            entries.append(heapq.heappop(heap))
        self._count((item for _, _, item in entries), -1)  # due: no longer waiting
        return entries

    async def _hand_over(self, out: trio.MemorySendChannel[list[T]],
                         entries: list[_Entry[T]]) -> None:
        self._in_flight = len(entries)
        try:
            await out.send([item for _, _, item in entries])
        except BaseException:  # not delivered (a cancelled send never delivers): keep them
            for entry in entries:
                heapq.heappush(self._heap, entry)
            self._count((item for _, _, item in entries), 1)
            raise
        finally:
            self._in_flight = 0

    def _count(self, items: Iterable[T], delta: int) -> None:
        group = self._group
        if group is None:
            return
        for item in items:
            name = group(item)
            if name is not None:
                self._by_group[name] += delta
                if not self._by_group[name]:
                    del self._by_group[name]  # campaigns come and go: keep it small

    async def _sleep_until_due(self) -> None:
        self._wakeup = trio.Event()
        if not self._heap:
            await self._wakeup.wait()
            return
        delay = max(0.0, min(self._heap[0][0] - self._wall_clock(), self.recheck_s))
        with trio.move_on_after(delay):
            await self._wakeup.wait()
