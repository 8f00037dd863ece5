"""The inbound port under a flood (issue 17, item 6): 1,000 slow clients (a byte every 2 s,
reconnecting when dropped) and 10,000 connections opened and held do not stop a campaign's
receipts, posted by the simulator as a gateway would, from being recorded; the daemon's
descriptors stay near its connection limit. Real processes, loopback only; the flood runs
in this process, on Trio. Takes ~20-40 s."""

from __future__ import annotations

import json
import os
import resource
from dataclasses import dataclass
from pathlib import Path

import trio

from dispatch.keys import Keys
from dispatch.processes import Child
from dispatch.settings import Settings
from dispatch.store.redis import Redis
from dispatch.store.status import state_counts
from tests.e2e.harness import run_cli, start_daemon, start_simulator, write_config

SLOW_CLIENTS = 1_000
HELD = 10_000
MESSAGES = 400
MAX_CONNECTIONS = 256  # the default
HEAD = b"POST /receipts HTTP/1.1\r\nhost: flood\r\ncontent-length: 100\r\n\r\n"


@dataclass
class Flood:
    port: int
    connected: int = 0
    failed: int = 0  # connection attempts that failed
    dropped: int = 0  # connections the daemon closed


async def slow_client(flood: Flood) -> None:
    """A byte every 2 s (the request would take 2 min), again when dropped."""
    while True:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", flood.port)
        except OSError:
            flood.failed += 1
            await trio.sleep(1)
            continue
        flood.connected += 1
        async with stream:
            try:
                for byte in HEAD:
                    await stream.send_all(bytes([byte]))
                    await trio.sleep(2)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                flood.dropped += 1
        await trio.sleep(0.5)


async def held_connection(flood: Flood, connecting: trio.CapacityLimiter) -> None:
    """Opened, then nothing sent until the daemon closes it."""
    async with connecting:
        try:
            stream = await trio.open_tcp_stream("127.0.0.1", flood.port)
        except OSError:
            flood.failed += 1
            return
    flood.connected += 1
    async with stream:
        try:
            while await stream.receive_some(1024):
                pass
        except trio.BrokenResourceError:
            pass
        flood.dropped += 1


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def enqueue(config: Path, tmp_path: Path) -> None:
    numbers = [f"06{30_000_000 + i:08d}" for i in range(MESSAGES)]
    (tmp_path / "c.csv").write_text("phone\n" + "\n".join(numbers) + "\n")
    result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "flood",
                           "--text", "Parti Test : meeting dimanche. STOP au 36111", "--config",
                           str(config), "--json")
    assert result.returncode == 0, result.stderr.decode()
    assert json.loads(result.stdout)["accepted"] == MESSAGES


async def recorded(redis: Redis, settings: Settings) -> int:
    counts = (await state_counts(redis, Keys(settings.redis.key_prefix), ["flood"]))["flood"]
    return counts["delivered"] + counts["failed"] + counts["expired"]


async def test_receipts_are_recorded_during_a_flood_of_slow_and_held_connections(
        reaper: list[Child], tmp_path: Path, redis: Redis, settings: Settings) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= SLOW_CLIENTS + HELD + 500, "not enough descriptors for the flood"
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        await flood_while_sending(reaper, tmp_path, redis, settings)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def flood_while_sending(reaper: list[Child], tmp_path: Path, redis: Redis,
                              settings: Settings) -> None:
    with trio.fail_after(90):
        simulator = await start_simulator(reaper, tmp_path, "--receipt-delay-ms", "50",
                                          "--outcomes", "delivered=1")
        config = write_config(tmp_path / "d.toml", settings, simulator.ready["http_port"],
                              consumer="flooded")
        daemon = await start_daemon(reaper, tmp_path, config)
        flood = Flood(daemon.ready["inbound_port"])
        pid = daemon.process.pid
        most_fds = 0
        async with trio.open_nursery() as nursery:
            for _ in range(SLOW_CLIENTS):
                nursery.start_soon(slow_client, flood)
            connecting = trio.CapacityLimiter(200)
            for _ in range(HELD):
                nursery.start_soon(held_connection, flood, connecting)
            while flood.connected < SLOW_CLIENTS + HELD // 2:  # the flood is on
                await trio.sleep(0.1)
                most_fds = max(most_fds, descriptors(pid))
            start = trio.current_time()
            await enqueue(config, tmp_path)
            with trio.fail_after(45):  # every receipt recorded, flood or not
                while await recorded(redis, settings) < MESSAGES:
                    assert daemon.process.returncode is None, "the daemon exited"
                    most_fds = max(most_fds, descriptors(pid))
                    await trio.sleep(0.2)
            took = trio.current_time() - start
            during = (flood.connected, flood.dropped, flood.failed)
            nursery.cancel_scope.cancel()
        print(f"\nflood: {during[0]} connections, {during[1]} dropped by the daemon, "
              f"{during[2]} failed; {MESSAGES} messages enqueued and every receipt recorded "
              f"in {took:.1f} s; daemon descriptors at most {most_fds}, "
              f"RSS {rss_mb(pid):.0f} MB")
        assert most_fds < MAX_CONNECTIONS + 200  # the limit held (Redis, listeners, SMPP...)
        assert daemon.process.returncode is None
        assert await daemon.stop() == 0
