"""Benchmark: SmppGateway submit throughput against the Session-based test SMSC.

    /tmp/venv/bin/python -m tests.gateways.smpp.bench_throughput --count 100000

The test SMSC runs in its own process (as a real SMSC would: the client gets one core, the
SMSC the other); `--same-process` runs both in this one. `concurrency` tasks submit batches
of `batch` messages, as the daemon's senders do; the rate is accepted messages per second
of wall time, and the client's CPU per message comes from getrusage.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from typing import Any

import trio

from dispatch.gateways.smpp.gateway import SmppGateway
from dispatch.vocabulary import Accepted, Outbound

from .helpers import FakeInbound, settings
from .smsc import TestSmsc


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure(port: int, count: int, binds: int, window: int, batch: int,
                  concurrency: int) -> dict[str, Any]:
    config = settings(port, binds=binds, window=window, batch_size=batch,
                      concurrency=concurrency, timeout_s=30.0)
    gateway = SmppGateway("bench", config)
    messages = [Outbound(f"ref-{i}", f"+336{i:08d}", "DISPATCH", "Bonjour, votre bureau de "
                         "vote est ouvert dimanche de 8h à 20h. STOP au 36111")
                for i in range(count)]
    accepted = 0

    async def sender(offset: int) -> None:
        nonlocal accepted
        for start in range(offset * batch, count, batch * concurrency):
            results = await gateway.submit(messages[start:start + batch])
            accepted += sum(isinstance(r, Accepted) for r in results)

    async with trio.open_nursery() as nursery:
        await nursery.start(gateway.run, FakeInbound())
        while gateway.stats.binds_up < binds:
            await trio.sleep(0.01)
        cpu, wall = cpu_s(), time.perf_counter()
        async with trio.open_nursery() as senders:
            for offset in range(concurrency):
                senders.start_soon(sender, offset)
        wall, cpu = time.perf_counter() - wall, cpu_s() - cpu
        await gateway.aclose()
        nursery.cancel_scope.cancel()
    return {"binds": binds, "window": window, "batch": batch, "concurrency": concurrency,
            "messages": count, "accepted": accepted, "seconds": round(wall, 3),
            "messages_per_s": round(accepted / wall), "client_cpu_us_per_message":
            round(cpu / count * 1e6, 1)}


async def in_process(args: argparse.Namespace, binds: int) -> dict[str, Any]:
    smsc = TestSmsc(message_id=lambda pdu, status: str(pdu.sequence_number))
    async with trio.open_nursery() as nursery:
        port = await nursery.start(smsc.serve)
        result = await measure(port, args.count, binds, args.window, args.batch,
                               args.concurrency)
        nursery.cancel_scope.cancel()
    return result


def separate_process(args: argparse.Namespace, binds: int) -> dict[str, Any]:
    process = subprocess.Popen([sys.executable, "-m", "tests.gateways.smpp.smsc"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        result = trio.run(measure, port, args.count, binds, args.window, args.batch,
                          args.concurrency)
    finally:
        assert process.stdin is not None
        process.stdin.close()
        process.wait(timeout=10)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    smsc_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["smsc_cpu_us_per_message_whole_run"] = round(smsc_cpu / args.count * 1e6, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--binds", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--same-process", action="store_true")
    args = parser.parse_args()
    for binds in args.binds:
        if args.same_process:
            result = trio.run(in_process, args, binds)
        else:
            result = separate_process(args, binds)
        result["smsc"] = "same process" if args.same_process else "separate process"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
