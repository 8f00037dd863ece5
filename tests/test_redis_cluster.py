"""Redis Cluster URLs, and what the product asks of a real cluster beyond coredis: a key
on every master (replication markers), every master's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from coredis._utils import hash_slot

from dispatch.keys import Keys
from dispatch.redis_url import check, cluster_url, location
from dispatch.settings import RedisSettings, Settings
from dispatch.store.cluster import key_per_primary
from dispatch.store.redis import open_redis
from dispatch.store.replication import Replication
from dispatch.store.server_config import server_config
from tests.redis_cluster import redis_cluster


def test_a_cluster_url_names_its_nodes_and_logins_and_is_shown_without_them() -> None:
    url = "redis+cluster://app:pw@10.0.0.1:7000,10.0.0.2,[::1]:7001"
    found = cluster_url(url)
    assert found.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7001))
    assert (found.username, found.password, found.tls) == ("app", "pw", False)
    assert cluster_url("rediss+cluster://h:7000").tls
    check(url)
    shown = location(url)
    assert shown == "cluster of 10.0.0.1:7000, 10.0.0.2:6379, ::1:7001"
    assert "pw" not in shown


@pytest.mark.parametrize(("url", "said"), [
    ("redis+cluster://", "no node"),
    ("redis+cluster://h:7000?db=1", "a cluster has no database number"),
])
def test_a_malformed_cluster_url_says_what_is_wrong(url: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        check(url)


async def test_a_marker_on_every_master_is_confirmed_by_its_replica(tmp_path: Path) -> None:
    with redis_cluster(tmp_path / "cluster") as group, trio.fail_after(30):
        settings = Settings(redis=RedisSettings(url=group.url, key_prefix="m"),
                            state_dir=str(tmp_path / "state"))
        async with open_redis(settings) as redis:
            markers = await key_per_primary(redis, "m:replicated:")
            assert sorted(group.master_port_for(key) for key in markers) \
                == group.master_ports()
            await Replication(replicas=1, timeout_ms=2000).confirmed(redis, "m:replicated:")
            for key in markers:
                assert await redis.get(key) == b"1"
            config = await server_config(redis)
            assert (config.maxmemory_policy, config.appendonly) == ("noeviction", "no")


def test_the_keys_a_script_combines_share_a_slot() -> None:
    """What one Lua script or transaction touches must be one slot (keys.py)."""
    keys = Keys("dispatch")
    def slot(key: str) -> int:
        return hash_slot(key.encode())
    campaign = keys.campaign("c1")
    assert len({slot(k) for k in (campaign.state, campaign.counts, campaign.stream,
                                  campaign.errors, campaign.meta, campaign.changes,
                                  keys.consent_bucket("c1", 7), keys.purging("c1"))}) == 1
    assert len({slot(k) for k in (keys.optout("all"), keys.optout("line:36111"),
                                  keys.optout_numbers, keys.optout_audit, keys.inbound,
                                  keys.answers, keys.answer_numbers, keys.answers_log)}) == 1
    assert slot(keys.receipt_map(1)) == slot(keys.receipt_map(2)) == slot(keys.orphan_receipts)
    assert slot(keys.reservation_bucket("e", "abc")) == slot(keys.reservation_bucket("e", "fff"))
    for stream in (keys.inbound, keys.optout_audit, keys.answers_log, "plain:stream"):
        assert slot(keys.rewrite(stream)) == slot(keys.rewrite(stream) + ":marks") \
            == slot(stream)
