"""Benchmark: how soon a STOP takes effect while an SMPP campaign runs at full load.

    .venv/bin/python benchmarks/stop_latency.py [--messages 100000] [--stops 500]
        [--stop-rate 100] [--start-at 0.15] [--json PATH]

A private Redis (the embedded one), the simulator in this process (SMPP, every message
delivered, receipts 100 ms after acceptance), one daemon (`dispatch run`, the bench's
settings: 2 binds, window 100, batches of 100, 8 senders) and one campaign of
`--messages` numbers enqueued before the daemon starts. Once `--start-at` of the campaign
was accepted by the gateway, the simulator sends `--stops` STOP (MO over SMPP, as
`POST /mo` does) at `--stop-rate` per second, each from a number still queued (spread over
the second half of the campaign), to the campaign's sender.

The simulator runs here so that its own times can be read: when each STOP's deliver_sm
went on the wire (its reply listener's `mo_transmitted`) and when each message of a
watched number was accepted. The opt-out audit stream gives when the daemon recorded each
STOP (its `at`). Reported (seconds, wall clock, one machine):
- recorded_after_delivery: gateway wrote the deliver_sm -> opt-out recorded (p50, p99, max);
- recorded_after_sent: STOP handed to the simulator -> recorded (includes the time the MO
  waited behind receipts in the simulator's own queue for the binds' windows);
- sent_after_recorded / sent_after_delivery / sent_after_stop: watched numbers whose
  campaign SMS the gateway accepted after their STOP was recorded / written on the wire /
  handed to the simulator (the opt-out's confirmation is not counted); never_sent: those
  whose campaign SMS was suppressed.
Not run by the tests. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from dispatch.bench.options import BenchOptions
from dispatch.bench.services import ACCOUNT, SENDER, start_daemon, write_daemon_config
from dispatch.bench.workload import CAMPAIGN, e164_number, enqueue_all
from dispatch.keys import Keys
from dispatch.processes import Child
from dispatch.settings import Settings, load_settings
from dispatch.simulator.config import SimulatorConfig
from dispatch.simulator.service import Simulator
from dispatch.store.redis import Redis, open_redis
from dispatch.store.server import ensure_embedded, stop_embedded
from dispatch.store.status import state_counts

FINAL = ("delivered", "failed", "expired", "suppressed", "cancelled", "rejected")


@dataclass
class Watch:
    """The simulator's times for the watched numbers (digits without "+")."""

    numbers: set[str] = field(default_factory=set)
    injected: dict[str, float] = field(default_factory=dict)  # STOP handed to the SMSC
    on_wire: dict[str, float] = field(default_factory=dict)  # its deliver_sm written
    accepted: dict[str, float] = field(default_factory=dict)  # campaign SMS accepted


def instrument(simulator: Simulator, watch: Watch) -> None:
    """Wrap the SMSC's reply listener to note the times (instrumentation only)."""
    assert simulator.smsc is not None
    replies: Any = simulator.smsc.core.deliveries.replies
    transmitted, accepted = replies.mo_transmitted, replies.accepted

    def mo_transmitted(ticket: Any, now: float) -> None:
        watch.on_wire.setdefault(ticket.source.removeprefix("+"), time.time())
        transmitted(ticket, now)

    confirmation = replies.book.confirmation_payloads

    def on_accepted(pdu: Any, acceptance: Any, *args: Any) -> None:
        number = pdu.destination_addr.removeprefix("+")
        # The opt-out's confirmation is allowed after it: only the campaign SMS counts.
        ours = confirmation.get(pdu.data_coding) != pdu.short_message
        if number in watch.numbers and acceptance.new and ours:
            watch.accepted.setdefault(number, time.time())
        accepted(pdu, acceptance, *args)

    replies.mo_transmitted, replies.accepted = mo_transmitted, on_accepted


def simulator_config() -> SimulatorConfig:
    return SimulatorConfig(http_port=0, smpp_port=0, accounts=dict([ACCOUNT]), seed=1,
                           outcomes={"delivered": 1.0}, receipt_delay_ms=100.0,
                           receipts_pending_limit=400_000, smpp_window=100)


def stop_numbers(messages: int, stops: int) -> list[str]:
    """Numbers from the second half of the campaign: still queued when their STOP goes."""
    first, span = messages // 2, messages - messages // 2
    return [e164_number(first + i * span // stops) for i in range(stops)]


async def send_stops(simulator: Simulator, numbers: list[str], rate: float,
                     watch: Watch) -> None:
    assert simulator.smsc is not None
    start = trio.current_time()
    for index, number in enumerate(numbers):
        await trio.sleep_until(start + index / rate)
        watch.injected[number.removeprefix("+")] = time.time()
        simulator.smsc.send_mo(ACCOUNT[0], number, SENDER, "STOP")


async def wait_accepted(simulator: Simulator, count: float) -> None:
    """Until the gateway accepted `count` messages (the campaign runs at full speed)."""
    while True:
        if simulator.ledger.accepted >= count:
            return
        await trio.sleep(0.02)


async def recorded_at(redis: Redis, keys: Keys) -> dict[str, float]:
    """number digits -> when its opt-out was recorded (the audit's first `at`)."""
    found: dict[str, float] = {}
    for entry in await redis.xrange(keys.optout_audit):
        fields = {_text(k): _text(v) for k, v in entry.field_values.items()}
        if fields.get("action") == "opt_out":
            found.setdefault(fields["number"].removeprefix("+"), float(fields["at"]))
    return found


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def wait_final(redis: Redis, keys: Keys, total: int, daemon: Child,
                     timeout_s: float) -> dict[str, int]:
    with trio.move_on_after(timeout_s):
        while True:
            counts = (await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN]
            if sum(counts.get(state, 0) for state in FINAL) >= total:
                return counts
            assert daemon.process.returncode is None, "the daemon exited"
            await trio.sleep(0.2)
    return (await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN]


def quantiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None, "count": 0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 3), "p99": round(p99, 3),
            "max": round(ordered[-1], 3), "count": len(ordered)}


def summary(watch: Watch, recorded: dict[str, float]) -> dict[str, Any]:
    stopped = [n for n in watch.injected if n in recorded]
    return {
        "stops": len(watch.injected), "recorded": len(stopped),
        "recorded_after_delivery_s": quantiles(
            [recorded[n] - watch.on_wire[n] for n in stopped if n in watch.on_wire]),
        "recorded_after_sent_s": quantiles([recorded[n] - watch.injected[n] for n in stopped]),
        "sent_after_recorded": sum(1 for n in stopped
                                   if watch.accepted.get(n, 0.0) > recorded[n]),
        "sent_after_stop": sum(1 for n, at in watch.injected.items()
                               if watch.accepted.get(n, 0.0) > at),
        "sent_after_delivery": sum(1 for n, at in watch.on_wire.items()
                                   if watch.accepted.get(n, 0.0) > at),
        "never_sent": len(watch.numbers) - len(watch.accepted),
    }


async def campaign_run(args: argparse.Namespace, workdir: Path, redis_url: str
                       ) -> dict[str, Any]:
    simulator, watch = Simulator(simulator_config()), Watch()
    numbers = stop_numbers(args.messages, args.stops)
    watch.numbers = {n.removeprefix("+") for n in numbers}
    async with trio.open_nursery() as nursery:
        http_port = await nursery.start(simulator.serve)
        instrument(simulator, watch)
        ports = {"http_port": http_port, "smpp_port": simulator.smpp_port or 0}
        options = BenchOptions(gateway="smpp", messages=args.messages, batch_size=100,
                               concurrency=8)
        settings = load_settings(write_daemon_config(workdir / "bench.toml", redis_url,
                                                     "bench", options, ports))
        async with open_redis(settings) as redis:
            result = await _measured(args, workdir, settings, redis, simulator, watch,
                                     numbers, options, ports)
        nursery.cancel_scope.cancel()
    return result


async def _measured(args: argparse.Namespace, workdir: Path, settings: Settings,
                    redis: Redis, simulator: Simulator, watch: Watch, numbers: list[str],
                    options: BenchOptions, ports: dict[str, int]) -> dict[str, Any]:
    keys = Keys(settings.redis.key_prefix)
    await enqueue_all(redis, settings, args.messages, workdir)
    daemon = await start_daemon(options, workdir, settings.redis.url, ports, 1)
    try:
        started = trio.current_time()
        await wait_accepted(simulator, args.start_at * args.messages)
        await send_stops(simulator, numbers, args.stop_rate, watch)
        counts = await wait_final(redis, keys, args.messages, daemon, args.timeout)
        elapsed = trio.current_time() - started
        recorded = await recorded_at(redis, keys)
    finally:
        with trio.CancelScope(shield=True):
            await daemon.stop()
    return {**summary(watch, recorded), "messages": args.messages, "counts": counts,
            "campaign_s": round(elapsed, 2),
            "msg_per_s": round(simulator.ledger.accepted / elapsed),
            "sent_after_stop_acked": simulator.replies.stats()["sent_after_stop"]}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="stop-bench-") as folder:
        workdir = Path(folder)
        state_dir = workdir / "state"
        redis_url = await ensure_embedded(state_dir)
        load_before = os.getloadavg()
        try:
            result = await campaign_run(args, workdir, redis_url)
        finally:
            with trio.CancelScope(shield=True):
                await stop_embedded(state_dir)
    result["load_average_before"] = [round(x, 2) for x in load_before]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--stops", type=int, default=500)
    parser.add_argument("--stop-rate", type=float, default=100.0, help="STOPs per second")
    parser.add_argument("--start-at", type=float, default=0.15,
                        help="share of the campaign accepted before the first STOP")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--json", type=Path, help="also write the result there")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse()
    report = trio.run(main, arguments)
    print(json.dumps(report, indent=2))
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(report, indent=2) + "\n")
