"""Benchmark: a voice campaign over 10,000 lines, in real time, against the simulator's
voice side (docs/VOICE.md).

    python benchmarks/voice.py                       # 10,000 lines, 30 s calls, 240 s of load
    python benchmarks/voice.py --lines 2000 --seconds 60 --call-s 10     # a quicker look

A private Redis, the simulator (every call ringing 1 s then connected for the rest of
`--call-s` on average, answered by a person or a machine: no call is called again, so the
run's end is known) and one daemon whose pool holds `--lines` lines of one call at a time.
As many recipients are queued as the lines can call in `--seconds` (lines x seconds /
call). Every 5 s: calls placed and in progress at the simulator, lines busy and calls in
progress at the daemon, its CPU. Measured over the steady part (after the first calls
ended, until the queue ran dry): call starts per second, line utilisation (calls in
progress / lines), daemon CPU per call; at the end: every message final, 0 lost, the
simulator's line violations and duplicates, the daemon's peak RSS. Writes
benchmarks/results/voice_<lines>.json and prints a summary line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import trio

from dispatch.bench.measure import read_proc
from dispatch.gc_tuning import tune_for_batches
from dispatch.processes import Child, dispatch_command, start_child
from dispatch.store.server import ensure_embedded, stop_embedded

HERE = Path(__file__).parent
ACCOUNT = "ACbench"
SAMPLE_S = 5.0
RING_MS = 1000.0


def config_text(redis_url: str, port: int, lines: int) -> str:
    return (f'[redis]\nurl = "{redis_url}"\nkey_prefix = "voicebench"\n\n'
            f'[daemon]\nconsumer = "voice-bench"\ninbound_port = 0\nmetrics_port = 0\n'
            f"batch_size = 500\ncall_timeout_s = 300\nline_lease_s = 0\n\n"
            f'[gateways.calls]\ntype = "voice"\nurl = "http://127.0.0.1:{port}"\n'
            f'account_sid = "{ACCOUNT}"\nauth_token = "token"\nbatch_size = 20\n'
            f"concurrency = 16\ntimeout_s = 30\n\n"
            f'[pools.callers]\ngateway = "calls"\nrate = 10\nburst = 1\n'
            f'lines = [{{ range = "+33900000000-+339{lines - 1:08d}" }}]\n')


async def enqueue(config: Path, workdir: Path, count: int) -> None:
    path = workdir / "calls.csv"
    path.write_text("phone\n" + "".join(f"+336{i:08d}\n" for i in range(count)))
    result = await trio.run_process(
        dispatch_command("enqueue", str(path), "--campaign", "v", "--channel", "voice",
                         "--say", "Votez le 11 avril.", "--gateway", "calls", "--window",
                         "always", "--sender", "Parti Bench", "--no-consent-required",
                         "--config", str(config), "--json"),
        capture_stdout=True, capture_stderr=True, check=False)
    if result.returncode != 0:
        sys.exit(f"enqueue failed: {result.stderr.decode()}")


async def sample(client: httpx.AsyncClient, simulator: Child, daemon: Child
                 ) -> dict[str, float]:
    stats = (await client.get(f"http://127.0.0.1:{simulator.ready['http_port']}/stats")).json()
    metrics = (await client.get(
        f"http://127.0.0.1:{daemon.ready['metrics_port']}/metrics")).text
    proc = read_proc(daemon.process.pid)
    sim_proc = read_proc(simulator.process.pid)
    return {"at": time.monotonic(), "placed": stats["voice"]["placed"],
            "active": stats["voice"]["active"], "line_violations":
            stats["voice"]["line_violations"], "duplicates": stats["voice"]["duplicates"],
            "lines_busy": _metric(metrics, 'dispatch_lines_busy{pool="callers"}'),
            "in_progress": _metric(metrics, "dispatch_calls_in_progress"),
            "daemon_cpu_s": proc.cpu_s if proc else 0.0,
            "daemon_peak_rss_mb": proc.peak_rss_mb if proc else 0.0,
            "simulator_cpu_s": sim_proc.cpu_s if sim_proc else 0.0}


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def final_counts(config: Path) -> dict[str, int]:
    result = await trio.run_process(dispatch_command("status", "--config", str(config),
                                                     "--json"), capture_stdout=True)
    counts: dict[str, int] = json.loads(result.stdout)["campaigns"]["v"]
    return counts


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    count = int(args.lines * args.seconds / args.call_s)
    redis_url = await ensure_embedded(workdir / "state")
    children: list[Child] = []
    try:
        simulator = await start_child("simulator", dispatch_command(
            "simulator", "--http-port", "0", "--seed", "7", "--voice-account",
            f"{ACCOUNT}:token", "--call-ring-ms", str(RING_MS), "--call-duration-ms",
            str(args.call_s * 1000 - RING_MS), "--call-duration-jitter-ms",
            str((args.call_s * 1000 - RING_MS) / 2), "--call-outcomes",
            "human=0.7,machine=0.3"), workdir / "simulator.log")
        children.append(simulator)
        config = workdir / "dispatch.toml"
        config.write_text(config_text(redis_url, simulator.ready["http_port"], args.lines))
        await enqueue(config, workdir, count)
        daemon = await start_child("daemon", dispatch_command("run", "--config", str(config)),
                                   workdir / "daemon.log")
        children.append(daemon)
        samples = await watch(simulator, daemon, config, count)
        counts = await final_counts(config)
        await daemon.stop()
    finally:
        for child in children:
            child.kill()
        await stop_embedded(workdir / "state")
    return summary(args, count, samples, counts)


async def watch(simulator: Child, daemon: Child, config: Path, count: int
                ) -> list[dict[str, float]]:
    """Samples until every message is final."""
    samples: list[dict[str, float]] = []
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            await trio.sleep(SAMPLE_S)
            samples.append(await sample(client, simulator, daemon))
            counts = await final_counts(config)
            if counts["delivered"] + counts["failed"] + counts["expired"] >= count:
                return samples


def summary(args: argparse.Namespace, count: int, samples: list[dict[str, float]],
            counts: dict[str, int]) -> dict[str, Any]:
    """Steady part: from the first calls' end (call_s after the start) until every message
    was placed."""
    start = samples[0]["at"] - SAMPLE_S
    steady = [s for s in samples if s["at"] - start >= args.call_s + SAMPLE_S
              and s["placed"] < count]
    first, last = steady[0], steady[-1]
    elapsed = last["at"] - first["at"]
    starts = (last["placed"] - first["placed"]) / elapsed
    cpu = last["daemon_cpu_s"] - first["daemon_cpu_s"]
    placed = last["placed"] - first["placed"]
    final = samples[-1]
    return {
        "lines": args.lines, "call_s": args.call_s, "messages": count,
        "steady_s": round(elapsed, 1),
        "call_starts_per_second": round(starts, 1),
        "line_capacity_per_second": round(args.lines / args.call_s, 1),
        "utilisation": round(statistics.mean(s["active"] for s in steady) / args.lines, 3),
        "daemon_lines_busy_mean": round(statistics.mean(s["lines_busy"] for s in steady), 1),
        "daemon_cpu_us_per_call": round(cpu / placed * 1e6, 1) if placed else None,
        "simulator_cpu_us_per_call": round(
            (last["simulator_cpu_s"] - first["simulator_cpu_s"]) / placed * 1e6, 1)
        if placed else None,
        "daemon_peak_rss_mb": round(final["daemon_peak_rss_mb"], 1),
        "placed": int(final["placed"]), "line_violations": int(final["line_violations"]),
        "duplicates": int(final["duplicates"]),
        "final": {state: n for state, n in counts.items() if n},
        "lost": count - counts["delivered"] - counts["failed"] - counts["expired"],
        "samples": samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=240.0,
                        help="seconds of load: messages = lines x seconds / call")
    parser.add_argument("--call-s", type=float, default=30.0, help="mean call length")
    args = parser.parse_args()
    tune_for_batches()
    with tempfile.TemporaryDirectory(prefix="dispatch-voice-") as workdir:
        result = trio.run(run, args, Path(workdir))
    out = HERE / "results" / f"voice_{args.lines}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))


if __name__ == "__main__":
    main()
