"""Benchmark: CPU per assignment of the in-process line scheduler, 10,000 lines.

    .venv/bin/python benchmarks/line_scheduler.py [--lines 10000] [--repeat 5]

Three cases, each run `--repeat` times, best run shown (the machine is shared: the best
run is the one least disturbed):
- paced: lines at 0.2 msg/s (2,000 msg/s of capacity), time stepped by 5 ms for 60
  simulated seconds, 3 campaigns weighted 3:2:1, every recipient distinct (the affinity
  map inserts and evicts), each assignment released at once (concurrency 1);
- saturated: lines fast enough never to be the limit, `take(500)` batches: the pure cost
  of picking a campaign, a line and updating both.
- service: the paced case through `LineService` on Trio's MockClock (autojump, so idle
  time costs nothing): 4 senders pulling batches of up to 500, a feeder pushing 2,500
  msg/s in batches of 125, each batch released 20 ms later; CPU per assignment
  including the Trio wake-ups and sleeps (reported under take_us).
Prints µs per assignment for `take` and for `release`, and the assignments per second of
one core that it implies. Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio
import trio.testing

from dispatch.daemon.outbound.line_service import LineService
from dispatch.lines.config import parse_lines_config
from dispatch.lines.scheduler import LineScheduler

CAMPAIGNS = {"c1": 3.0, "c2": 2.0, "c3": 1.0}


@dataclass
class Run:
    assignments: int = 0
    take_s: float = 0.0
    release_s: float = 0.0

    def report(self, name: str) -> dict[str, float | str]:
        take_us = self.take_s / self.assignments * 1e6
        release_us = self.release_s / self.assignments * 1e6
        return {"case": name, "assignments": self.assignments,
                "take_us": round(take_us, 2), "release_us": round(release_us, 2),
                "per_core_per_s": round(1e6 / (take_us + release_us))}


def scheduler(lines: int, rate: float, per_campaign: int) -> LineScheduler[str]:
    raw = {"pools": {"bench": {"gateway": "g", "rate": rate, "lines": [
        {"range": f"+33700000000-+337{lines - 1:08d}"}]}}}
    config = parse_lines_config(raw)
    sched: LineScheduler[str] = LineScheduler(config.pools_of("g"), recipient_of=str)
    for n, (name, weight) in enumerate(CAMPAIGNS.items()):
        sched.set_campaign(name, "bench", weight=weight)
        sched.push(name, [f"+336{n}{i:07d}" for i in range(per_campaign)])
    return sched


def drive(sched: LineScheduler[str], step_s: float, until_s: float, batch: int) -> Run:
    run = Run()
    now = 0.0
    clock = time.perf_counter
    while now < until_s and sched.queued:
        started = clock()
        out = sched.take(now, batch)
        taken = clock()
        for _, line in out:
            sched.release(line)
        run.release_s += clock() - taken
        run.take_s += taken - started
        run.assignments += len(out)
        now += step_s
    return run


def through_service(lines: int) -> Run:
    sched = scheduler(lines, 0.2, 0)
    service = LineService(sched)
    run = Run()

    async def feed() -> None:
        for i in range(10_000):
            sched.push("c1", [f"+3361{i:04d}{j:03d}" for j in range(125)])
            await trio.sleep(0.05)

    async def sender() -> None:
        while True:
            batch = await service.next_assignments(500)
            run.assignments += len(batch)
            await trio.sleep(0.02)
            for _, line in batch:
                service.release(line)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(feed)
            for _ in range(4):
                nursery.start_soon(sender)
            await trio.sleep(60.0)
            nursery.cancel_scope.cancel()

    started = time.process_time()
    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    run.take_s = time.process_time() - started
    return run


def best(make: Callable[[], Run], repeat: int) -> Run:
    return min((make() for _ in range(repeat)),
               key=lambda r: (r.take_s + r.release_s) / max(r.assignments, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    paced = best(lambda: drive(scheduler(args.lines, 0.2, 50_000), 0.005, 60.0, 100_000),
                 args.repeat)
    saturated = best(lambda: drive(scheduler(args.lines, 1000.0, 100_000), 0.001, 1e9, 500),
                     args.repeat)
    service = best(lambda: through_service(args.lines), args.repeat)
    for result in (paced.report("paced 0.2/s"), saturated.report("saturated"),
                   service.report("service, paced 0.2/s")):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
