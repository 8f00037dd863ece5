"""The measured run: simulator and daemons around a private Redis, one campaign through.

The wait ends when every message is final, when nothing has moved for `stall_s` (receipts
a gateway dropped never come), or at `timeout_s`.

Backlog mode (the default): the whole campaign is enqueued first, Redis memory is read
before and after (bytes per queued message), then the daemons start, and the rate counts
from the moment they are all ready to the sample at which every message is final.
Paced mode (`--enqueue-rate R`): the daemons start first and rows are enqueued at R/s, so
the latencies show the pipeline's own delay rather than the time spent in a backlog; the
rate counts from the start of the enqueue.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from dispatch.bench.measure import ProcStats, read_proc
from dispatch.bench.options import BenchOptions
from dispatch.bench.probes import scrape_metrics, simulator_stats
from dispatch.bench.sampler import Sampler, summed_counts
from dispatch.bench.services import start_daemon, start_simulator, write_daemon_config
from dispatch.bench.workload import (
    EnqueueResult,
    campaign_ids,
    campaign_text,
    enqueue_all,
    enqueue_paced,
)
from dispatch.keys import Keys
from dispatch.processes import Child
from dispatch.settings import Settings, load_settings
from dispatch.store.redis import Redis, open_redis
from dispatch.store.status import state_counts, used_memory


@dataclass
class PipelineRun:
    """What one run measured (times in seconds since the run's origin)."""

    enqueue: EnqueueResult = field(default_factory=EnqueueResult)
    memory_before: int = 0
    memory_after: int | None = None  # backlog mode only
    started_at: float = 0.0  # daemons ready (backlog) or enqueue started (paced)
    ended_at: float = 0.0  # every message final, or the timeout
    complete: bool = False
    stop_reason: str = "timeout"  # "complete", "timeout" or "stalled"
    counts: dict[str, int] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    simulator: dict[str, Any] = field(default_factory=dict)
    procs_start: dict[str, ProcStats] = field(default_factory=dict)
    procs_end: dict[str, ProcStats] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)


async def run_pipeline(options: BenchOptions, workdir: Path, redis_url: str,
                       redis_pids: list[int]) -> PipelineRun:
    """One run on the Redis at `redis_url`, whose server processes are `redis_pids` (their
    CPU is watched: "redis", then "redis-2"... for a cluster's masters)."""
    children: list[Child] = []
    try:
        simulator = await start_simulator(options, workdir, "simulator")
        children.append(simulator)
        # The bench's own settings: the daemons' Redis, gateway and key prefix.
        settings = load_settings(write_daemon_config(
            workdir / "bench.toml", redis_url, "bench", options, simulator.ready))
        async with open_redis(settings) as redis:
            stage = Stage(options, workdir, settings, redis, simulator, children)
            stage.watch("simulator", simulator.process.pid, simulator)
            for index, pid in enumerate(redis_pids):
                stage.watch("redis" if index == 0 else f"redis-{index + 1}", pid)
            return await stage.run()
    finally:
        with trio.CancelScope(shield=True):
            for child in reversed(children):
                await child.stop()


class Stage:
    """One run's moving parts, so that each step below stays a few lines."""

    def __init__(self, options: BenchOptions, workdir: Path, settings: Settings,
                 redis: Redis, simulator: Child, children: list[Child]) -> None:
        self.options = options
        self.workdir = workdir
        self.settings = settings
        self.keys = Keys(settings.redis.key_prefix)
        self.redis = redis
        self.simulator = simulator
        self.children = children
        self.daemons: list[Child] = []
        self.pids: dict[str, int] = {}
        self.result = PipelineRun()
        self.origin = trio.current_time()
        self.campaigns = campaign_ids(options.campaigns)
        self.sampler = Sampler(redis, self.keys, self.campaigns, self.origin)

    def watch(self, name: str, pid: int, child: Child | None = None) -> None:
        self.pids[name] = pid
        self.sampler.watch(name, pid, child)

    async def run(self) -> PipelineRun:
        self.result.memory_before = await used_memory(self.redis)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.sampler.run, self.options.sample_s)
            with trio.move_on_after(self.options.timeout_s):
                await (self._paced() if self.options.paced else self._backlog())
                self.result.complete = await self.sampler.wait_final(
                    self.result.enqueue.accepted, self.options.stall_s)
                self.result.stop_reason = "complete" if self.result.complete else "stalled"
            await self._finish()
            nursery.cancel_scope.cancel()
        return self.result

    async def _backlog(self) -> None:
        self.result.enqueue = await enqueue_all(self.redis, self.settings,
                                                self.options.messages, self.workdir,
                                                campaign_text(self.options.text_parts),
                                                self.campaigns)
        self.result.memory_after = await used_memory(self.redis)
        await self._start_daemons()

    async def _paced(self) -> None:
        await self._start_daemons()
        self.result.started_at = trio.current_time() - self.origin  # the enqueue's start
        await enqueue_paced(self.redis, self.settings, self.options.messages,
                            self.options.enqueue_rate, self.workdir, self.result.enqueue,
                            campaign_text(self.options.text_parts), self.campaigns)

    async def _start_daemons(self) -> None:
        """All at once; the measured interval starts when the first is ready (with the
        others' own CPU counted from their own readiness)."""
        self.result.procs_start = self._procs()
        self.result.started_at = math.inf
        async with trio.open_nursery() as nursery:
            for number in range(1, self.options.daemons + 1):
                nursery.start_soon(self._start_daemon, number)

    async def _start_daemon(self, number: int) -> None:
        daemon = await start_daemon(self.options, self.workdir, self.settings.redis.url,
                                    self.simulator.ready, number)
        self.children.append(daemon)
        self.daemons.append(daemon)
        self.watch(daemon.name, daemon.process.pid, daemon)
        stats = read_proc(daemon.process.pid)
        if stats is not None:
            self.result.procs_start[daemon.name] = stats
        self.result.started_at = min(self.result.started_at,
                                     trio.current_time() - self.origin)

    async def _finish(self) -> None:
        """Read everything off the processes while they still run."""
        result = self.result
        result.ended_at = trio.current_time() - self.origin
        if not math.isfinite(result.started_at):  # cut short while the daemons started
            result.started_at = result.ended_at
        await self.sampler.sample()
        result.procs_end = self._procs()
        result.metrics = await scrape_metrics(self.daemons)
        result.simulator = await simulator_stats(self.simulator)
        result.counts = await self._counts()
        result.series = self.sampler.series.as_json()

    async def _counts(self) -> dict[str, int]:
        return summed_counts(await state_counts(self.redis, self.keys, self.campaigns))

    def _procs(self) -> dict[str, ProcStats]:
        found = {name: read_proc(pid) for name, pid in self.pids.items()}
        found["bench"] = read_proc(os.getpid())
        return {name: stats for name, stats in found.items() if stats is not None}
