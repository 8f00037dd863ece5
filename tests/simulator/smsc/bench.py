"""Throughput of the SMSC: `python -m tests.simulator.smsc.bench --binds 4 --count 50000`.

Starts `dispatch simulator --smpp-port 0 --profile perfect` as a process, drives it from
this process with clients on the project's Session (one Trio task per bind, a window of
outstanding submit_sm each, answering receipts if asked), and prints submit_sm/s and the
simulator's CPU share (from /proc). Not collected by pytest: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import trio

from dispatch.smpp import (
    NEED_DATA,
    BindTransceiver,
    DeliverSm,
    DeliverSmResp,
    Role,
    Session,
    SubmitSm,
    SubmitSmResp,
)


class Bind:
    def __init__(self, stream: trio.SocketStream, number: int) -> None:
        self.stream = stream
        self.session = Session(Role.ESME)
        self.number = number
        self.answered = 0
        self.accepted = 0
        self.receipts = 0

    async def run(self, count: int, window: int, receipts: bool) -> None:
        await self.stream.send_all(self.session.send(BindTransceiver(system_id="bench")))
        await self._read()
        sent = outstanding = 0
        while self.answered < count or (receipts and self.receipts < self.accepted):
            batch = []
            while sent < count and outstanding < window:
                batch.append(self.session.send(self._submit(sent, receipts)))
                sent += 1
                outstanding += 1
            if batch:
                await self.stream.send_all(b"".join(batch))
            before = self.answered
            await self._read()
            outstanding -= self.answered - before

    def _submit(self, index: int, receipts: bool) -> SubmitSm:
        return SubmitSm(source_addr=f"L{self.number}", destination_addr=f"336{index:08d}",
                        short_message=b"Bench message, nothing to see", tlvs={
                            0x1501: f"b{self.number}-{index}".encode() + b"\0"},
                        registered_delivery=1 if receipts else 0)

    async def _read(self) -> None:
        self.session.receive_data(await self.stream.receive_some(256 * 1024))
        acks = []
        while (event := self.session.next_event()) is not NEED_DATA:
            if isinstance(event, SubmitSmResp):
                self.answered += 1
                self.accepted += event.command_status == 0
            elif isinstance(event, DeliverSm):
                self.receipts += 1
                acks.append(self.session.send(DeliverSmResp(event.sequence_number)))
        if acks:
            await self.stream.send_all(b"".join(acks))


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench(args: argparse.Namespace) -> None:
    command = [sys.executable, "-m", "dispatch", "simulator", "--http-port", "0",
               "--smpp-port", "0", "--profile", "perfect", "--receipt-delay-ms", "0",
               "--smpp-window", str(args.window)]
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = json.loads(await process.stdout.receive_some(4096))["smpp_port"]
        binds = [Bind(await trio.open_tcp_stream("127.0.0.1", port), n)
                 for n in range(args.binds)]
        cpu_before, wall_before = cpu_seconds(process.pid), time.perf_counter()
        client_before = time.process_time()
        async with trio.open_nursery() as nursery:
            for bind in binds:
                nursery.start_soon(bind.run, args.count, args.window, args.receipts)
        wall = time.perf_counter() - wall_before
        cpu = cpu_seconds(process.pid) - cpu_before
        client = time.process_time() - client_before
        total = sum(bind.answered for bind in binds)
        print(f"{args.binds} bind(s), window {args.window}, receipts {args.receipts}: "
              f"{total} submit_sm in {wall:.2f} s = {total / wall:,.0f}/s; "
              f"simulator CPU {cpu:.2f} s = {100 * cpu / wall:.0f} % of one core, "
              f"{1e6 * cpu / total:.0f} us per submit_sm; client CPU {100 * client / wall:.0f} %")
    finally:
        process.kill()
        await process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binds", type=int, default=1)
    parser.add_argument("--count", type=int, default=50_000, help="submit_sm per bind")
    parser.add_argument("--window", type=int, default=100)
    parser.add_argument("--receipts", action="store_true", help="ask for receipts too")
    trio.run(bench, parser.parse_args())


if __name__ == "__main__":
    main()
