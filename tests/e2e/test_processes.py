"""`dispatch run --processes 2`: two daemon processes under one supervisor share the work,
drain on SIGTERM, and a worker that dies takes the service down (for systemd to restart)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import trio

from dispatch.keys import GROUP, Keys
from dispatch.processes import Child, dispatch_command, start_child
from dispatch.settings import Settings
from dispatch.store.redis import Redis
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_simulator,
    wait_until_final,
    write_config,
)
from tests.texts import SIGNED

COUNT = 4000


async def start_workers(reaper: list[Child], tmp_path: Path, config: Path) -> Child:
    child = await start_child("supervisor", dispatch_command(
        "run", "--config", str(config), "--processes", "2"), tmp_path / "supervisor.log")
    reaper.append(child)
    return child


async def test_two_worker_processes_share_a_campaign_and_drain_on_sigterm(
        settings: Settings, tmp_path: Path, reaper: list[Child], redis: Redis) -> None:
    with trio.fail_after(180):
        # Enqueued before the workers start, answered slowly (about 800 messages/s per
        # worker): the campaign outlasts the second worker's start, so both take part.
        simulator = await start_simulator(reaper, tmp_path, "--latency-ms", "100",
                                          "--receipt-delay-ms", "50")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="multi", batch_size=20)
        numbers = "\n".join(f"07{50_000_000 + i:08d}" for i in range(COUNT))
        (tmp_path / "c.csv").write_text(f"phone\n{numbers}\n")
        result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "multi",
                               "--text", SIGNED, "--config", str(config), "--json")
        assert json.loads(result.stdout)["accepted"] == COUNT, result.stderr.decode()
        supervisor = await start_workers(reaper, tmp_path, config)
        workers = supervisor.ready["workers"]
        assert [w["consumer"] for w in workers] == ["multi-1", "multi-2"]
        assert len({w["inbound_port"] for w in workers}) == 2  # each its own receipt port
        counts = await wait_until_final(config, "multi", COUNT, [supervisor, simulator])
        stream = Keys(settings.redis.key_prefix).campaign("multi").stream
        consumers = {c[b"name"] for c in await redis.xinfo_consumers(stream, GROUP)}
        supervisor.process.send_signal(signal.SIGTERM)
        assert await supervisor.process.wait() == 0
        stats = await simulator_stats(simulator)
    assert counts["delivered"] + counts["failed"] + counts["expired"] == COUNT
    assert (stats["accepted"], stats["duplicates"]) == (COUNT, 0)
    assert consumers == {b"multi-1", b"multi-2"}  # both read from the stream


async def test_a_worker_that_dies_stops_the_service_with_exit_1(
        settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    with trio.fail_after(60):
        simulator = await start_simulator(reaper, tmp_path)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="fragile")
        supervisor = await start_workers(reaper, tmp_path, config)
        first, second = _worker_pids(supervisor.process.pid)
        os.kill(first, signal.SIGKILL)
        assert await supervisor.process.wait() == 1
        assert not await trio.Path(f"/proc/{second}").exists()  # stopped and reaped


def _worker_pids(parent: int) -> list[int]:
    """The supervisor's children, from /proc (Linux): any of its threads may have forked
    them (trio starts processes from a worker thread)."""
    return sorted(int(pid) for task in Path(f"/proc/{parent}/task").iterdir()
                  for pid in (task / "children").read_text().split())
