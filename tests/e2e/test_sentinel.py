"""Redis Sentinel failover with the real processes: a campaign runs on a master watched by
three sentinels (Redis's own failover), the master is SIGKILLed mid-campaign, a sentinel
promotes a replica, and the daemon follows: every message ends in one state, none lost,
duplicates counted and bounded; the STOPs taken just before the kill were confirmed by a
replica (redis.replicas = 1), so the failover keeps them."""

from __future__ import annotations

import json
import time
from pathlib import Path

import trio

from dispatch.processes import Child
from dispatch.settings import RedisSettings, Settings
from tests.e2e.failover import assert_failover_kept, send_stops, wait_all_final
from tests.e2e.harness import (
    run_cli,
    simulator_stats,
    start_daemon,
    start_simulator,
    write_config,
)
from tests.redis_ha import sentinel_group

MESSAGES = 6_000
NUMBERS = [f"06{30_000_000 + i:08d}" for i in range(MESSAGES)]
STOPPING = NUMBERS[-50:]  # still queued when they write STOP
TEXT = "Bonjour, ici Parti Test. STOP au 36111"


async def test_a_master_killed_mid_campaign_the_daemon_follows_the_promoted_replica(
        tmp_path: Path, reaper: list[Child]) -> None:
    (tmp_path / "redis").mkdir()
    with sentinel_group(tmp_path / "redis") as group, trio.fail_after(150):
        settings = Settings(redis=RedisSettings(url=group.url, key_prefix="ha"),
                            state_dir=str(tmp_path / "state"))
        # 2 senders x 20 messages x 25 ms: ~1,600 messages/s, the campaign lasts seconds.
        simulator = await start_simulator(reaper, tmp_path, "--latency-ms", "25",
                                          "--receipt-delay-ms", "50",
                                          "--outcomes", "delivered=1")
        # Enqueued rows, receipts and opt-outs are acknowledged once the replica has them.
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="ha", batch_size=20,
                              redis_extra="replicas = 1\n")
        (tmp_path / "c.csv").write_text("phone\n" + "\n".join(NUMBERS) + "\n")
        result = await run_cli("enqueue", str(tmp_path / "c.csv"), "--campaign", "ha",
                               "--text", TEXT, "--config", str(config), "--json")
        assert json.loads(result.stdout)["accepted"] == MESSAGES, result.stderr.decode()
        daemon = await start_daemon(reaper, tmp_path, config)

        while (await simulator_stats(simulator))["accepted"] < MESSAGES // 3:
            await trio.sleep(0.05)
        await send_stops(simulator, STOPPING)
        old_master = group.master.port
        group.master.kill()
        killed_at = time.monotonic()
        counts = (await wait_all_final(config, daemon, ["ha"], MESSAGES))["ha"]
        took = time.monotonic() - killed_at
        assert group.master_port() != old_master, "a sentinel promoted the replica"
        assert await daemon.stop() == 0
        stats = await simulator_stats(simulator)

    print(f"\nsentinel failover: {counts}; simulator accepted {stats['accepted']} "
          f"({stats['confirmations']} STOP confirmations), "
          f"duplicates {stats['duplicates']}; the campaign ended {took:.1f} s after the kill")
    assert_failover_kept(counts, stats, MESSAGES, len(STOPPING))
