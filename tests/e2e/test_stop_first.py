"""End to end, STOP first: STOPs for queued numbers sent over SMPP while a campaign runs at
full load; nothing reaches a number once its STOP is in force.

Real processes (simulator with its SMSC, daemon, CLI). The STOPs go through the
simulator's `POST /mo`, as deliver_sm on the daemon's binds, mixed with the campaign's
receipts. Checked: every STOP recorded, the simulator counts no campaign message accepted
after a STOP's deliver_sm_resp (`sent_after_stop`, which the daemon gives only once the
opt-out is written and no submission to the number is under way), and every message is
final (delivered or suppressed). Phone numbers are never printed.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from dispatch.keys import Keys
from dispatch.processes import Child
from dispatch.settings import Settings
from dispatch.store.queue import Queue
from dispatch.store.redis import Redis
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    wait_until_final,
    write_config,
)

COUNT = 20_000
STOPS = 200
LINE = "36111"  # the harness's SMPP sender
FLAGS = ("--smpp-port", "0", "--account", "e2e:secret", "--receipt-delay-ms", "50",
         "--outcomes", "delivered=1", "--receipts-pending-limit", "100000")


def numbers() -> list[str]:
    return [f"+336{70_000_000 + i:08d}" for i in range(COUNT)]


async def wait_accepted(simulator: Child, count: int) -> None:
    """Until the gateway accepted `count` messages: the campaign is sending at full speed."""
    while True:
        if (await simulator_stats(simulator))["accepted"] >= count:
            return
        assert simulator.process.returncode is None, "the simulator exited"
        await trio.sleep(0.05)


async def send_stops(simulator: Child, stopping: list[str]) -> None:
    """The STOPs, 50 every 0.1 s (about 500/s), as recipients' MO to the campaign's line."""
    url = f"http://127.0.0.1:{simulator.ready['http_port']}/mo"
    async with httpx.AsyncClient() as client:
        for start in range(0, len(stopping), 50):
            body = [{"from": number, "to": LINE, "text": "STOP"}
                    for number in stopping[start:start + 50]]
            reply = await client.post(url, json=body)
            assert reply.status_code == 202, reply.text
            await trio.sleep(0.1)


async def test_stops_for_queued_numbers_under_load_stop_their_messages(
        redis: Redis, settings: Settings, tmp_path: Path, reaper: list[Child]) -> None:
    everyone = numbers()
    stopping = everyone[COUNT // 2::(COUNT // 2) // STOPS][:STOPS]  # queued: second half
    (tmp_path / "c.csv").write_text("phone\n" + "\n".join(everyone) + "\n")
    with trio.fail_after(240):
        simulator = await start_simulator(reaper, tmp_path, *FLAGS)
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["smpp_port"], consumer="stop-first", smpp=True)
        enqueued = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "load",
                                 "--text", "Parti Test : meeting. STOP au 36111",
                                 "--config", str(config))
        assert enqueued.returncode == 0, enqueued.stderr.decode()
        daemon = await start_daemon(reaper, tmp_path, config)
        await wait_accepted(simulator, COUNT // 10)
        await send_stops(simulator, stopping)
        counts = await wait_until_final(config, "load", COUNT, [daemon, simulator])
        stats = await simulator_stats(simulator)
        assert await daemon.stop() == 0
    queue = Queue(redis, Keys(settings.redis.key_prefix), "check")
    recorded = await queue.optouts.opted_out_by_line(stopping, [LINE] * STOPS)
    assert sum(recorded) == STOPS  # every STOP recorded
    assert stats["stops_acknowledged"] == STOPS
    assert stats["sent_after_stop"] == 0, stats["sent_after_stop_max_ms"]
    assert counts["delivered"] + counts["suppressed"] == COUNT
    assert counts["suppressed"] > 0  # STOPs landed while their numbers were queued
    assert stats["accepted"] == counts["delivered"] + stats["confirmations"]
