"""The sampler against a real Redis: counts by stage, and when to stop waiting.

Real time, in short periods: Trio's autojump clock would jump past a deadline while the
sampler waits on Redis (real I/O), so it cannot drive these tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from dispatch.bench.sampler import Sampler
from dispatch.bench.workload import campaign_ids, enqueue_all
from dispatch.keys import Keys
from dispatch.settings import Settings
from dispatch.store.redis import Redis

CAMPAIGN = "bench"


async def test_waits_until_every_message_is_final(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    counts = keys.campaign(CAMPAIGN).counts
    await redis.hset(counts, {"queued": 10})
    sampler = Sampler(redis, keys, [CAMPAIGN], trio.current_time())
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sampler.run, 0.01)
            await _until(lambda: bool(sampler.series.t))  # a first sample is in
            await redis.hset(counts, {"queued": 0, "submitted": 4, "delivered": 6})
            await _until(lambda: 6 in sampler.series.final)
            await redis.hset(counts, {"submitted": 0, "delivered": 10})
            assert await sampler.wait_final(10, stall_s=15) is True
            nursery.cancel_scope.cancel()
    series = sampler.series
    assert series.entered[0] == 10 and series.final[0] == 0
    assert 10 in series.passed and 6 in series.final
    assert series.final[-1] == 10


async def test_gives_up_when_nothing_moves(redis: Redis, settings: Settings) -> None:
    keys = Keys(settings.redis.key_prefix)
    await redis.hset(keys.campaign(CAMPAIGN).counts, {"submitted": 3, "delivered": 7})
    sampler = Sampler(redis, keys, [CAMPAIGN], trio.current_time())
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sampler.run, 0.01)
            assert await sampler.wait_final(10, stall_s=0.2) is False
            nursery.cancel_scope.cancel()
    assert len(sampler.series.final) >= 2 and set(sampler.series.final) == {7}


async def _until(condition: Callable[[], bool]) -> None:
    """Poll what the sampler recorded (the caller's fail_after bounds it)."""
    while not condition():
        await trio.sleep(0.01)


async def test_several_campaigns_are_sampled_as_one_run(
        redis: Redis, settings: Settings, tmp_path: Path) -> None:
    """--campaigns 3: the rows split over bench-1..3, the stages counted over all."""
    keys = Keys(settings.redis.key_prefix)
    campaigns = campaign_ids(3)
    assert campaigns == ["bench-1", "bench-2", "bench-3"]
    with trio.fail_after(20):
        result = await enqueue_all(redis, settings, 10, tmp_path, campaigns=campaigns)
        assert result.accepted == 10
        sampler = Sampler(redis, keys, campaigns, trio.current_time())
        await sampler.sample()
    assert sampler.series.entered == [10]
    queued = [int(await redis.hget(keys.campaign(c).counts, "queued") or 0)
              for c in campaigns]
    assert queued == [3, 3, 4]
