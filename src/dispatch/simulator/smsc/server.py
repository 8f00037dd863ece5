"""The simulated SMSC (SMPP 3.4 server) as a Trio service: the listener, one
SmscConnection per client, and one ticker task that sends due receipts, resends the
unacknowledged, generates MO at `mo_rate`.

Behaviour knobs are SimulatorConfig's smpp fields (and dispatch.simulator.profiles);
decisions live beside this module: core (acceptance), policy (throttling, window,
faults), delivery (receipts and MO), receipts (their text). Server-initiated unbind or
close: `disconnect_all` (POST /disconnect, `disconnect_after`, `disconnect_every`).
"""

from __future__ import annotations

import logging
import math
import random
from typing import Any, Final

import trio

from dispatch.listening import open_listeners
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.replies import ReplyBook
from dispatch.simulator.smsc.connection import SmscConnection
from dispatch.simulator.smsc.core import SmscCore
from dispatch.simulator.smsc.stats import SmscCounters

log = logging.getLogger(__name__)

SWEEP_S: Final = 1.0  # how often unacknowledged deliver_sm are checked for the timeout
MO_TICK_S: Final = 0.01  # MO at a rate are generated in batches this often, at most
MODES: Final = ("close", "unbind")


class Smsc:
    def __init__(self, config: SimulatorConfig, ledger: Ledger,
                 outcome_counts: dict[str, int], rng: random.Random,
                 replies: ReplyBook | None = None) -> None:
        self.config = config
        self.core = SmscCore(config, ledger, outcome_counts, rng, replies)
        self.core.on_disconnect = self._disconnect_after
        self.connections: set[SmscConnection] = set()
        self.port: int | None = None
        self._listen_scope = trio.CancelScope()
        self._tick_wake = trio.Event()
        self._idle = trio.Event()  # set when the last connection is gone, if awaited

    @property
    def counters(self) -> SmscCounters:
        return self.core.counters

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Serve until cancelled; reports the bound port once listening."""
        port = self.config.smpp_port or 0
        listeners = await open_listeners(port, self.config.host, "SMPP", "--smpp-port")
        self.port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._tick_loop)
            nursery.start_soon(self._listen, listeners, nursery)
            task_status.started(self.port)

    async def _listen(self, listeners: list[trio.SocketListener], nursery: trio.Nursery
                      ) -> None:
        # Connections live in the outer nursery: closing the listener leaves them be.
        with self._listen_scope:
            await trio.serve_listeners(self._on_connection, listeners, handler_nursery=nursery)

    async def _on_connection(self, stream: trio.SocketStream) -> None:
        connection = SmscConnection(stream, self.core,
                                    enquire_link_s=self.config.smpp_enquire_link_s)
        self.connections.add(connection)
        self.core.counters.connections += 1
        try:
            await connection.run()
        except Exception:  # a bug in one connection must not stop the SMSC
            log.exception("smpp: connection handler failed")
        finally:
            self.connections.discard(connection)
            self.core.counters.connections -= 1
            if not self.connections:
                self._idle.set()

    # Control.

    def disconnect_all(self, mode: str = "close") -> int:
        """Close (or unbind, then close) every current connection; returns how many."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        connections = [c for c in self.connections if not c.closing]
        for connection in connections:
            connection.request_close(mode)
        return len(connections)

    def _disconnect_after(self) -> None:
        count = self.disconnect_all("close")
        log.info("smpp: closed %d connection(s) after %d accepted submit_sm", count,
                 self.core.counters.parts)

    def bound_receivers(self) -> list[str]:
        """system_ids with a bound receiver or transceiver, first bound first."""
        return list(dict.fromkeys(outlet.system_id
                                  for outlet in self.core.deliveries.outlets()))

    def send_mo(self, system_id: str, source: str, destination: str, text: str) -> int:
        return self.core.send_mo(system_id, source, destination, text, trio.current_time())

    async def stop(self, grace_s: float) -> None:
        """Stop accepting connections, close the open ones cleanly (every request read is
        answered), waiting at most `grace_s`. The caller cancels `serve` afterwards."""
        self._listen_scope.cancel()
        self.disconnect_all("close")
        with trio.move_on_after(grace_s):
            while self.connections:
                self._idle = trio.Event()
                await self._idle.wait()

    def stats(self) -> dict[str, Any]:
        counters = self.core.counters
        return {"smpp": counters.as_dict(), "line_violations": counters.line_violations,
                "lines_seen": self.core.policy.lines_seen}

    # The ticker.

    async def _tick_loop(self) -> None:
        deliveries = self.core.deliveries
        deliveries.wakeup = self._wake_ticker
        now = trio.current_time()
        last_sweep = last_mo = now
        mo_credit = 0.0
        while True:
            now = trio.current_time()
            deliveries.release_due(now)
            if now - last_sweep >= SWEEP_S:
                deliveries.expire(deliveries.outlets(), now)
                last_sweep = now
            if self.config.mo_rate:
                mo_credit = min(mo_credit + (now - last_mo) * self.config.mo_rate,
                                max(1.0, self.config.mo_rate))  # no burst after a pause
                last_mo = now
                mo_credit -= self.core.random_mo(int(mo_credit), now)
            await self._sleep_until(self._next_tick(now, last_sweep))

    def _next_tick(self, now: float, last_sweep: float) -> float:
        deliveries = self.core.deliveries
        candidates = [deliveries.next_due() or math.inf]
        if any(outlet.awaiting for outlet in deliveries.outlets()):
            candidates.append(last_sweep + SWEEP_S)
        if self.config.mo_rate:
            candidates.append(now + max(MO_TICK_S, 1 / self.config.mo_rate))
        return min(candidates)

    async def _sleep_until(self, deadline: float) -> None:
        deliveries = self.core.deliveries
        deliveries.sleep_until = deadline
        self._tick_wake = trio.Event()
        with trio.move_on_at(deadline):
            await self._tick_wake.wait()
        deliveries.sleep_until = -math.inf  # awake: nobody needs to wake it

    def _wake_ticker(self) -> None:
        self._tick_wake.set()
