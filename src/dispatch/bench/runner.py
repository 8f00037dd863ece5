"""`run_bench`: a private Redis, the measured pipeline, then the raw ceiling, one report.

    report = trio.run(run_bench, BenchOptions(gateway="smpp", messages=200_000), workdir)

Everything it starts (redis-server in `workdir/state`, simulators, daemons, the ceiling
client) is stopped before it returns, whatever happens; logs stay in `workdir`.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import trio

from dispatch.bench.cluster import private_cluster
from dispatch.bench.measure import read_proc
from dispatch.bench.options import BenchOptions, checked
from dispatch.bench.pipeline import run_pipeline
from dispatch.bench.probes import redis_pid, simulator_stats
from dispatch.bench.profile import top_costs
from dispatch.bench.report import build_report
from dispatch.bench.services import start_simulator
from dispatch.store.server import ensure_embedded, stop_embedded


class CeilingFailed(RuntimeError):
    """The ceiling client did not produce its result."""


async def run_bench(options: BenchOptions, workdir: Path) -> dict[str, Any]:
    options = checked(options)
    context: dict[str, Any] = {"load_average_before": _load()}
    if options.redis_masters > 1:
        async with private_cluster(workdir / "cluster", options.redis_masters) as cluster:
            run = await run_pipeline(options, workdir, cluster.url, cluster.pids)
    else:
        state_dir = workdir / "state"
        redis_url = await ensure_embedded(state_dir)
        try:
            pid = redis_pid(state_dir)
            run = await run_pipeline(options, workdir, redis_url,
                                     [pid] if pid is not None else [])
        finally:
            with trio.CancelScope(shield=True):
                await stop_embedded(state_dir)
    context["load_average_after_run"] = _load()
    ceiling = await measure_ceiling(options, workdir) if options.ceiling_size else None
    context.update(_machine())
    report = build_report(options, run, ceiling, context)
    if options.profile_dir is not None:
        report["profile"] = top_costs(options.profile_dir)
    report["series"] = run.series
    return report


async def measure_ceiling(options: BenchOptions, workdir: Path) -> dict[str, Any]:
    """The ceiling client against a fresh simulator with the same flags."""
    simulator = await start_simulator(options, workdir, "ceiling-simulator")
    try:
        port_key = "http_port" if options.gateway == "http" else "smpp_port"
        before = read_proc(simulator.process.pid)  # its start-up is not the blast's cost
        with trio.fail_after(options.timeout_s):
            result = await _ceiling_process(options, simulator.ready[port_key], workdir)
        stats = await simulator_stats(simulator)
        after = read_proc(simulator.process.pid)
    finally:
        with trio.CancelScope(shield=True):
            await simulator.stop()
    cpu = after.cpu_s - before.cpu_s if after and before else None
    accepted = result.get("accepted") or 0
    result.update(duplicates=stats.get("duplicates"),
                  line_violations=stats.get("line_violations"),
                  simulator_cpu_s=round(cpu, 2) if cpu is not None else None,
                  simulator_cpu_us_per_message=round(cpu / accepted * 1e6, 1)
                  if cpu is not None and accepted else None)
    return result


def ceiling_command(options: BenchOptions, port: int) -> list[str]:
    return [sys.executable, "-m", "dispatch.bench.ceiling", "--gateway", options.gateway,
            "--port", str(port), "--messages", str(options.ceiling_size),
            "--batch-size", str(options.batch_size), "--concurrency", str(options.concurrency),
            "--binds", str(options.binds), "--window", str(options.window),
            "--lines", str(options.lines), "--line-rate", f"{options.line_rate:g}",
            "--text-parts", str(options.text_parts)]


async def _ceiling_process(options: BenchOptions, port: int, workdir: Path) -> dict[str, Any]:
    done = await trio.run_process(ceiling_command(options, port), capture_stdout=True,
                                  capture_stderr=True, check=False)
    (workdir / "ceiling.log").write_bytes(done.stderr)
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        raise CeilingFailed(f"ceiling client exited with {done.returncode}; "
                            f"see {workdir / 'ceiling.log'}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
