"""The faults of a plan, applied on time to the run's gateway, Redis and daemon; each one
noted with when it really began and ended (seconds from the run's start)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import trio

from dispatch.bench.chaos.daemon_slot import DaemonSlot
from dispatch.bench.chaos.plan import (
    DAEMON_KILL,
    REDIS_KILL,
    REDIS_STOP,
    SMPP_DROP,
    STALL,
    THROTTLE,
    ChaosShape,
    Fault,
)
from dispatch.bench.chaos.redis_child import RedisChild
from dispatch.simulator.service import Simulator


@dataclass
class Applied:
    kind: str
    at_s: float
    end_s: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)


class Drill:
    def __init__(self, simulator: Simulator, redis: RedisChild, daemon: DaemonSlot,
                 shape: ChaosShape, origin: float) -> None:
        self._simulator = simulator
        self._redis = redis
        self._daemon = daemon
        self._shape = shape
        self._origin = origin  # trio time of the run's start
        self.applied: list[Applied] = []

    def now_s(self) -> float:
        return trio.current_time() - self._origin

    async def run(self, plan: list[Fault], until: trio.Event) -> None:
        """Apply each fault at its time, until the plan or the run (`until`) is over."""
        async with trio.open_nursery() as nursery:
            for fault in plan:
                with trio.move_on_at(self._origin + fault.at_s):
                    await until.wait()
                if until.is_set():
                    break
                nursery.start_soon(self._apply, fault)

    async def _apply(self, fault: Fault) -> None:
        noted = Applied(fault.kind, round(self.now_s(), 3))
        self.applied.append(noted)
        now, live = trio.current_time(), self._simulator.live_faults
        if fault.kind == STALL:
            live.start_stall(fault.duration_s, now)
        elif fault.kind == THROTTLE:
            live.start_throttle(self._shape.throttle_share, fault.duration_s, now)
        elif fault.kind in (REDIS_KILL, REDIS_STOP):
            await (self._redis.kill() if fault.kind == REDIS_KILL else self._redis.stop())
            await trio.sleep_until(now + fault.duration_s)
            await self._redis.start()
        elif fault.kind == DAEMON_KILL:
            await self._daemon.kill()
        elif fault.kind == SMPP_DROP:
            assert self._simulator.smsc is not None
            noted.detail["connections"] = self._simulator.smsc.disconnect_all("close")
        noted.end_s = round(max(self.now_s(), noted.at_s + fault.duration_s), 3)
