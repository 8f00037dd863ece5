"""What `dispatch status` shows of each campaign, read in one pipelined round trip: its
counts by state, its meta (status, schedule, `finished_at`) and the messages the live
daemons hold for its sending window."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.keys import Keys
from dispatch.store.campaign_meta import FINISHED_AT, CampaignMeta, decode
from dispatch.store.redis import Redis
from dispatch.store.status import Counts
from dispatch.store.waiting import fresh_total
from dispatch.vocabulary import ALL_STATES


@dataclass(frozen=True)
class CampaignView:
    counts: Counts  # every state, zeros included
    meta: CampaignMeta
    finished_at: float | None  # stamped by the retention pass (None: not yet, or off)
    held: int  # messages the live daemons hold until their window opens


async def read_views(redis: Redis, keys: Keys, campaigns: Sequence[str], now: float
                     ) -> dict[str, CampaignView]:
    """Each campaign's view; `now`: the wall clock (POSIX s), to leave out the counts of
    daemons that stopped publishing."""
    async with redis.pipeline(transaction=False) as pipe:
        replies = [(pipe.hgetall(keys.campaign(c).counts), pipe.hgetall(keys.campaign(c).meta),
                    pipe.hgetall(keys.campaign(c).waiting)) for c in campaigns]
    views: dict[str, CampaignView] = {}
    for campaign, (counts, meta, waiting) in zip(campaigns, replies, strict=True):
        raw_meta = await meta
        views[campaign] = CampaignView(_counts(await counts), decode(campaign, raw_meta),
                                       _float(raw_meta.get(FINISHED_AT.encode())),
                                       fresh_total(await waiting, now))
    return views


async def finished_marks(redis: Redis, keys: Keys, campaigns: Sequence[str]
                         ) -> dict[str, float | None]:
    """Each campaign's `finished_at` (None: not stamped), one pipelined round trip."""
    async with redis.pipeline(transaction=False) as pipe:
        replies = [pipe.hget(keys.campaign(c).meta, FINISHED_AT) for c in campaigns]
    return {campaign: _float(await reply)
            for campaign, reply in zip(campaigns, replies, strict=True)}


def _counts(raw: dict[bytes, bytes]) -> Counts:
    counts = dict.fromkeys(ALL_STATES, 0)
    counts.update({name.decode(): int(value) for name, value in raw.items()})
    return counts


def _float(value: bytes | None) -> float | None:
    return float(value) if value else None
