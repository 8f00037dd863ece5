"""Sampling the run as it goes: message counts by stage, and each process's CPU.

One HGETALL of the campaign's counts hash per sample (a few per second): the benchmark
watches Redis, it does not load it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import trio

from dispatch.bench.measure import read_cpu_s
from dispatch.keys import Keys
from dispatch.processes import Child, ProcessFailed
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from dispatch.vocabulary import FINAL_STATES, SUBMITTED


@dataclass
class Series:
    """Cumulative counts at each sample time (seconds since the run's origin)."""

    t: list[float] = field(default_factory=list)
    entered: list[int] = field(default_factory=list)  # every message the campaign knows
    passed: list[int] = field(default_factory=list)  # accepted by the gateway, or failed
    final: list[int] = field(default_factory=list)  # delivered, failed or expired
    cpu_s: dict[str, list[float]] = field(default_factory=dict)  # per process

    def as_json(self) -> dict[str, object]:
        return {"t": [round(x, 3) for x in self.t], "entered": self.entered,
                "passed": self.passed, "final": self.final,
                "cpu_s": {name: [round(x, 2) for x in values]
                          for name, values in self.cpu_s.items()}}


def stage_totals(counts: Mapping[str, int]) -> tuple[int, int, int]:
    """(entered, passed, final) from one campaign's counts by state."""
    final = sum(counts.get(state, 0) for state in FINAL_STATES)
    return sum(counts.values()), final + counts.get(SUBMITTED, 0), final


def summed_counts(by_campaign: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The counts by state of several campaigns, added up."""
    total: dict[str, int] = {}
    for counts in by_campaign.values():
        for state, count in counts.items():
            total[state] = total.get(state, 0) + count
    return total


class Sampler:
    def __init__(self, redis: Redis, keys: Keys, campaigns: Sequence[str], origin: float
                 ) -> None:
        self.series = Series()
        self._redis = redis
        self._keys = keys
        self._campaigns = list(campaigns)
        self._origin = origin
        self._pids: dict[str, int] = {}
        self._watched: list[Child] = []
        self._sampled = trio.Event()
        self._moved_at = origin  # when a count last changed

    def watch(self, name: str, pid: int, child: Child | None = None) -> None:
        """Record this process's CPU from now on; a watched child exiting fails the run."""
        self._pids[name] = pid
        self.series.cpu_s[name] = [0.0] * len(self.series.t)
        if child is not None:
            self._watched.append(child)

    async def run(self, period_s: float) -> None:
        """Sample every `period_s` until cancelled."""
        while True:
            await self.sample()
            await trio.sleep(period_s)

    async def sample(self) -> None:
        counts = summed_counts(await state_counts(self._redis, self._keys, self._campaigns))
        self._check_children()
        series = self.series
        entered, passed, final = stage_totals(counts)
        if not series.t or (entered, passed, final) != (
                series.entered[-1], series.passed[-1], series.final[-1]):
            self._moved_at = trio.current_time()
        series.t.append(trio.current_time() - self._origin)
        series.entered.append(entered)
        series.passed.append(passed)
        series.final.append(final)
        for name, pid in self._pids.items():
            cpu = read_cpu_s(pid)
            previous = series.cpu_s[name][-1] if series.cpu_s[name] else 0.0
            series.cpu_s[name].append(previous if cpu is None else cpu)
        self._sampled.set()
        self._sampled = trio.Event()

    async def wait_final(self, target: int, stall_s: float) -> bool:
        """Until `target` messages are final (True), or no count has moved for `stall_s`
        (False: e.g. receipts the gateway dropped will never come); the caller bounds the
        whole wait."""
        while not self.series.final or self.series.final[-1] < target:
            if trio.current_time() - self._moved_at > stall_s:
                return False
            await self._sampled.wait()
        return True

    def _check_children(self) -> None:
        for child in self._watched:
            if child.process.returncode is not None:
                raise ProcessFailed(f"{child.name} exited with {child.process.returncode} "
                                    "during the run")
