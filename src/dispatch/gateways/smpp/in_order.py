"""One step of concurrent batches taken in the order the batches arrived.

Deliveries are recorded several batches at a time (receipts have no order), but replies
do: a STOP followed by START from one number must be recorded in that order even when
they come in consecutive batches. A batch takes a ticket when it arrives (no await
between arrival and ticket) and runs its ordered step in its turn. Whatever becomes of a
batch, its handler calls `release(ticket)` when done with it (in a `finally`), so a batch
cancelled or failed before its turn never holds up the ones behind it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio


class InOrder:
    def __init__(self) -> None:
        self._issued = 0
        self._serving = 0
        self._finished: set[int] = set()
        self._waiting: dict[int, trio.Event] = {}

    def ticket(self) -> int:
        ticket = self._issued
        self._issued += 1
        return ticket

    @asynccontextmanager
    async def turn(self, ticket: int) -> AsyncIterator[None]:
        try:
            if ticket != self._serving:
                await self._waiting.setdefault(ticket, trio.Event()).wait()
            yield
        finally:
            self.release(ticket)

    def release(self, ticket: int) -> None:
        """The ticket's batch is done with its ordered step, or will never take it.
        Idempotent."""
        if ticket < self._serving or ticket in self._finished:
            return
        self._waiting.pop(ticket, None)
        self._finished.add(ticket)
        while self._serving in self._finished:
            self._finished.remove(self._serving)
            self._serving += 1
        next_up = self._waiting.get(self._serving)
        if next_up is not None:
            next_up.set()
