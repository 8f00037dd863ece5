"""One chaos run: a campaign of `messages` over one line at `rate` messages/s (so the run
lasts long enough for every fault), the faults of the plan, STOPs for queued numbers, and
the ledger at the end.

Redis (its own redis-server) and the daemon (`dispatch run`) are real processes, killed and
restarted for real. The gateway is the simulator in this process: the faults are switched
on by calling it, and its books (accepted, duplicates, sends after STOP, line violations,
each STOP's acknowledgement) are read directly.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import trio

from dispatch.bench.chaos.daemon_slot import DaemonSlot
from dispatch.bench.chaos.drill import Drill
from dispatch.bench.chaos.plan import DAEMON_KILL, REDIS_KILL, ChaosShape, Fault, build_plan
from dispatch.bench.chaos.redis_child import RedisChild
from dispatch.bench.chaos.verdict import FINAL_STATES, ledger, recovery, stop_delays
from dispatch.bench.options import BenchOptions
from dispatch.bench.services import (
    ACCOUNT,
    CALLBACK_SECRET,
    line_address,
    start_daemon,
    write_daemon_config,
)
from dispatch.bench.workload import CAMPAIGN, e164_number, enqueue_all
from dispatch.errors import RedisUnavailableError
from dispatch.keys import Keys
from dispatch.settings import Settings, load_settings
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.mo_body import MoRequest
from dispatch.simulator.service import Simulator
from dispatch.store.redis import REDIS_ERRORS, open_redis
from dispatch.store.status import state_counts

SAMPLE_S: Final = 0.1
REDIS_AWAY: tuple[type[BaseException], ...] = (*REDIS_ERRORS, RedisUnavailableError)
POLL_S: Final = 1.0


@dataclass(frozen=True)
class ChaosOptions:
    gateway: str = "smpp"
    messages: int = 200_000
    rate: float = 1_500.0  # the line's messages/s (the daemon's pool and the gateway's meter)
    stops: int = 400
    stop_rate: float = 4.0  # STOPs per second, from stops_at_s
    stops_at_s: float = 3.0
    stops_from: float = 0.3  # STOPs go to numbers from this share of the campaign on
    shape: ChaosShape = field(default_factory=ChaosShape)
    seed: int = 1
    # The faults, when not the plan's (plan.build_plan): a test's or an investigation's.
    faults: tuple[Fault, ...] | None = None
    batch_size: int = 100
    concurrency: int = 8
    timeout_s: float = 900.0

    @property
    def smpp(self) -> bool:
        return self.gateway == "smpp"

    @property
    def span_s(self) -> float:
        """The campaign's length without faults."""
        return self.messages / self.rate

    def bench(self) -> BenchOptions:
        # One short code: as many submissions outstanding as the senders' batches hold.
        return BenchOptions(gateway=self.gateway, messages=self.messages, lines=1,
                            line_rate=self.rate, batch_size=self.batch_size,
                            concurrency=self.concurrency,
                            line_concurrency=self.batch_size * self.concurrency)


def simulator_config(options: ChaosOptions) -> SimulatorConfig:
    return SimulatorConfig(
        http_port=0, smpp_port=0 if options.smpp else None, accounts=dict([ACCOUNT]),
        seed=options.seed, outcomes={"delivered": 1.0}, receipt_delay_ms=100.0,
        receipts_pending_limit=max(200_000, options.messages), line_rate=options.rate,
        callback_secret=CALLBACK_SECRET)


def stop_numbers(options: ChaosOptions) -> list[str]:
    """Numbers far enough into the campaign to be queued when their STOP comes."""
    first = int(options.messages * options.stops_from)
    span = options.messages - first
    return [e164_number(first + i * span // options.stops) for i in range(options.stops)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ChaosRun:
    def __init__(self, options: ChaosOptions, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.redis = RedisChild(workdir / "redis")
        self.simulator = Simulator(simulator_config(options))
        self.samples: list[tuple[float, int]] = []
        self.origin = 0.0
        self.done = trio.Event()

    async def run(self) -> dict[str, Any]:
        await self.redis.start()
        try:
            async with trio.open_nursery() as nursery:
                http_port = await nursery.start(self.simulator.serve)
                result = await self._with_gateway(http_port)
                nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                await self.redis.stop()
        return result

    async def _with_gateway(self, http_port: int) -> dict[str, Any]:
        options, inbound = self.options, free_port() if not self.options.smpp else 0
        ports = {"http_port": http_port, "smpp_port": self.simulator.smpp_port or 0}
        bench = options.bench()
        settings = load_settings(write_daemon_config(
            self.workdir / "enqueue.toml", self.redis.url, "enqueue", bench, ports))
        async with open_redis(settings) as redis:
            enqueued = (await enqueue_all(redis, settings, options.messages,
                                          self.workdir)).accepted
        daemon = DaemonSlot(lambda: start_daemon(bench, self.workdir, self.redis.url, ports,
                                                 1, inbound), options.shape.restart_s)
        plan = list(options.faults) if options.faults is not None else \
            build_plan(options.span_s, options.shape, options.smpp, options.seed)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)
            self.origin = trio.current_time()  # the faults' times count from here
            drill = Drill(self.simulator, self.redis, daemon, options.shape, self.origin)
            nursery.start_soon(self._sample)
            nursery.start_soon(drill.run, plan, self.done)
            nursery.start_soon(self._send_stops)
            counts, elapsed = await self._wait_final(settings, enqueued)
            self.done.set()
            nursery.cancel_scope.cancel()
        return self._report(enqueued, counts, elapsed, drill, daemon, plan)

    async def _sample(self) -> None:
        while True:
            self.samples.append((round(trio.current_time() - self.origin, 3),
                                 self.simulator.ledger.accepted))
            await trio.sleep(SAMPLE_S)

    async def _send_stops(self) -> None:
        options, line = self.options, line_address(0)
        for index, number in enumerate(stop_numbers(options)):
            await trio.sleep_until(self.origin + options.stops_at_s + index / options.stop_rate)
            if options.smpp:
                assert self.simulator.smsc is not None
                self.simulator.smsc.send_mo(ACCOUNT[0], number, line, "STOP")
            else:
                await self._post_stop(MoRequest(number, line, "STOP", None))

    async def _post_stop(self, item: MoRequest) -> None:
        """Over HTTP, once a message told the gateway where the daemon listens."""
        while True:
            if self.simulator.http_replies.inject([item], trio.current_time()) is not None:
                return
            await trio.sleep(0.1)

    async def _wait_final(self, settings: Settings, enqueued: int
                          ) -> tuple[dict[str, int], float]:
        """Until every message is in a final state and every answer (the STOPs'
        confirmations) was sent or failed: the counts, with `answers_left`."""
        counts: dict[str, int] = {}
        with trio.move_on_after(self.options.timeout_s):
            while sum(counts.get(state, 0) for state in FINAL_STATES) < enqueued \
                    or counts.get("answers_left", 1):
                await trio.sleep(POLL_S)
                counts = await self._counts(settings) or counts
        return counts, trio.current_time() - self.origin

    async def _counts(self, settings: Settings) -> dict[str, int] | None:
        """The campaign's counts and the answers not yet settled, or None while Redis is
        away."""
        keys = Keys(settings.redis.key_prefix)
        try:
            with trio.move_on_after(POLL_S):
                async with open_redis(settings) as redis:
                    counts = dict((await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN])
                    return {**counts, "answers_left": await redis.xlen(keys.answers)}
        except REDIS_AWAY:
            pass
        return None

    def _report(self, enqueued: int, counts: dict[str, int], elapsed: float, drill: Drill,
                daemon: DaemonSlot, plan: list[Any]) -> dict[str, Any]:
        options, stats = self.options, self.simulator.stats()
        kills = sum(1 for fault in drill.applied if fault.kind == DAEMON_KILL)
        redis_kills = sum(1 for fault in drill.applied if fault.kind == REDIS_KILL)
        # A daemon kill resends what was in flight; a Redis kill, what its last second of
        # AOF held; both at most a second of the line's rate plus the senders' batches.
        in_flight = options.batch_size * options.concurrency
        bound = kills * in_flight + redis_kills * (int(options.rate) + in_flight)
        windows = [(fault.at_s, fault.end_s) for fault in drill.applied]
        acks = [(sent - self.origin, delay) for sent, delay in self.simulator.replies.stop_acks]
        checked = ledger(enqueued, counts, stats, bound, options.smpp)
        checked["duplicates_per_kill"] = round(checked["duplicates"]
                                               / max(1, kills + redis_kills), 1)
        checked["in_flight_window"] = in_flight
        return {
            "gateway": options.gateway, "messages": options.messages,
            "line_rate_per_s": options.rate, "campaign_s": round(elapsed, 1),
            "fault_free_span_s": round(options.span_s, 1),
            "ledger": checked,
            "stops": {"sent": options.stops,
                      "acknowledged": stats["stops_acknowledged"],
                      "suppressed_messages": counts.get("suppressed", 0),
                      "acknowledged_after_delivery": stop_delays(acks, windows)},
            "faults": [{"kind": fault.kind, "at_s": fault.at_s, "end_s": fault.end_s,
                        **fault.detail, **recovery(self.samples, fault.at_s, fault.end_s)}
                       for fault in drill.applied],
            "planned_faults": len(plan), "applied_faults": len(drill.applied),
            "daemon": {"starts": daemon.starts, "kills": daemon.kills,
                       "failed_starts": daemon.failed_starts,
                       "unexpected_exits": daemon.unexpected_exits,
                       **log_findings(self.workdir / "daemon-1.log")},
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "accepted_per_second": per_second(self.samples),
        }


def per_second(samples: list[tuple[float, int]]) -> list[int]:
    """Messages the gateway accepted in each second of the run (for the plot)."""
    counts, second, last = [], 1.0, 0
    for at, accepted in samples:
        if at >= second:
            counts.append(accepted - last)
            last, second = accepted, second + 1.0
    return counts


def log_findings(path: Path) -> dict[str, int]:
    """What the daemon's log says about the run: Redis outages told and tracebacks."""
    text = path.read_text(errors="replace") if path.exists() else ""
    return {"log_redis_failing": text.count("redis failing"),
            "log_redis_recovered": text.count("redis recovered"),
            "log_tracebacks": text.count("Traceback")}


async def run_chaos(options: ChaosOptions, workdir: Path) -> dict[str, Any]:
    return await ChaosRun(options, workdir).run()
