"""The Redis Cluster harness (tests/redis_cluster.py) itself, with a client of its own
(coredis): the slots are spread over the masters, a killed master's replica takes over
with the data it had confirmed, and no process outlives the block."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import coredis
import pytest
import trio

from tests.redis_cluster import ClusterGroup, redis_cluster
from tests.redis_ha import command

KEYS = [f"{{tag-{index}}}:value" for index in range(200)]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[ClusterGroup]:
    with redis_cluster(tmp_path, masters=3, replicas_per_master=1) as started:
        yield started
    assert all(server.process.poll() is not None for server in started.nodes)


def _client(group: ClusterGroup) -> coredis.RedisCluster[str]:
    """A cluster client on the startup nodes; short timeouts, so that a dead node fails
    fast."""
    return coredis.RedisCluster(
        startup_nodes=[{"host": host, "port": port} for host, port in group.startup_nodes],
        decode_responses=True, connect_timeout=2, stream_timeout=2)


def _dbsize(port: int) -> int:
    reply = command(port, "DBSIZE")
    assert reply.startswith(b":"), reply
    return int(reply[1:])


def _check_url(cluster: ClusterGroup) -> None:
    masters = cluster.master_ports()
    assert len(masters) == 3 and len(cluster.nodes) == 6
    assert cluster.startup_nodes == [("127.0.0.1", port) for port in masters]
    assert cluster.url == "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in masters)


async def test_keys_spread_and_a_failover_keeps_a_replicated_key(cluster: ClusterGroup
                                                                 ) -> None:
    """One cluster for all (2 s to form): the URL, the spread, the failover."""
    _check_url(cluster)
    with trio.fail_after(60):
        async with _client(cluster) as client:
            for key in KEYS:
                await client.set(key, key)
            masters = cluster.master_ports()
            assert all(_dbsize(port) > 0 for port in masters), masters
            assert sum(_dbsize(port) for port in masters) == len(KEYS)
            chosen = KEYS[0]
            old = cluster.master_port_for(chosen)
            assert command(old, "EXISTS", chosen) == b":1\r\n"  # the harness's slot map
            # Its replica has it: WAIT on the connection that wrote it (a WAIT on another
            # connection waits for that connection's writes: none).
            with client.ensure_replication(1, 2000):
                await client.set(chosen, chosen)
            new = await trio.to_thread.run_sync(cluster.kill_master, old)
            assert new != old and cluster.master_port_for(chosen) == new
            assert old not in cluster.master_ports() and new in cluster.master_ports()
            assert await client.get(chosen) == chosen
