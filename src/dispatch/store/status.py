"""Counts of messages by state, per campaign and in total (one pipelined round trip), and
what the Redis server says of its memory."""

from __future__ import annotations

from dispatch.keys import Keys
from dispatch.store.redis import Redis
from dispatch.vocabulary import ALL_STATES

Counts = dict[str, int]


async def campaign_ids(redis: Redis, keys: Keys) -> list[str]:
    return sorted(member.decode() for member in await redis.smembers(keys.campaigns))


async def state_counts(redis: Redis, keys: Keys, campaigns: list[str]) -> dict[str, Counts]:
    """{campaign: {state: count}} with every state present, zeros included."""
    async with redis.pipeline(transaction=False) as pipe:
        replies = [pipe.hgetall(keys.campaign(c).counts) for c in campaigns]
    result: dict[str, Counts] = {}
    for campaign, reply in zip(campaigns, replies, strict=True):
        raw = await reply
        counts = {state: 0 for state in ALL_STATES}
        counts.update({k.decode(): int(v) for k, v in raw.items()})
        result[campaign] = counts
    return result


def totals(per_campaign: dict[str, Counts]) -> Counts:
    total = {state: 0 for state in ALL_STATES}
    for counts in per_campaign.values():
        for state, count in counts.items():
            total[state] = total.get(state, 0) + count
    return total


async def used_memory(redis: Redis) -> int:
    """Bytes the Redis server holds (INFO memory)."""
    info = await redis.info("memory")
    return int(str(info["used_memory"]))
