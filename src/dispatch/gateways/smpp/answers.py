"""A submitted batch's results per message, as its answers come.

A submit_sm that is never answered has its own deadline (the window's) and resolves alone
as "no response" when it passes; the rest of its batch is answered within milliseconds.
Waiting for the whole batch would hold every message of it (and the sender's next batch)
for the timeout: with 1 % of answers lost, most batches of 100 hold one. So the caller
takes what is answered soon (`first`) and the laggards later (`rest`), from another task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

import trio

from dispatch.gateways.smpp.batch import PendingBatch
from dispatch.vocabulary import SubmitResult

# After a batch's first answer, how long its other answers are waited for before the
# messages answered so far go on without them: LAG_FACTOR times what the first answer
# took, and at least LAG_GRACE_S (answers of one batch come a few reads apart, and a
# daemon at full load takes tens of milliseconds between reads). Once all but a few are
# answered (PendingBatch.mostly), only MOSTLY_GRACE_S more: the answers of a batch come
# together, one missing then is most likely lost. Splitting a batch that was only slow
# costs one more outcome hand-over, not a resend.
LAG_GRACE_S: Final = 0.05
LAG_FACTOR: Final = 2.0
MOSTLY_GRACE_S: Final = 0.01

# A message's result from its parts' results (in part order).
Settle = Callable[[int, Sequence[SubmitResult | None]], SubmitResult]


class Answers:
    """Results of one batch's messages. `spans[i]`: the PDUs of message i in the batch
    (empty: decided without sending, `settle` gives its result at once)."""

    def __init__(self, batch: PendingBatch, spans: Sequence[range], settle: Settle) -> None:
        self._batch = batch
        self._spans = spans
        self._settle = settle
        self._taken = [False] * len(spans)
        self._sent_at = trio.current_time()

    async def first(self) -> list[SubmitResult | None]:
        """Waits for every answer, or for the first one then a grace (short once nearly
        all came); the result of each message whose parts are all answered by then, None
        for the others (see `rest`)."""
        batch = self._batch
        await batch.answered.wait()
        took = trio.current_time() - self._sent_at
        with trio.move_on_after(max(LAG_GRACE_S, LAG_FACTOR * took)):
            await batch.mostly.wait()
            with trio.move_on_after(MOSTLY_GRACE_S):
                await batch.done.wait()
        return self._take()

    async def rest(self) -> list[SubmitResult | None]:
        """Waits for every answer (each PDU has its own deadline); the results `first` did
        not give, None for those it gave."""
        await self._batch.done.wait()
        return self._take()

    async def all(self) -> list[SubmitResult]:
        """Every message's result, once every answer came (or its deadline passed)."""
        await self._batch.done.wait()
        return [result for result in self._take() if result is not None]

    def _take(self) -> list[SubmitResult | None]:
        results = self._batch.results
        taken: list[SubmitResult | None] = []
        for index, span in enumerate(self._spans):
            parts = results[span.start:span.stop]
            if self._taken[index] or None in parts:
                taken.append(None)
                continue
            self._taken[index] = True
            taken.append(self._settle(index, parts))
        return taken
