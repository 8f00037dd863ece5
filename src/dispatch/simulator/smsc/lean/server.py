"""The lean SMSC as a Trio service: the listener, one LeanConnection per client, and the
receipts that wait for a receiver of their system_id (their transmitter-only bind, or
their connection, is gone) or for a resend's backoff.

Its /stats have the full SMSC's shape (`smpp` counters, `line_violations`, `lines_seen`)
with `smpp.lean` true; counters of what lean mode does not do stay 0.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import MutableMapping
from typing import Any

import trio

from dispatch.listening import open_listeners
from dispatch.simulator.config import OutcomePicker, SimulatorConfig
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.smsc.delivery import LOG_EVERY, RESEND_BACKOFF
from dispatch.simulator.smsc.lean.connection import LeanConnection, Waiting
from dispatch.simulator.smsc.lean.receipts import ReceiptBodies
from dispatch.simulator.smsc.messages import MessageBook
from dispatch.simulator.smsc.policy import RateLimiter
from dispatch.simulator.smsc.stats import SmscCounters

log = logging.getLogger(__name__)

class LeanSmsc:
    def __init__(self, config: SimulatorConfig, ledger: Ledger,
                 outcome_counts: MutableMapping[str, int], rng: random.Random) -> None:
        self.config = config
        self.ledger = ledger
        self.outcome_counts = outcome_counts
        self.rng = rng
        self.counters = SmscCounters()
        self.window = config.smpp_window
        self.receipt_delay_s = config.receipt_delay_ms / 1000
        self.receipt_timeout_s = config.smpp_receipt_timeout_s
        self.lines = RateLimiter(config.line_rate, config.line_burst) if config.line_rate \
            else None
        outcomes = [name for name, weight in config.outcomes.items() if weight > 0]
        self.only_outcome = outcomes[0] if len(outcomes) == 1 else ""  # no draw needed
        self.bodies = ReceiptBodies(outcomes)
        self._picker = OutcomePicker(config.outcomes)
        self.book = MessageBook(ledger, self.pick_outcome)  # off the hot path
        self.connections: set[LeanConnection] = set()
        self.port: int | None = None
        self._receivers: dict[str, list[LeanConnection]] = {}
        self._shared: dict[str, deque[Waiting]] = {}  # per system_id
        self._later: list[tuple[float, int, str, bytes]] = []  # resends: (due, n, system_id, body)
        self._order = itertools.count()
        self._attempts: dict[bytes, int] = {}  # failed attempts of receipts resent
        self._lost = 0
        self._dates: tuple[int, bytes] = (-1, b"")
        self._listen_scope = trio.CancelScope()
        self._later_wake = trio.Event()
        self._idle = trio.Event()

    # The service.

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Serve until cancelled; reports the bound port once listening."""
        listeners = await open_listeners(self.config.smpp_port or 0, self.config.host, "SMPP",
                                         "--smpp-port")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._resend_loop)
            nursery.start_soon(self._listen, listeners, nursery)
            task_status.started(self.port)

    async def _listen(self, listeners: list[trio.SocketListener], nursery: trio.Nursery
                      ) -> None:
        with self._listen_scope:
            await trio.serve_listeners(self._on_connection, listeners, handler_nursery=nursery)

    async def _on_connection(self, stream: trio.SocketStream) -> None:
        connection = LeanConnection(stream, self)
        self.connections.add(connection)
        self.counters.connections += 1
        try:
            await connection.run()
        except Exception:  # a bug in one connection must not stop the SMSC
            log.exception("smpp: connection handler failed")
        finally:
            self.connections.discard(connection)
            self.counters.connections -= 1
            if not self.connections:
                self._idle.set()

    async def stop(self, grace_s: float) -> None:
        """Stop accepting connections and close the open ones (every request read is
        answered), waiting at most `grace_s`."""
        self._listen_scope.cancel()
        for connection in self.connections:
            connection.request_close()
        self.counters.disconnects += len(self.connections)
        with trio.move_on_after(grace_s):
            while self.connections:
                self._idle = trio.Event()
                await self._idle.wait()

    def stats(self) -> dict[str, Any]:
        return {"smpp": {**self.counters.as_dict(), "lean": True},
                "line_violations": self.counters.line_violations,
                "lines_seen": len(self.lines) if self.lines is not None else 0}

    # What the connections ask.

    def receipt_dates(self, wall: float) -> bytes:
        """The receipts' dates for messages accepted at `wall` (unix time)."""
        second = int(wall)
        if self._dates[0] != second:
            self._dates = (second, self.bodies.dates(wall, wall + self.receipt_delay_s))
        return self._dates[1]

    def pick_outcome(self) -> str:
        outcome = self.only_outcome or self._picker.pick(self.rng.random())
        self.outcome_counts[outcome] = self.outcome_counts.get(outcome, 0) + 1
        return outcome

    def add_receiver(self, connection: LeanConnection) -> None:
        self._receivers.setdefault(connection.system_id, []).append(connection)
        if self._shared.get(connection.system_id):
            connection.wake()

    def add_receipt(self, connection: LeanConnection | None, due: float, system_id: str,
                    body: bytes) -> None:
        """A receipt for `connection` (None: any receiver of `system_id`)."""
        counters = self.counters
        if counters.receipts_pending >= self.config.receipts_pending_limit:
            counters.receipts_dropped += 1
            self._count_lost("dropped", system_id, 0)
            return
        counters.receipts_pending += 1
        if connection is not None:
            connection.receipts.append((due, body))
        else:
            self._share(system_id, [(due, body)])

    def next_due(self, connection: LeanConnection) -> float:
        own, shared = connection.receipts, self._shared.get(connection.system_id)
        return min(own[0][0] if own else math.inf, shared[0][0] if shared else math.inf)

    def take_due(self, connection: LeanConnection, now: float, count: int) -> list[bytes]:
        """Up to `count` receipts due for `connection`: its own first, then shared ones."""
        taken: list[bytes] = []
        for line in (connection.receipts, self._shared.get(connection.system_id)):
            if not line:
                continue
            if line[-1][0] <= now:  # all due (the common case): no look at each
                taken += [line.popleft()[1] for _ in range(min(count - len(taken), len(line)))]
            while line and len(taken) < count and line[0][0] <= now:
                taken.append(line.popleft()[1])
        return taken

    def settled(self, bodies: list[bytes]) -> None:
        """These receipts were acknowledged."""
        counters = self.counters
        counters.receipts_sent += len(bodies)
        counters.receipts_pending -= len(bodies)
        if self._attempts:  # only resent ones are in there
            for body in bodies:
                self._attempts.pop(body, None)

    def retry(self, system_id: str, body: bytes, now: float) -> None:
        """A receipt refused or unanswered: sent again after a backoff, or given up."""
        attempts = self._failed(system_id, body)
        if attempts:
            heapq.heappush(self._later, (now + RESEND_BACKOFF.ceiling(attempts), next(self._order),
                                         system_id, body))
            self._later_wake.set()

    def gone(self, connection: LeanConnection, now: float) -> None:
        """`connection` closed: its receipts go to the other receivers of its system_id,
        those it sent and did not see acknowledged first (one attempt more)."""
        receivers = self._receivers.get(connection.system_id, [])
        if connection in receivers:
            receivers.remove(connection)
        system_id = connection.system_id
        resend = [(now, body) for body in connection.unacknowledged()
                  if self._failed(system_id, body)]
        if resend or connection.receipts:
            self._share(system_id, resend + list(connection.receipts), first=True)
            connection.receipts.clear()

    def _failed(self, system_id: str, body: bytes) -> int:
        """Count a failed attempt: the attempts so far, or 0 once given up."""
        attempts = self._attempts.get(body, 0) + 1
        if attempts < self.config.smpp_receipt_attempts:
            self._attempts[body] = attempts
            return attempts
        self._attempts.pop(body, None)
        self.counters.receipts_pending -= 1
        self.counters.receipts_failed += 1
        self._count_lost("gave up on", system_id, attempts)
        return 0

    def _count_lost(self, what: str, system_id: str, attempts: int) -> None:
        self._lost += 1
        if self._lost % LOG_EVERY == 1:  # the first, then one in LOG_EVERY
            log.warning("smpp: %s a receipt deliver_sm for system_id %s after %d attempt(s) "
                        "(%d so far, see /stats)", what, system_id, attempts, self._lost)

    def _share(self, system_id: str, waiting: list[Waiting], *, first: bool = False) -> None:
        line = self._shared.setdefault(system_id, deque())
        if first:
            line.extendleft(reversed(waiting))
        else:
            line.extend(waiting)
        for receiver in self._receivers.get(system_id, ()):
            receiver.wake()

    async def _resend_loop(self) -> None:
        later = self._later
        while True:
            now = trio.current_time()
            while later and later[0][0] <= now:
                _, _, system_id, body = heapq.heappop(later)
                self._share(system_id, [(now, body)])
            self._later_wake = trio.Event()
            with trio.move_on_at(later[0][0] if later else math.inf):
                await self._later_wake.wait()
