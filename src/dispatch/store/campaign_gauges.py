"""What the daemon's campaign gauges show (dispatch_campaign_messages, dispatch_queue_depth):
every campaign's counts by state and whether it is finished or purged, read in one
pipelined round trip (two when campaigns appeared since the last read)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from dispatch.keys import Keys
from dispatch.store.campaign_meta import FINISHED_AT, PURGE_STARTED_AT
from dispatch.store.redis import Redis
from dispatch.store.status import FINISHED, Counts, shown_status
from dispatch.vocabulary import ALL_STATES


@dataclass(frozen=True)
class CampaignGauge:
    counts: Counts  # every state, zeros included
    finished: bool  # nothing queued, in flight or awaiting a receipt (not a new campaign)
    finished_long_ago: bool  # and the retention pass saw it so (`finished_at`)
    purged: bool  # its purge started: nothing of it will move again


class CampaignGauges:
    """Reads for the gauges, remembering the campaigns known, so that a read is one round
    trip: the set of campaigns and the counts of those known at the last read go together
    (a campaign that appeared is read at once, in a second round trip)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._known: list[str] = []

    async def read(self) -> dict[str, CampaignGauge]:
        known = self._known
        async with self._redis.pipeline(transaction=False) as pipe:
            members = pipe.smembers(self._keys.campaigns)
            replies = [(pipe.hgetall(self._counts(c)), pipe.hmget(self._meta(c), MARKS))
                       for c in known]
        ids = sorted(member.decode() for member in await members)
        gauges = {c: _gauge(await counts, await marks)
                  for c, (counts, marks) in zip(known, replies, strict=True)}
        if new := [c for c in ids if c not in gauges]:
            async with self._redis.pipeline(transaction=False) as pipe:
                replies = [(pipe.hgetall(self._counts(c)), pipe.hmget(self._meta(c), MARKS))
                           for c in new]
            gauges.update({c: _gauge(await counts, await marks)
                           for c, (counts, marks) in zip(new, replies, strict=True)})
        self._known = ids
        return {c: gauges[c] for c in ids}

    def _counts(self, campaign: str) -> str:
        return self._keys.campaign(campaign).counts

    def _meta(self, campaign: str) -> str:
        return self._keys.campaign(campaign).meta


MARKS = [FINISHED_AT, PURGE_STARTED_AT]


def _gauge(raw: Mapping[bytes, bytes], marks: Sequence[bytes | None]) -> CampaignGauge:
    finished_at, purge_started_at = marks
    counts = dict.fromkeys(ALL_STATES, 0)
    counts.update({name.decode(): int(value) for name, value in raw.items()})
    # The rule `dispatch status` shows "finished" by (a cancelled campaign too, once
    # nothing of it is left pending).
    finished = shown_status("", counts) == FINISHED
    return CampaignGauge(counts, finished, finished and finished_at is not None,
                         purge_started_at is not None)
