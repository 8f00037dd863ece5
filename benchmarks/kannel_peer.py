"""Benchmark: Kannel and dispatch side by side, each sending over SMPP to the same SMSC
with every delivery receipt (issue 19, item 2: the peer in the same run).

    .venv/bin/python benchmarks/kannel_peer.py [--messages 100000] [--rounds 2]
        [--window 1000] [--json PATH]

Needs Debian's `kannel` (`--install` runs `apt-get install -y kannel` first; never in the
tests). Each round runs, one after the other, on the lean SMSC (`dispatch simulator
--lean`: every message delivered, its receipt 100 ms after acceptance):

- **Kannel 1.4.5**: bearerbox with one SMPP transceiver (window `--window`, that is
  `max-pending-submits`), delivery reports in memory, smsbox; fed by this script through
  sendsms, 100 recipients per request (Kannel's own multi-recipient form: one request per
  100 messages, so feeding costs Kannel and this script little), 8 requests at once; each
  message's delivery report comes back to a small HTTP receiver here (dlr-mask 3).
  Measured from the first request to the last report: messages/s, CPU per message of
  bearerbox + smsbox.
- **dispatch**: `dispatch bench --gateway smpp --messages N --window W` (one daemon,
  receipts recorded in Redis): its end-to-end messages/s and CPU per message of the
  daemon + Redis.

Both: lost (not accepted by the SMSC, or no report / not final) and duplicates (the
SMSC's ledger). Prints each run and the dispatch/Kannel ratios of messages/s and of CPU
per message (median over the rounds) as JSON. The machine is shared: load averages are
printed with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import trio

from dispatch.bench.kannel import SMSC_ID, USER, KannelPorts, Smsc, start_kannel
from dispatch.bench.measure import read_proc
from dispatch.httpserver import Request, Response, serve_http
from dispatch.processes import Child, dispatch_command, start_child

ACCOUNT = ("peer", "secret")
RECIPIENTS_PER_REQUEST = 100
REQUESTS_AT_ONCE = 8
FIRST_NUMBER = 33_600_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_s(pids: list[int]) -> float:
    stats = [read_proc(pid) for pid in pids]
    return float(sum(s.cpu_s for s in stats if s is not None))


async def start_smsc(workdir: Path, window: int, messages: int) -> Child:
    return await start_child("simulator", dispatch_command(
        "simulator", "--lean", "--http-port", "0", "--smpp-port", "0", "--profile",
        "perfect", "--seed", "1", "--receipt-delay-ms", "100", "--account",
        ":".join(ACCOUNT), "--smpp-window", str(window), "--receipts-pending-limit",
        str(max(200_000, messages))), workdir / "simulator.log")


async def smsc_stats(smsc: Child) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{smsc.ready['http_port']}/stats")
    stats: dict[str, Any] = reply.json()
    return stats


class Reports:
    """Kannel's delivery reports (GET /dlr?type=%d), counted as they come."""

    def __init__(self, expected: int) -> None:
        self.final = 0
        self.by_type: dict[str, int] = {}
        self.expected = expected
        self.all_in = trio.Event()

    async def handle(self, request: Request) -> Response:
        kind = parse_qs(request.query).get("type", ["?"])[0]
        self.by_type[kind] = self.by_type.get(kind, 0) + 1
        if kind in ("1", "2", "16"):  # delivered, failed, refused by the SMSC
            self.final += 1
            if self.final >= self.expected:
                self.all_in.set()
        return Response(200, b"")


async def feed(sendsms_url: str, dlr_url: str, messages: int) -> None:
    """Every message, RECIPIENTS_PER_REQUEST recipients a request, REQUESTS_AT_ONCE at
    once; a refusal (a full queue) is sent again."""
    starts = list(range(0, messages, RECIPIENTS_PER_REQUEST))
    send, receive = trio.open_memory_channel[int](len(starts))
    for start in starts:
        send.send_nowait(start)
    send.close()

    async def sender(client: httpx.AsyncClient) -> None:
        async for start in receive:
            count = min(RECIPIENTS_PER_REQUEST, messages - start)
            numbers = " ".join(f"+{FIRST_NUMBER + start + i}" for i in range(count))
            headers = {"X-Kannel-Username": USER[0], "X-Kannel-Password": USER[1],
                       "X-Kannel-From": "PEER", "X-Kannel-To": numbers,
                       "X-Kannel-SMSC": SMSC_ID, "X-Kannel-DLR-Mask": "3",
                       "X-Kannel-DLR-URL": dlr_url, "Content-Type": "text/plain"}
            while True:
                reply = await client.post(sendsms_url, headers=headers,
                                          content=b"Bonjour, message de test. STOP 36111")
                if reply.status_code == 202:
                    break
                await trio.sleep(0.05)

    async with httpx.AsyncClient(timeout=60.0) as client, trio.open_nursery() as nursery:
        for _ in range(REQUESTS_AT_ONCE):
            nursery.start_soon(sender, client)


async def kannel_run(messages: int, window: int, workdir: Path) -> dict[str, Any]:
    tools = (shutil.which("bearerbox"), shutil.which("smsbox"))
    if tools[0] is None or tools[1] is None:
        raise SystemExit("Kannel is not installed: apt-get install kannel (or --install)")
    children: list[Child] = []
    reports = Reports(messages)
    try:
        smsc = await start_smsc(workdir, window, messages)
        children.append(smsc)
        kannel = await start_kannel(
            workdir, KannelPorts(free_port(), free_port(), free_port()),
            Smsc(smsc.ready["smpp_port"], *ACCOUNT), "http://127.0.0.1:9/unused",
            (tools[0], tools[1]), children, log_level=2, window=window)
        load = os.getloadavg()[0]
        async with trio.open_nursery() as nursery:
            port = await nursery.start(serve_http, reports.handle, "127.0.0.1", 0)
            before, started = cpu_s(kannel.pids()), time.monotonic()
            await feed(kannel.sendsms_url, f"http://127.0.0.1:{port}/dlr?type=%d", messages)
            with trio.move_on_after(600):
                await reports.all_in.wait()
            elapsed = time.monotonic() - started
            used = cpu_s(kannel.pids()) - before
            nursery.cancel_scope.cancel()
        stats = await smsc_stats(smsc)
        await kannel.stop()
    finally:
        for child in reversed(children):
            child.kill()
    return {"who": "kannel", "messages": messages, "window": window,
            "per_second": round(reports.final / elapsed, 1), "elapsed_s": round(elapsed, 1),
            "cpu_us_per_message": round(used / messages * 1e6, 1),
            "reports": reports.by_type, "lost": messages - reports.final,
            "accepted_by_smsc": stats["accepted"], "duplicates": stats["duplicates"],
            "load_average_before": round(load, 2)}


async def dispatch_run(messages: int, window: int, workdir: Path) -> dict[str, Any]:
    output = workdir / "bench.json"
    load = os.getloadavg()[0]
    await trio.run_process(dispatch_command(
        "bench", "--gateway", "smpp", "--messages", str(messages), "--window", str(window),
        "--output", str(output)), stdout=subprocess.DEVNULL)
    report = json.loads(output.read_text())
    cpu = report["cpu_us_per_message"]
    return {"who": "dispatch", "messages": messages, "window": window,
            "per_second": report["per_second"], "elapsed_s": report["elapsed_s"],
            "cpu_us_per_message": round((cpu["daemons"] or 0.0) + (cpu["redis"] or 0.0), 1),
            "cpu_daemons_redis_simulator": [cpu["daemons"], cpu["redis"], cpu["simulator"]],
            "lost": report["lost"], "duplicates": report["duplicates"],
            "load_average_before": round(load, 2)}


def ratios(runs: list[dict[str, Any]]) -> dict[str, float]:
    def median(who: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs if r["who"] == who))

    return {"messages_per_s": round(median("dispatch", "per_second")
                                    / median("kannel", "per_second"), 2),
            "cpu_per_message": round(median("kannel", "cpu_us_per_message")
                                     / median("dispatch", "cpu_us_per_message"), 2)}


async def main(args: argparse.Namespace) -> None:
    runs: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        for who in ("kannel", "dispatch"):
            with tempfile.TemporaryDirectory(prefix=f"peer-{who}-") as workdir:
                run = (kannel_run if who == "kannel" else dispatch_run)
                result = await run(args.messages, args.window, Path(workdir))
            result["round"] = round_ + 1
            print(json.dumps(result), flush=True)
            runs.append(result)
    summary = {"runs": runs, "dispatch_over_kannel": ratios(runs)}
    print(json.dumps(summary["dispatch_over_kannel"]))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--install", action="store_true",
                        help="apt-get install kannel first (root; never in the tests)")
    arguments = parser.parse_args()
    if arguments.install:
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "kannel"],
                       check=True)
    sys.exit(trio.run(main, arguments))
