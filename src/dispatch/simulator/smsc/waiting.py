"""The deliver_sm of one system_id waiting for room in a receiver's window — pure.

A receipt goes back on the transceiver that submitted its message while that one is
bound: it waits in that receiver's own line, so that one full window does not hold up
the receipts of the other binds (a single line did: one bind at a time had anything to
send, whatever the number of binds). MO, and receipts whose transceiver is gone, wait in
the shared line and go to whichever receiver has room. Each receiver still takes its
deliveries in the order they started waiting: every delivery carries a number, and a
receiver takes the lower of its own line's head and the shared line's head.
"""

from __future__ import annotations

import heapq
from collections import deque
from operator import attrgetter
from typing import Generic, Protocol, TypeVar


class Waiting(Protocol):
    order: int  # set by the line: lower leaves first


W = TypeVar("W", bound=Waiting)
R = TypeVar("R")  # a receiver

_order = attrgetter("order")


class WaitingLine(Generic[R, W]):
    def __init__(self) -> None:
        self.shared: deque[W] = deque()
        self.own: dict[R, deque[W]] = {}
        self._last = 0  # the order given to the latest arrival
        self._first = 0  # the order given to the latest put back in front

    def __len__(self) -> int:
        return len(self.shared) + sum(len(line) for line in self.own.values())

    def add(self, item: W, receiver: R | None, *, first: bool = False) -> None:
        """`receiver`: where it must go (None: any). `first`: before everything waiting
        (it was sent already and comes back)."""
        line = self.shared if receiver is None else self.own.setdefault(receiver, deque())
        if first:
            self._first -= 1
            item.order = self._first
            line.appendleft(item)
        else:
            self._last += 1
            item.order = self._last
            line.append(item)

    def take(self, receiver: R, count: int) -> list[W]:
        """Up to `count` for `receiver`, its own and shared ones in the order they came."""
        own, shared = self.own.get(receiver), self.shared
        taken: list[W] = []
        while own and len(taken) < count:
            if shared and shared[0].order < own[0].order:
                taken.append(shared.popleft())
            else:
                taken.append(own.popleft())
        while shared and len(taken) < count:
            taken.append(shared.popleft())
        if own is not None and not own:
            del self.own[receiver]
        return taken

    def release(self, receiver: R) -> None:
        """`receiver` takes nothing more: what waited for it goes to any receiver."""
        own = self.own.pop(receiver, None)
        if own:
            self.shared = deque(heapq.merge(self.shared, own, key=_order))

