"""What one submit() call waits on: its submit_sm PDUs and one result per PDU.

No task per message: the caller's own task waits on `done`, and whoever learns a PDU's fate
(the reader on a response, the expiry timer, the connection's teardown) resolves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import trio

from dispatch.smpp.pdu import SubmitSm
from dispatch.vocabulary import SubmitResult

# The share of a batch's PDUs still unanswered once the rest are, below which they are
# counted late (see answers.py); in a batch of fewer than 1/MOSTLY_SHARE, none.
MOSTLY_SHARE: Final = 0.05

# What a window entry points at: the batch and the index of the PDU in it.
Ticket = tuple["PendingBatch", int]

# A submit_sm to send: the PDU, or for a one-part message its body in bytes already
# (fast.SubmitBodies; the connection sends it with Session.send_submit_body).
SubmitPart = SubmitSm | bytes


class PendingBatch:
    __slots__ = ("_mostly_at", "answered", "done", "mostly", "pdus", "pending", "results",
                 "starts")

    def __init__(self, pdus: Sequence[SubmitPart], starts: Sequence[bool] = ()) -> None:
        self.pdus = pdus
        # starts[i]: PDU i is the first part of a message (one more entry, True, at the end).
        self.starts = starts or [True] * (len(pdus) + 1)
        self.results: list[SubmitResult | None] = [None] * len(pdus)
        self.pending = len(pdus)
        self.done = trio.Event()
        # Set by the first PDU resolved: how long it took says how long the others should.
        self.answered = trio.Event()
        # Set once all but a few (MOSTLY_SHARE) are resolved: the others are late.
        self.mostly = trio.Event()
        self._mostly_at = int(len(pdus) * MOSTLY_SHARE)
        if not pdus:
            self.done.set()
            self.answered.set()
            self.mostly.set()

    def whole_messages(self, start: int, count: int) -> int:
        """`count` cut back so PDUs [start, start + count) end with a whole message, so a
        message's parts leave together on one bind; `count` if no whole message fits."""
        end = start + count
        while end > start and not self.starts[end]:
            end -= 1
        return end - start if end > start else count

    def resolve(self, index: int, result: SubmitResult) -> None:
        """Record the fate of PDU `index`; the first answer wins (a late one is ignored)."""
        if self.results[index] is not None:
            return
        self.results[index] = result
        if self.pending == len(self.pdus):
            self.answered.set()
        self.pending -= 1
        if self.pending <= self._mostly_at:
            self.mostly.set()
        if not self.pending:
            self.done.set()

    def resolve_from(self, start: int, result: SubmitResult) -> None:
        """Every PDU from `start` on that was never sent gets `result`."""
        for index in range(start, len(self.pdus)):
            self.resolve(index, result)


class Signal:
    """Wakes every task waiting for "something changed" (a window slot freed, a bind came
    up or went down). Cheap to notify when nobody waits: no event is allocated."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: trio.Event | None = None

    def notify(self) -> None:
        if self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        if self._event is None:
            self._event = trio.Event()
        await self._event.wait()
