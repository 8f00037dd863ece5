"""Redis Cluster with the real processes: 3 masters, a replica each (Debian's
redis-server, formed by redis-cli). Campaigns spread over the masters (each campaign's
keys in its own slot); a master killed mid-campaign, its replica promoted by the cluster
itself, and the daemon follows: every message ends in one state, none lost, duplicates
counted and bounded, the STOPs taken before the kill kept (redis.replicas = 1: every
master's replica confirmed them)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from dispatch.keys import Keys
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
from tests.redis_cluster import ClusterGroup, redis_cluster

TEXT = "Bonjour, ici Parti Test. STOP au 36111"
CAMPAIGNS = ["c1", "c2", "c3", "c4", "c5", "c6"]  # their slots fall on all 3 masters
PER_CAMPAIGN = 400


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[ClusterGroup]:
    """A cluster of this test's own (it kills one of its masters), two replicas a master,
    as in production: once a master is lost, the promoted replica still has one to
    confirm writes (redis.replicas = 1)."""
    with redis_cluster(tmp_path / "cluster", replicas_per_master=2) as group:
        yield group


async def test_campaigns_spread_over_the_masters_and_each_ends_final(
        cluster: ClusterGroup, tmp_path: Path, reaper: list[Child]) -> None:
    settings = Settings(redis=RedisSettings(url=cluster.url, key_prefix="spread"),
                        state_dir=str(tmp_path / "state"))
    keys = Keys("spread")
    with trio.fail_after(120):
        simulator = await start_simulator(reaper, tmp_path, "--receipt-delay-ms", "20")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="spread")
        for index, campaign in enumerate(CAMPAIGNS):
            numbers = [f"06{31_000_000 + index * 10_000 + i:08d}" for i in range(PER_CAMPAIGN)]
            await enqueue(tmp_path, config, campaign, numbers)
        masters = {cluster.master_port_for(keys.campaign(c).state) for c in CAMPAIGNS}
        assert len(masters) == 3, "the campaigns' keys are on every master"
        daemon = await start_daemon(reaper, tmp_path, config)
        counts = await wait_all_final(config, daemon, CAMPAIGNS, PER_CAMPAIGN)
        assert await daemon.stop() == 0
        stats = await simulator_stats(simulator)
    for campaign in CAMPAIGNS:
        ended = counts[campaign]
        assert ended["delivered"] + ended["failed"] + ended["expired"] == PER_CAMPAIGN
    assert stats["accepted"] == len(CAMPAIGNS) * PER_CAMPAIGN
    assert stats["duplicates"] == 0


MESSAGES = 6_000
NUMBERS = [f"06{32_000_000 + i:08d}" for i in range(MESSAGES)]
STOPPING = NUMBERS[-50:]  # still queued when they write STOP


@pytest.mark.parametrize("holding", ["campaign", "optout"])
async def test_a_master_killed_mid_campaign_the_daemon_follows_the_promoted_replica(
        own_cluster: ClusterGroup, tmp_path: Path, reaper: list[Child], holding: str
        ) -> None:
    """The master killed holds the campaign's keys, or the opt-out sets the STOPs go to."""
    settings = Settings(redis=RedisSettings(url=own_cluster.url, key_prefix="fo"),
                        state_dir=str(tmp_path / "state"))
    keys = Keys("fo")
    killed = own_cluster.master_port_for(
        keys.campaign("fo").state if holding == "campaign" else keys.optout("all"))
    with trio.fail_after(150):
        # 2 senders x 20 messages x 25 ms: ~1,600 messages/s, the campaign lasts seconds.
        simulator = await start_simulator(reaper, tmp_path, "--latency-ms", "25",
                                          "--receipt-delay-ms", "50",
                                          "--outcomes", "delivered=1")
        config = write_config(tmp_path / "dispatch.toml", settings,
                              simulator.ready["http_port"], consumer="fo", batch_size=20,
                              redis_extra="replicas = 1\n")
        await enqueue(tmp_path, config, "fo", NUMBERS)
        daemon = await start_daemon(reaper, tmp_path, config)
        while (await simulator_stats(simulator))["accepted"] < MESSAGES // 3:
            await trio.sleep(0.05)
        await send_stops(simulator, STOPPING)
        promoted = await trio.to_thread.run_sync(own_cluster.kill_master, killed)
        killed_at = time.monotonic()
        counts = (await wait_all_final(config, daemon, ["fo"], MESSAGES))["fo"]
        took = time.monotonic() - killed_at
        assert await daemon.stop() == 0
        stats = await simulator_stats(simulator)

    print(f"\ncluster failover (master {killed} of the {holding} -> {promoted}): "
          f"{counts}; "
          f"simulator accepted {stats['accepted']} ({stats['confirmations']} STOP "
          f"confirmations), duplicates {stats['duplicates']}; the campaign ended "
          f"{took:.1f} s after the kill")
    assert_failover_kept(counts, stats, MESSAGES, len(STOPPING))


async def enqueue(tmp_path: Path, config: Path, campaign: str, numbers: list[str]) -> None:
    path = tmp_path / f"{campaign}.csv"
    path.write_text("phone\n" + "\n".join(numbers) + "\n")
    result = await run_cli("enqueue", str(path), "--campaign", campaign, "--text", TEXT,
                           "--config", str(config), "--json")
    assert json.loads(result.stdout)["accepted"] == len(numbers), result.stderr.decode()
