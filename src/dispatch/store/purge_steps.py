"""The steps of a campaign purge after its state hash was renamed `purging` (see purge.py).

`purging` is the list of the campaign's numbers: every step asks it which numbers (or
entries) are the campaign's, a chunk at a time — a campaign may hold a million numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coredis.tokens import PureToken

from dispatch import phone
from dispatch.keys import GROUP, Keys
from dispatch.store.campaign_meta import MetaStore
from dispatch.store.entries import dead_letter_campaign
from dispatch.store.globs import glob_escape
from dispatch.store.optout import OptOutStore
from dispatch.store.redis import Redis
from dispatch.store.shared_streams import Entry, StreamRewriter, scan_stream

CHUNK = 1000
# enqueue.lua files a reservation under the first 3 hex digits of the number's keyed hash.
RESERVATION_BUCKETS = [f"{b:03x}" for b in range(16**3)]


class PurgeSteps:
    def __init__(self, redis: Redis, keys: Keys, campaign_id: str, region: str) -> None:
        self._redis = redis
        self._keys = keys
        self._campaign = campaign_id
        self._ckeys = keys.campaign(campaign_id)
        self._purging = keys.purging(campaign_id)
        self._optouts = OptOutStore(redis, keys)
        self._meta = MetaStore(redis, keys)
        self._rewriter = StreamRewriter(redis, keys)
        self._normalise = phone.normaliser(region)

    async def empty_stream(self) -> None:
        """Every queued body gone; the key and its group stay (daemons read it)."""
        stream = self._ckeys.stream
        if not await self._redis.exists([stream]):
            return
        await self._redis.xtrim(stream, trim_strategy=PureToken.MAXLEN, threshold=0,
                                trim_operator=PureToken.EQUAL)
        while True:
            pending: Any = await self._redis.xpending(stream, GROUP, "-", "+", CHUNK)
            if not pending:
                return
            await self._redis.xack(stream, GROUP, [entry.identifier for entry in pending])

    async def drop_replies(self) -> int:
        """Inbound messages from the campaign's numbers, however their sender was written."""
        dropped: list[str] = []
        async for chunk in scan_stream(self._redis, self._keys.inbound):
            dropped += await self._held_entries(chunk, "source", normalise=True)
        await self._rewriter.drop(self._keys.inbound, dropped)
        return len(dropped)

    async def drop_answers(self) -> int:
        """The numbers of answers not yet sent to the campaign's numbers (their entries,
        without a number, are then logged failed by the answerer that reads them)."""
        tokens: list[str] = []
        async for token, number in self._redis.hscan_iter(self._keys.answer_numbers,
                                                          count=CHUNK):
            e164 = self._number(number.decode(), normalise=True)
            if e164 is not None and await self._redis.hexists(self._purging, e164):
                tokens.append(token.decode())
        for start in range(0, len(tokens), CHUNK):
            await self._redis.hdel(self._keys.answer_numbers, tokens[start:start + CHUNK])
        return len(tokens)

    async def redact_audit(self) -> int:
        """Opt-out audit entries of the campaign's numbers: number -> its keyed hash."""
        redacted: list[str] = []
        async for chunk in scan_stream(self._redis, self._keys.optout_audit):
            redacted += await self._held_entries(chunk, "number", normalise=False)
        await self._rewriter.redact(self._keys.optout_audit, redacted, "number",
                                    await self._optouts.secret())
        return len(redacted)

    async def clear_optouts(self) -> int:
        """Clear opt-out entries of the campaign's numbers (the scope sets keep the
        hashes: the objection still holds)."""
        cleared, cursor = 0, 0
        while True:
            cursor, chunk = await self._redis.hscan(self._purging, cursor, count=CHUNK)
            numbers = list(chunk)
            if numbers:
                found = await self._redis.hmget(self._keys.optout_numbers, numbers)
                opted = [n for n, raw in zip(numbers, found, strict=True) if raw is not None]
                if opted:
                    cleared += await self._redis.hdel(self._keys.optout_numbers, opted)
            if not cursor:
                return cleared

    async def drop_receipts(self) -> int:
        """The campaign's correlations in every receipt map ("campaign<TAB>number")."""
        pattern = glob_escape(self._keys.receipt_map(0).removesuffix("0")) + "[0-9]*"
        mine = f"{self._campaign}\t".encode()
        dropped = 0
        async for map_key in self._redis.scan_iter(match=pattern, count=CHUNK):
            gateway_ids = [gateway_id async for gateway_id, target
                           in self._redis.hscan_iter(map_key, count=CHUNK)
                           if target.startswith(mine)]
            for start in range(0, len(gateway_ids), CHUNK):
                dropped += await self._redis.hdel(map_key, gateway_ids[start:start + CHUNK])
        return dropped

    async def drop_dead_letters(self) -> int:
        """Dead letters of the campaign: msgpack [campaign, entry id, payload, reason]."""
        key, mine = self._keys.dead_letters, self._campaign
        records: list[bytes] = []
        start = 0
        while chunk := await self._redis.lrange(key, start, start + CHUNK - 1):
            records += [raw for raw in chunk if dead_letter_campaign(raw) == mine]
            start += CHUNK
        for raw in set(records):
            await self._redis.lrem(key, 0, raw)
        return len(records)

    async def delete_keys(self) -> None:
        """Failure reasons, consent records and texts, then the list of numbers itself."""
        meta = await self._meta.read(self._campaign)
        buckets = [self._keys.consent_bucket(self._campaign, b)
                   for b in range(meta.consent_buckets)]
        for start in range(0, len(buckets), CHUNK):
            await self._redis.unlink(buckets[start:start + CHUNK])
        await self._redis.unlink([self._ckeys.errors, self._keys.consent_texts(self._campaign),
                                  self._ckeys.state, self._purging])

    async def release_election(self) -> None:
        """Delete the election's reservations once no unpurged campaign of it is left."""
        election = (await self._meta.read(self._campaign)).election
        if not election:
            return
        others = [c for c in await self._meta.campaign_ids() if c != self._campaign]
        for other in await self._meta.read_many(others):
            if other.election == election and other.purge_started_at is None:
                return
        buckets = [self._keys.reservation_bucket(election, b) for b in RESERVATION_BUCKETS]
        for start in range(0, len(buckets), CHUNK):
            await self._redis.unlink(buckets[start:start + CHUNK])

    async def _held_entries(self, chunk: Sequence[Entry], field: str, *, normalise: bool
                            ) -> list[str]:
        """Ids of the entries whose `field` is one of the campaign's numbers."""
        numbers = [self._number(fields.get(field, ""), normalise) for _, fields in chunk]
        wanted = [(entry_id, n) for (entry_id, _), n in zip(chunk, numbers, strict=True) if n]
        if not wanted:
            return []
        held = await self._redis.hmget(self._purging, [n for _, n in wanted])
        return [entry_id for (entry_id, _), state in zip(wanted, held, strict=True)
                if state is not None]

    def _number(self, value: str, normalise: bool) -> str | None:
        if not value or value.startswith("hash:"):
            return None
        if not normalise:
            return value
        e164, _ = self._normalise(value)
        return e164
