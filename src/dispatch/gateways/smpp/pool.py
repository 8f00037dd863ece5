"""The binds of one gateway: their life (up, down, tried) as their slots report it, and
spreading a batch over those that can take submit_sm.

Each submit() call starts on the next bind in turn and writes as many PDUs as that bind's
window and rate allow in one write, then moves on; when every window is full (or every
bind is slowed down) it waits for a slot to free. With no bind up, what is left of the
batch is answered "retry" at once rather than waiting for a reconnection.
"""

from __future__ import annotations

import math
import time
from typing import Final

import trio

from dispatch.gateways.smpp.batch import PendingBatch, Signal
from dispatch.gateways.smpp.connection import Connection
from dispatch.gateways.smpp.stats import ClientStats
from dispatch.gateways.smpp.submit import NO_BIND

MIN_WAIT_S: Final = 0.001


class Pool:
    def __init__(self, stats: ClientStats) -> None:
        self.stats = stats
        self.changed = Signal()  # a window slot freed, a bind came up or went down
        self.tried = trio.Event()  # a submitting bind came up, or failed to
        self.last_error: str | None = None  # why a bind last failed or ended (no secret)
        self.last_error_at: float | None = None  # when (time.time())
        self._binds: list[Connection] = []
        self._turn = 0

    def up(self, connection: Connection) -> None:
        self.stats.binds_up += 1
        self.add(connection)

    def down(self, connection: Connection) -> None:
        self.stats.binds_up -= 1
        self.stats.disconnects += 1
        self.remove(connection)

    def attempted(self, submits: bool) -> None:
        """A bind attempt ended, bound or not."""
        if submits:
            self.tried.set()

    def failed(self, reason: str) -> None:
        """A bind could not be made, or its connection ended: `reason` for /healthz."""
        self.last_error, self.last_error_at = reason, time.time()

    @property
    def bound(self) -> int:
        """Submitting binds up."""
        return len(self._binds)

    def add(self, connection: Connection) -> None:
        if connection.can_submit:
            self._binds.append(connection)
            self.changed.notify()

    def remove(self, connection: Connection) -> None:
        if connection in self._binds:
            self._binds.remove(connection)
            self.changed.notify()

    @property
    def rates(self) -> list[float | None]:
        """Each bind's send rate limit in messages/s (None: not slowed down)."""
        return [bind.rate.rate for bind in self._binds]

    @property
    def available(self) -> bool:
        """Is any bind up and taking submit_sm?"""
        return any(bind.accepting for bind in self._binds)

    def pick(self, now: float) -> Connection | None:
        """The next bind in turn that may send now."""
        binds = self._binds
        count = len(binds)
        for offset in range(count):
            bind = binds[(self._turn + offset) % count]
            if bind.ready(now):
                self._turn = (self._turn + offset + 1) % count
                return bind
        return None

    def wait_s(self, now: float) -> float:
        """How long until a bind with a free window may send again (its rate); inf when
        every window is full (then only a freed slot helps)."""
        waits = [bind.rate.wait_s(now) for bind in self._binds
                 if bind.accepting and bind.window.free]
        return max(MIN_WAIT_S, min(waits)) if waits else math.inf

    async def flushed(self) -> None:
        """Returns once every bind wrote what it was given so far (bound the wait: a bind
        that died meanwhile never does)."""
        for bind in list(self._binds):
            await bind.flushed()

    async def send(self, batch: PendingBatch) -> None:
        """Write every PDU of `batch`; those no bind can take are resolved "retry"."""
        start = 0
        total = len(batch.pdus)
        while start < total:
            now = trio.current_time()
            bind = self.pick(now)
            if bind is not None:
                start += bind.take(batch, start)
                continue
            if not self.available:
                batch.resolve_from(start, NO_BIND)
                return
            with trio.move_on_after(self.wait_s(now)):
                await self.changed.wait()
