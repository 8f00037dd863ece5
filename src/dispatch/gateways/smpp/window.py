"""The requests outstanding on one bind, keyed by sequence number, with deadlines — pure.

Responses come back in any order and are matched only by sequence number. Every request
of a bind waits the same timeout, so deadlines grow with insertion order: the dict keeps
that order (removals from the middle do not disturb it) and expiry only ever looks at the
head. Everything is O(1) per request, amortised.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class WindowFull(Exception):
    """A request was added to a window with no free slot: the caller skipped its check."""


class Window(Generic[T]):
    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"window size must be at least 1, got {size}")
        self.size = size
        self._entries: dict[int, tuple[float, T]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def free(self) -> int:
        return self.size - len(self._entries)

    def add(self, sequence: int, item: T, deadline: float) -> None:
        if len(self._entries) >= self.size:
            raise WindowFull(f"window of {self.size} is full")
        if sequence in self._entries:
            raise ValueError(f"sequence number {sequence} is already outstanding")
        self._entries[sequence] = (deadline, item)

    def pop(self, sequence: int) -> T | None:
        """The request a response answers; None if unknown (late, or never ours)."""
        entry = self._entries.pop(sequence, None)
        return None if entry is None else entry[1]

    def next_deadline(self) -> float | None:
        for deadline, _ in self._entries.values():
            return deadline
        return None

    def expire(self, now: float) -> list[T]:
        """Remove and return the requests whose deadline has passed."""
        stale: list[int] = []
        for sequence, (deadline, _) in self._entries.items():
            if deadline > now:
                break
            stale.append(sequence)
        return [self._entries.pop(sequence)[1] for sequence in stale]

    def clear(self) -> list[T]:
        """Remove and return everything outstanding (the connection is gone)."""
        items = [item for _, item in self._entries.values()]
        self._entries.clear()
        return items
