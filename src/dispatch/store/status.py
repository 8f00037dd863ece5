"""Counts of messages by state, per campaign and in total (one pipelined round trip), a
campaign's status as shown to operators, and what the Redis server says of its memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from dispatch.keys import Keys
from dispatch.model import CANCELLED
from dispatch.store.cluster import is_cluster, primaries
from dispatch.store.redis import Redis
from dispatch.vocabulary import ALL_STATES, IN_FLIGHT, QUEUED, SUBMITTED

Counts = dict[str, int]

# Shown, never stored: a campaign with nothing left to send or to hear back about.
FINISHED: Final = "finished"
# What keeps a campaign going: the rule the retention purge stamps `finished_at` by.
_PENDING: Final = (QUEUED, IN_FLIGHT, SUBMITTED)


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
    """Bytes the Redis server holds (INFO memory); a cluster's masters, added up."""
    if is_cluster(redis):
        return sum([await used_memory(node) async for node in primaries(redis)])
    info = await redis.info("memory")
    return int(str(info["used_memory"]))


def shown_status(stored: str, counts: Mapping[str, int], finished_at: float | None = None
                 ) -> str:
    """The status an operator is shown: the stored one (active, paused, cancelled), except
    "finished" for a campaign that is not cancelled and has nothing queued, in flight or
    awaiting a receipt: seen from its counts at once (the retention pass stamps
    `finished_at` later, and only when retention is on), or from `finished_at`."""
    if stored == CANCELLED:
        return stored
    nothing_left = not any(counts.get(state, 0) for state in _PENDING)
    if finished_at is not None or (nothing_left and any(counts.values())):
        return FINISHED
    return stored
