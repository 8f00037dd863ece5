"""What a voice campaign's calls came to: a hash per campaign, outcome -> calls ended so
(human, machine, no_answer, busy, failed, unknown), and opted_out (a 9 pressed). Every call
placed ends with one outcome, so their sum is the calls placed. Aggregates, no number:
kept by the purge, as the state counts are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatch.keys import Keys
from dispatch.store.redis import Redis

Tally = Mapping[str, Mapping[str, int]]  # campaign -> outcome -> calls


class CallCounts:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def add(self, tally: Tally) -> None:
        """One round trip for a batch of call ends."""
        if not any(tally.values()):
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for campaign, outcomes in tally.items():
                for outcome, count in outcomes.items():
                    pipe.hincrby(self._keys.campaign(campaign).calls, outcome, count)

    async def read(self, campaigns: Sequence[str]) -> dict[str, dict[str, int]]:
        """{campaign: {outcome: calls}} of the campaigns that placed calls."""
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [pipe.hgetall(self._keys.campaign(c).calls) for c in campaigns]
        found = {}
        for campaign, reply in zip(campaigns, replies, strict=True):
            raw = await reply
            if raw:
                found[campaign] = {k.decode(): int(v) for k, v in sorted(raw.items())}
        return found
