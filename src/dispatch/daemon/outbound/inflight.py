"""Numbers this daemon is submitting right now: between the last opt-out check and the
gateway's answer.

A STOP written to the opt-out list while a message to that number is in that stretch
would not stop it. So the reply handler, after writing the opt-out, waits until the number
is out of this stretch before acknowledging the STOP: whatever the gateway accepted for
that number, it accepted before the sender knew of the STOP. (Within one daemon; across
daemons the stretch is a few milliseconds of unknown order.)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import trio


class InFlightNumbers:
    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._changed = trio.Event()

    def enter(self, numbers: Iterable[str]) -> None:
        self._counts.update(numbers)

    def leave(self, numbers: Iterable[str]) -> None:
        counts = self._counts
        for number in numbers:
            left = counts[number] - 1
            if left > 0:
                counts[number] = left
            else:
                counts.pop(number, None)  # dict's (C); Counter's `del` is Python
        self._changed.set()
        self._changed = trio.Event()

    async def wait_clear(self, numbers: Iterable[str], timeout_s: float) -> None:
        """Until none of `numbers` is being submitted (at most `timeout_s`)."""
        wanted = list(numbers)
        with trio.move_on_after(timeout_s):
            while any(self._counts[number] for number in wanted):
                await self._changed.wait()
