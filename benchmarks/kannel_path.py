"""Benchmark: a campaign through a real Kannel, dispatch → smsbox → bearerbox → the
simulator's SMSC, every receipt back through Kannel's dlr-url; or the same campaign
straight to the simulator (`--gateway smpp` / `http`), to see what Kannel adds.

    .venv/bin/python benchmarks/kannel_path.py [--messages 100000] [--gateway kannel]
        [--concurrency 64] [--batch-size 100] [--window 100] [--json PATH]

A private Redis (the embedded one), the simulator (every message delivered, its receipt
100 ms after acceptance), Kannel (Debian's `kannel`; one SMPP transceiver, window
`--window`, delivery reports in memory, boxes logging warnings only, access logs on), one
daemon (`dispatch run`; kannel gateway: `--concurrency` sendsms requests at once) and one
campaign of `--messages` one-part GSM-7 messages enqueued before the daemon starts.
Measured from the daemon's start to the last receipt recorded: messages/s with every
receipt recorded; CPU per message (user + system, /proc) of the daemon, of bearerbox +
smsbox and of the simulator; lost (not final) and duplicates (the simulator's ledger).
Not run by the tests. The machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from dispatch.bench.kannel import SMSC_ID, USER, KannelPorts, Smsc, mo_url, start_kannel
from dispatch.bench.measure import read_proc
from dispatch.bench.workload import CAMPAIGN, enqueue_all
from dispatch.gc_tuning import tune_for_batches
from dispatch.keys import Keys
from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import load_settings
from dispatch.store.redis import Redis, open_redis
from dispatch.store.server import ensure_embedded, stop_embedded
from dispatch.store.status import state_counts

HERE = Path(__file__).parent
ACCOUNT = ("bench", "secret")
TOKEN = "bench-kannel-token"
CALLBACK_SECRET = "bench-callback-secret"
FINAL = ("delivered", "failed", "expired", "suppressed", "cancelled")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def gateway_section(args: argparse.Namespace, simulator: Child, sendsms_url: str) -> str:
    common = f"batch_size = {args.batch_size}\nconcurrency = {args.concurrency}\n"
    if args.gateway == "kannel":
        return (f'type = "kannel"\nurl = "{sendsms_url}"\nusername = "{USER[0]}"\n'
                f'password = "{USER[1]}"\ninbound_secret = "{TOKEN}"\n'
                f'smsc_id = "{SMSC_ID}"\n' + common)
    if args.gateway == "smpp":
        return (f'type = "smpp"\nport = {simulator.ready["smpp_port"]}\n'
                f'system_id = "{ACCOUNT[0]}"\npassword = "{ACCOUNT[1]}"\nbinds = 1\n'
                f'window = {args.window}\n' + common)
    return (f'type = "http"\nurl = "http://127.0.0.1:{simulator.ready["http_port"]}"\n'
            f'inbound_secret = "{CALLBACK_SECRET}"\n' + common)


def daemon_config(path: Path, redis_url: str, inbound_port: int, section: str) -> Path:
    path.write_text(f'[redis]\nurl = "{redis_url}"\n\n[daemon]\nconsumer = "bench"\n'
                    f'inbound_port = {inbound_port}\nmetrics_port = 0\n\n'
                    f'[gateways.default]\nsender = "BENCH"\n{section}')
    return path


async def start_simulator(args: argparse.Namespace, workdir: Path) -> Child:
    return await start_child("simulator", dispatch_command(
        "simulator", "--http-port", "0", "--profile", "perfect", "--seed", "1",
        "--receipt-delay-ms", "100", "--callback-secret", CALLBACK_SECRET,
        "--smpp-port", "0", "--account", ":".join(ACCOUNT), "--smpp-window",
        str(max(args.window, 100)), "--receipts-pending-limit",
        str(max(200_000, args.messages))), workdir / "simulator.log")


def daemon_command(args: argparse.Namespace, config: Path) -> list[str]:
    """`dispatch run`, under cProfile (writing `--profile`) when asked."""
    if args.profile is None:
        return dispatch_command("run", "--config", str(config))
    return [sys.executable, "-m", "cProfile", "-o", str(args.profile), "-m", "dispatch",
            "run", "--config", str(config)]


def cpu_s(pids: list[int]) -> float:
    stats = [read_proc(pid) for pid in pids]
    return float(sum(s.cpu_s for s in stats if s is not None))


async def wait_final(redis: Redis, keys: Keys, total: int, watched: list[Child]) -> None:
    while True:
        counts = (await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN]
        if sum(counts[state] for state in FINAL) >= total:
            return
        for child in watched:
            if child.process.returncode is not None:
                raise SystemExit(f"{child.name} exited with {child.process.returncode}")
        await trio.sleep(0.2)


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    redis_url = await ensure_embedded(workdir / "state")
    children: list[Child] = []
    try:
        simulator = await start_simulator(args, workdir)
        children.append(simulator)
        inbound_port = free_port()
        relay: list[int] = []
        sendsms_url = ""
        if args.gateway == "kannel":
            tools = (shutil.which("bearerbox"), shutil.which("smsbox"))
            if tools[0] is None or tools[1] is None:
                raise SystemExit("Kannel is not installed (apt-get install kannel)")
            kannel = await start_kannel(
                workdir, KannelPorts(free_port(), free_port(), free_port()),
                Smsc(simulator.ready["smpp_port"], *ACCOUNT),
                mo_url(inbound_port, "default", TOKEN), (tools[0], tools[1]), children,
                log_level=2, window=args.window)
            relay, sendsms_url = kannel.pids(), kannel.sendsms_url
        config = daemon_config(workdir / "dispatch.toml", redis_url, inbound_port,
                               gateway_section(args, simulator, sendsms_url))
        settings = load_settings(config, {})
        keys = Keys(settings.redis.key_prefix)
        async with open_redis(settings) as redis:
            await enqueue_all(redis, settings, args.messages, workdir)
            before = {"simulator": cpu_s([simulator.process.pid]), "kannel": cpu_s(relay)}
            started = time.monotonic()
            daemon = await start_child("daemon", daemon_command(args, config),
                                       workdir / "daemon.log")
            children.append(daemon)
            await wait_final(redis, keys, args.messages, children)
            elapsed = time.monotonic() - started
            counts = (await state_counts(redis, keys, [CAMPAIGN]))[CAMPAIGN]
        after = {"daemon": cpu_s([daemon.process.pid]),
                 "simulator": cpu_s([simulator.process.pid]), "kannel": cpu_s(relay)}
        stats = await simulator_stats(simulator)
        await daemon.stop()
    finally:
        for child in reversed(children):
            child.kill()
        await stop_embedded(workdir / "state")
    return summary(args, elapsed, counts, stats, before, after)


async def simulator_stats(simulator: Child) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        reply = await client.get(f"http://127.0.0.1:{simulator.ready['http_port']}/stats")
    result: dict[str, Any] = reply.json()
    return result


def summary(args: argparse.Namespace, elapsed: float, counts: dict[str, int],
            stats: dict[str, Any], before: dict[str, float], after: dict[str, float]
            ) -> dict[str, Any]:
    count: int = args.messages

    def per_message_us(name: str) -> float:
        return round((after[name] - before.get(name, 0.0)) / count * 1e6, 1)

    return {
        "gateway": args.gateway, "messages": count, "concurrency": args.concurrency,
        "batch_size": args.batch_size, "window": args.window,
        "elapsed_s": round(elapsed, 1), "per_second": round(count / elapsed, 1),
        "daemon_cpu_us_per_message": per_message_us("daemon"),
        "kannel_cpu_us_per_message": (per_message_us("kannel")
                                      if args.gateway == "kannel" else None),
        "simulator_cpu_us_per_message": per_message_us("simulator"),
        "final": {state: n for state, n in counts.items() if n},
        "lost": count - sum(counts[state] for state in FINAL),
        "duplicates": stats["duplicates"], "accepted_by_smsc": stats["accepted"],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--gateway", choices=("kannel", "smpp", "http"), default="kannel")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="the daemon's senders (kannel, http: requests at once)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--window", type=int, default=100,
                        help="SMPP window: Kannel's max-pending-submits, or the daemon's")
    parser.add_argument("--json", type=Path, help="also write the result here")
    parser.add_argument("--profile", type=Path, help="profile the daemon into this file")
    args = parser.parse_args()
    tune_for_batches()
    print(json.dumps({"load_average_before": [round(x, 2) for x in os.getloadavg()]}))
    with tempfile.TemporaryDirectory(prefix="dispatch-kannel-") as workdir:
        result = trio.run(run, args, Path(workdir))
    out = args.json or HERE / "results" / f"kannel_path_{args.gateway}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
