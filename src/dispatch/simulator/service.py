"""The simulator as a Trio service: the HTTP gateway plus the receipt poster."""

from __future__ import annotations

import random
from typing import Any

import httpx
import trio

from dispatch.httpserver import serve_http
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.faults import FaultDecider
from dispatch.simulator.http_gateway import HttpGateway
from dispatch.simulator.ledger import Ledger
from dispatch.simulator.receipts import ReceiptPoster


class Simulator:
    """One simulated gateway; inspect `ledger` and `stats()` in tests."""

    def __init__(self, config: SimulatorConfig,
                 receipt_transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.ledger = Ledger()
        self.receipts = ReceiptPoster(config, receipt_transport)
        faults = FaultDecider(config, random.Random(config.seed))
        self.gateway = HttpGateway(self.ledger, faults, self.receipts)
        self._http_scope = trio.CancelScope()

    def stats(self) -> dict[str, Any]:
        """What GET /stats answers."""
        return self.gateway.stats()

    async def serve(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        """Serve until cancelled; reports the bound HTTP port once listening."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.receipts.run)
            port = await nursery.start(self._serve_http)
            task_status.started(port)

    async def stop_accepting(self, grace_s: float) -> None:
        """Close the HTTP listener, then send pending receipts for at most `grace_s`.
        The caller cancels `serve` afterwards."""
        self._http_scope.cancel()
        self.receipts.flush_now()
        with trio.move_on_after(grace_s):
            await self.receipts.wait_idle()

    async def _serve_http(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED
                          ) -> None:
        with self._http_scope:
            await serve_http(self.gateway, self.config.host, self.config.http_port,
                             task_status=task_status)


async def serve_simulator(config: SimulatorConfig, *,
                          task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
    """Run a simulator until cancelled; `task_status.started(bound_port)` once listening."""
    await Simulator(config).serve(task_status=task_status)
