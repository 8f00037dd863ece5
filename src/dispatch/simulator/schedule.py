"""Time-ordered queues for receipts and retries — pure (times are plain floats).

Receipts are many and all due a similar delay after acceptance, so they go into time
buckets (one list append per receipt, one heap entry per bucket) rather than a heap of
their own; retries are few and go into a plain heap.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections import defaultdict
from typing import Generic, TypeVar

T = TypeVar("T")


class BucketSchedule(Generic[T]):
    """Items due at a time, popped once that time has passed, grouped by key.

    Precision is one bucket (`tick` seconds): an item never comes out before its time and
    at most one tick after it (plus the consumer's wake-up delay).
    """

    def __init__(self, tick: float) -> None:
        self._tick = tick
        self._buckets: dict[int, defaultdict[str, list[T]]] = {}
        self._order: list[int] = []  # heap of bucket numbers
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, due: float, key: str, item: T) -> None:
        number = math.ceil(due / self._tick)
        bucket = self._buckets.get(number)
        if bucket is None:
            bucket = self._buckets[number] = defaultdict(list)
            heapq.heappush(self._order, number)
        bucket[key].append(item)
        self._size += 1

    def next_due(self) -> float | None:
        return self._order[0] * self._tick if self._order else None

    def pop_due(self, now: float) -> dict[str, list[T]]:
        """Every item of the buckets that started by `now`, grouped by key."""
        due: defaultdict[str, list[T]] = defaultdict(list)
        while self._order and self._order[0] * self._tick <= now:
            for key, items in self._buckets.pop(heapq.heappop(self._order)).items():
                due[key].extend(items)
                self._size -= len(items)
        return due

    def pop_all(self) -> dict[str, list[T]]:
        return self.pop_due(math.inf)


class RetryHeap(Generic[T]):
    """Items due at a time, in time order; ties keep insertion order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._sequence = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, due: float, item: T) -> None:
        heapq.heappush(self._heap, (due, next(self._sequence), item))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[T]:
        due: list[T] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    def pop_all(self) -> list[T]:
        return self.pop_due(math.inf)
