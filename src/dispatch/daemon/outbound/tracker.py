"""What the daemon holds in process: messages admitted and not yet recorded.

It bounds how much the reader takes from Redis, tells the claim renewer which entries to
keep, and tells shutdown when the work in hand is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import trio

from dispatch.daemon.outbound.messages import Message


class Tracker:
    def __init__(self) -> None:
        self._held: dict[bytes, Message] = {}
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._held)

    def add(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self._held[message.entry_id] = message
        self._notify()

    def discard(self, entry_ids: Iterable[bytes]) -> None:
        for entry_id in entry_ids:
            self._held.pop(entry_id, None)
        self._notify()

    def held_by_campaign(self) -> dict[str, list[bytes]]:
        by_campaign: dict[str, list[bytes]] = {}
        for message in self._held.values():
            by_campaign.setdefault(message.campaign, []).append(message.entry_id)
        return by_campaign

    async def wait_below(self, limit: int, waiting: Callable[[], int] = lambda: 0) -> None:
        """Until fewer than `limit` messages are busy: held, less those `waiting` for their
        sending window (they wait in memory, bounded by the window waiter's capacity)."""
        while len(self._held) - waiting() >= limit:
            with trio.move_on_after(1.0):  # a window opening does not notify: look again
                await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()
