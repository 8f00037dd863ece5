"""Benchmark: the caller's CPU per Lua script call, through coredis and through the
daemon's script link (dispatch.store.script_link).

    .venv/bin/python benchmarks/script_calls.py [--calls 4000] [--repeat 3]

Starts its own redis-server (a temporary directory, a unix socket), registers a small
script (`return #ARGV`, one 100-byte argument) with each client and calls it `--calls`
times, one caller at a time and then 8 callers at once (what the senders, the recorder
and the receipt recording do in the daemon). Each case is run `--repeat` times, best run
shown (the machine is shared). CPU is this process's (user + system), so Redis's own
time is not in it. Prints one JSON object. Not run by the tests.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

import trio

from dispatch.settings import RedisSettings, Settings
from dispatch.store.links import open_script_link
from dispatch.store.redis import open_redis
from dispatch.store.scripts import RunScript
from dispatch.store.server import ensure_embedded, stop_embedded

SCRIPT = "return #ARGV"
ARGUMENT = b"x" * 100
CALLERS = (1, 8)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def cpu_us_per_call(script: RunScript, calls: int, callers: int) -> float:
    async def caller(count: int) -> None:
        for _ in range(count):
            await script(keys=["k"], args=[ARGUMENT])

    started = cpu_s()
    async with trio.open_nursery() as nursery:
        for _ in range(callers):
            nursery.start_soon(caller, calls // callers)
    return (cpu_s() - started) / (calls // callers * callers) * 1e6


async def best_of(script: RunScript, calls: int, callers: int, repeat: int) -> float:
    return round(min([await cpu_us_per_call(script, calls, callers)
                      for _ in range(repeat)]), 1)


async def measure(args: argparse.Namespace, url: str) -> dict[str, float]:
    results: dict[str, float] = {}
    settings = Settings(redis=RedisSettings(url=url))
    async with open_redis(settings) as redis, open_script_link(url) as link:
        assert link is not None
        for name, host in (("coredis", redis), ("link", link)):
            script = host.register_script(SCRIPT)
            await script(keys=["k"], args=[ARGUMENT])  # loaded, connection open
            for callers in CALLERS:
                results[f"{name}_{callers}_callers_us"] = await best_of(
                    script, args.calls, callers, args.repeat)
    return results


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dispatch-script-calls-") as folder:
        state = Path(folder)
        url = await ensure_embedded(state)
        try:
            results = await measure(args, url)
        finally:
            await stop_embedded(state)
    print(json.dumps({"calls": args.calls, "repeat": args.repeat, **results}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=3)
    trio.run(main, parser.parse_args())
