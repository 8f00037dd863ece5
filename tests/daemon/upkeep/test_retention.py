"""The daemon's automatic retention purge loop."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from dispatch.daemon.upkeep.retention import purge_forever
from dispatch.keys import Keys
from dispatch.settings import RetentionSettings, Settings
from dispatch.store.redis import Redis
from tests.daemon.conftest import enqueue


async def test_switched_off_it_returns_at_once(redis: Redis, settings: Settings) -> None:
    with trio.fail_after(5):
        await purge_forever(redis, Keys(settings.redis.key_prefix), RetentionSettings(days=0),
                            "FR")


async def test_a_campaign_still_in_progress_is_left_alone_pass_after_pass(
        redis: Redis, settings: Settings, tmp_path: Path,
        autojump_clock: trio.testing.MockClock) -> None:
    keys = Keys(settings.redis.key_prefix)
    await enqueue(redis, settings, tmp_path, 5)
    with trio.move_on_after(3 * 3600 + 1):  # three passes of the hourly loop
        await purge_forever(redis, keys, RetentionSettings(days=60, interval_s=3600), "FR")
    assert await redis.hlen(keys.campaign("c1").state) == 5
    assert await redis.hget(keys.campaign("c1").meta, "purged_at") is None
