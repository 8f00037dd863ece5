"""How many messages the daemons hold for their sending window, per campaign, as they
publish it about once a second (daemon/upkeep/waiting.py) for `dispatch status`.

Each daemon holds its own messages in memory, so each writes its own field in the
campaign's `waiting` hash: consumer -> "count:ms", ms its wall clock when written. A field
older than STALE_S is a daemon that stopped or died without saying so: readers leave it
out. The key's TTL (refreshed by every write) removes the hash once no daemon writes to it.
One pipelined round trip per second for every campaign a daemon holds messages of, none
per message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Final

from dispatch.keys import Keys
from dispatch.store.redis import Redis

# A daemon publishes every second: a field this old was not refreshed for several periods
# (the clocks of the daemon's and the reader's machines may differ by a second or two).
STALE_S: Final = 10.0


class WindowWaiting:
    """The waiting counts of one daemon (`consumer`), written; everyone's, read."""

    def __init__(self, redis: Redis, keys: Keys, consumer: str = "") -> None:
        self._redis = redis
        self._keys = keys
        self._consumer = consumer

    async def publish(self, counts: Mapping[str, int], gone: Collection[str],
                      now: float) -> None:
        """This daemon holds `counts[campaign]` messages for their window, and none any
        more of the campaigns in `gone`. `now`: wall clock, POSIX seconds."""
        stamp = f":{round(now * 1000)}"
        ttl_ms = round(STALE_S * 1000)
        async with self._redis.pipeline(transaction=False) as pipe:
            for campaign, count in counts.items():
                key = self._keys.campaign(campaign).waiting
                pipe.hset(key, {self._consumer: f"{count}{stamp}"})
                pipe.pexpire(key, ttl_ms)
            for campaign in gone:
                pipe.hdel(self._keys.campaign(campaign).waiting, [self._consumer])

    async def read(self, campaigns: Collection[str], now: float) -> dict[str, int]:
        """Messages held for their window by the live daemons, per campaign, one pipelined
        round trip; `now`: the reader's wall clock."""
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [pipe.hgetall(self._keys.campaign(c).waiting) for c in campaigns]
        return {campaign: fresh_total(await reply, now)
                for campaign, reply in zip(campaigns, replies, strict=True)}


def fresh_total(fields: Mapping[bytes, bytes], now: float) -> int:
    """The sum of the counts written less than STALE_S before `now` (a damaged field
    counts as stale: it is only a gauge)."""
    total = 0
    for value in fields.values():
        count, _, stamp = value.decode().partition(":")
        try:
            if now - int(stamp) / 1000 < STALE_S:
                total += int(count)
        except ValueError:
            continue
    return total
