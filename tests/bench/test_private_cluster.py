"""`dispatch bench --redis-masters N`: its private Redis Cluster forms, serves every slot,
and is gone after (real redis-server processes)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import trio

from dispatch.bench.cluster import private_cluster
from dispatch.settings import RedisSettings, Settings
from dispatch.store.cluster import primaries
from dispatch.store.redis import Redis, open_redis
from dispatch.store.status import used_memory


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_private_cluster_of_three_masters_serves_every_slot_and_stops(
        tmp_path: Path) -> None:
    with trio.fail_after(30):
        async with private_cluster(tmp_path, 3) as cluster:
            assert cluster.url.startswith("redis+cluster://127.0.0.1:")
            settings = Settings(redis=RedisSettings(url=cluster.url, key_prefix="b"),
                                state_dir=str(tmp_path / "state"))
            async with open_redis(settings) as redis:
                for index in range(60):  # tags spread over the 16,384 slots
                    await redis.set(f"b:{{{index}}}", str(index))
                masters = [node async for node in _sizes(redis)]
                assert len(masters) == 3 and all(size > 0 for size in masters)
                assert sum(masters) >= 60
                assert await used_memory(redis) > 0
            pids = cluster.pids
    assert len(pids) == 3
    assert not any(alive(pid) for pid in pids)


async def _sizes(redis: Redis) -> AsyncIterator[int]:
    """Keys held by each master."""
    async for node in primaries(redis):
        yield int(await node.dbsize())
