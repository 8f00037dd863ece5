"""The voice side's cost: `python -m tests.simulator.voice.bench --lines 2000 --call-ms 6000`.

Starts `dispatch simulator --http-port 0` as a process and plays dispatch from this one:
`--lines` lines, each placing its next call as soon as the final callback of its previous
one arrives (as the daemon does: one call at a time per line), through `--clients`
concurrent requests, and a callback server (dispatch.httpserver) that records the final
statuses and acknowledges the 9s. Calls ring `--ring-ms` and last `--call-ms`, so the rate
is about lines / (ring + call) seconds. After a `--warmup-s` ramp it measures for
`--seconds` and prints the rates and the simulator's CPU per call (from /proc): request,
plan, moments, callbacks posted, everything the simulator does for a call.
Not collected by pytest: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs

import httpx
import trio

from dispatch.httpserver import Request, Response, serve_http

ACCOUNT = "ACbench"
FINAL = {b"completed", b"busy", b"no-answer", b"failed", b"canceled"}
SCRIPT = ('<Response><Gather numDigits="1" action="{base}/voice/gather" method="POST" '
          'timeout="5"><Say language="fr-FR">Bonjour, ici la mairie. Tapez 9 pour ne plus '
          'être appelé.</Say><Play>https://audio.example/campagne-2024.mp3</Play></Gather>'
          '</Response>')


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Daemon:
    """Places calls on free lines and frees a line at its call's final callback."""

    def __init__(self, lines: int, events: list[str]) -> None:
        self.free_send, self.free_receive = trio.open_memory_channel[str](lines)
        for line in range(lines):
            self.free_send.send_nowait(f"+3310{line:07d}")
        self.events = events
        self.placed = self.refused = self.callbacks = self.finals = 0
        self.base = ""  # the callback server's URL, once listening

    async def inbound(self, request: Request) -> Response:
        self.callbacks += 1
        if request.path == "/voice/gather":
            return Response(200, b"<Response><Hangup/></Response>", "text/xml")
        fields = parse_qs(request.body)
        if fields[b"CallStatus"][0] in FINAL:
            self.finals += 1
            self.free_send.send_nowait(fields[b"From"][0].decode())
        return Response(200)

    async def place(self, client: httpx.AsyncClient, number: int) -> None:
        async for line in self.free_receive:
            number += 1_000_000
            data = {"To": f"+336{number % 100_000_000:08d}", "From": line,
                    "Twiml": SCRIPT.format(base=self.base), "MachineDetection": "Enable",
                    "StatusCallback": f"{self.base}/voice/status",
                    "StatusCallbackEvent": self.events, "Timeout": "60"}
            reply = await client.post(f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json", data=data,
                                      headers={"Idempotency-Key": f"m{number}/1"})
            if reply.status_code == 201:
                self.placed += 1
            else:
                self.refused += 1
                self.free_send.send_nowait(line)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "dispatch", "simulator", "--http-port", "0", "--seed", "1",
               "--call-ring-ms", str(args.ring_ms), "--call-duration-ms", str(args.call_ms),
               "--call-duration-jitter-ms", str(args.call_ms / 3),
               "--dtmf-rate", str(args.dtmf_rate)]
    events = ["initiated", "ringing", "answered", "completed"] if args.all_events \
        else ["completed"]
    daemon = Daemon(args.lines, events)
    process = await trio.lowlevel.open_process(command, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        port = json.loads(await process.stdout.receive_some(4096))["http_port"]
        limits = httpx.Limits(max_connections=args.clients,
                              max_keepalive_connections=args.clients)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", auth=(ACCOUNT, "x"),
                                     limits=limits) as client, trio.open_nursery() as nursery:
            inbound = await nursery.start(serve_http, daemon.inbound, "127.0.0.1", 0)
            daemon.base = f"http://127.0.0.1:{inbound}"
            for number in range(args.clients):
                nursery.start_soon(daemon.place, client, number)
            await trio.sleep(args.warmup_s)
            result = await measure(daemon, process.pid, args.seconds)
            nursery.cancel_scope.cancel()
        return result
    finally:
        process.kill()
        await process.wait()


async def measure(daemon: Daemon, pid: int, seconds: float) -> dict[str, Any]:
    placed, callbacks, cpu = daemon.placed, daemon.callbacks, cpu_seconds(pid)
    wall, client_cpu = time.perf_counter(), time.process_time()
    await trio.sleep(seconds)
    wall = time.perf_counter() - wall
    placed, callbacks = daemon.placed - placed, daemon.callbacks - callbacks
    cpu = cpu_seconds(pid) - cpu
    return {"calls_per_s": round(placed / wall), "callbacks_per_s": round(callbacks / wall),
            "simulator_cpu_share": round(cpu / wall, 3),
            "simulator_cpu_us_per_call": round(1e6 * cpu / max(placed, 1)),
            "client_cpu_share": round((time.process_time() - client_cpu) / wall, 3),
            "refused": daemon.refused}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--ring-ms", type=float, default=0)
    parser.add_argument("--call-ms", type=float, default=6000)
    parser.add_argument("--dtmf-rate", type=float, default=0.05)
    parser.add_argument("--all-events", action="store_true",
                        help="ask initiated, ringing, answered too (4 callbacks a call)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent requests")
    parser.add_argument("--warmup-s", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=20)
    print(json.dumps(trio.run(bench, parser.parse_args())))


if __name__ == "__main__":
    main()
