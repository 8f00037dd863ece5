"""The daemon's side of the queue: batch reads, admits, records, receipts and claims.

Every method is one Redis round trip for a whole batch (a Lua script or one stream
command), never one per message.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dispatch.keys import GROUP, CampaignKeys, Keys
from dispatch.store.answers import Answer, AnswerStore
from dispatch.store.entries import ENTRY_FIELD, Entry, dead_letter, field_value
from dispatch.store.optout import OptOutStore, scopes_for_sender
from dispatch.store.redis import Redis
from dispatch.store.replication import NO_WAIT, Replication
from dispatch.store.script_link import ScriptLink
from dispatch.store.scripts import CommandLink, ScriptHost, load_script, packed
from dispatch.vocabulary import InboundMessage, Outcome, StateCode

# A receipt map outlives the receipt timeout by this much, so the sweeper finds it.
MAP_MARGIN_H = 24
ORPHAN_TTL_S = 3 * 86400
# Receipts for unknown ids parked at most (daemon.orphan_receipt_cap): forged ones grew
# Redis by ~100 bytes each, without end.
ORPHAN_CAP = 100_000
# States (as HGET gives them) of a number no message of the campaign reached.
_NEVER_SENT = (None, StateCode.QUEUED.encode(), StateCode.SUPPRESSED.encode())


def hour_number(now: float) -> int:
    return int(now // 3600)


def into_hour_ds(now: float, hour: int) -> int:
    """Deciseconds from the start of `hour` to `now`: how the receipt maps stamp times."""
    return int((now - hour * 3600) * 10)


@dataclass(frozen=True)
class ReceiptMaps:
    """Where a receipt's correlation may be: the receipt maps, newest hour first, one hour
    apart; and when they are looked in (deciseconds since the newest hour began; None: the
    receipts' ages are not wanted, e.g. the sweeper's expiries)."""

    keys: list[str]
    now_ds: int | None = None


@dataclass(frozen=True)
class AgeCounts:
    """The ages (submission to final receipt) of a campaign's receipts recorded in one
    call: their sum in seconds and a count per bucket (each bound given, then above)."""

    sum_s: float
    buckets: list[int]


@dataclass(frozen=True)
class RecordedReceipts:
    counts: list[int]  # delivered, failed, expired, repeated (already final), parked
    ages: dict[str, AgeCounts] = field(default_factory=dict)  # by campaign
    dropped: int = 0  # unknown, not parked: the orphans hash was full


class Queue:
    def __init__(self, redis: Redis, keys: Keys, consumer: str, *,
                 receipt_timeout_h: int = 48, clock: Callable[[], float] = time.time,
                 scripts: ScriptHost | None = None, reads: CommandLink | None = None,
                 orphan_cap: int = ORPHAN_CAP,
                 replication: Replication = NO_WAIT) -> None:
        """`scripts`: where the per-batch scripts go (default: `redis`); the daemon gives
        its script link, far cheaper per call than coredis. `reads`: where `read_new`
        reads (default: `redis`); the daemon gives a link of its own, whose replies cost
        a tenth of coredis' per entry."""
        self._redis = redis
        self._keys = keys
        self.consumer = consumer
        self.receipt_timeout_h = receipt_timeout_h
        self.orphan_cap = orphan_cap
        self._clock = clock  # wall clock: receipt maps are named by the hour
        self._reads = reads
        self._replication = replication
        # WAIT on the connection the scripts write on (coredis: the replicas' offsets).
        self._written_on = scripts if isinstance(scripts, ScriptLink) else None
        host: ScriptHost = scripts or redis
        self.optouts = OptOutStore(redis, keys, scripts=host)
        self.answers = AnswerStore(redis, keys, consumer)
        self._admit = host.register_script(load_script("admit", states=True))
        self._record = host.register_script(load_script("record", states=True))
        self._record_receipts = host.register_script(load_script("receipt_record", states=True))

    async def replicated(self) -> None:
        """Return once the replicas `replication` asks for have the writes made so far
        (ReplicasBehind, transient, when not in time): before acknowledging receipts and
        replies to the gateway that sent them."""
        await self._replication.confirmed(self._redis, self._keys.replication_marker,
                                          self._written_on)

    async def read_new(self, campaigns: Sequence[str], count: int, block_ms: int
                       ) -> list[Entry]:
        """Up to `count` new entries of each campaign's stream, blocking a while."""
        if not campaigns:
            return []
        streams = [self._keys.campaign(campaign).stream for campaign in campaigns]
        campaign_of = {key.encode(): c for c, key in zip(campaigns, streams, strict=True)}
        if self._reads is not None:
            return _read_entries(campaign_of, await self._reads.command(
                ["XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", count,
                 "BLOCK", block_ms, "STREAMS", *streams, *[">"] * len(streams)],
                blocks_s=block_ms / 1000))
        reply = await self._redis.xreadgroup(
            GROUP, self.consumer, streams=dict.fromkeys(streams, ">"), count=count,
            block=block_ms)
        return [_entry(campaign_of[key], entry)
                for key, entries in (reply or {}).items() for entry in entries]

    async def read_pending(self, campaign: str, after: bytes, count: int) -> list[Entry]:
        """This consumer's own pending entries after id `after` (a previous run's work)."""
        stream = self._keys.campaign(campaign).stream
        reply = await self._redis.xreadgroup(GROUP, self.consumer, streams={stream: after},
                                             count=count)
        return [_entry(campaign, entry) for entries in (reply or {}).values() for entry in entries]

    async def claim_stale(self, campaign: str, min_idle_ms: int, count: int) -> list[Entry]:
        """Take over entries left pending by consumers idle this long (dead daemons)."""
        stream = self._keys.campaign(campaign).stream
        reply: Any = await self._redis.xautoclaim(stream, GROUP, self.consumer, min_idle_ms,
                                                  "0-0", count=count)
        return [_entry(campaign, entry) for entry in reply[1] if entry is not None]

    async def renew(self, campaign: str, entry_ids: Sequence[bytes]) -> None:
        """Reset the idle time of entries this daemon still holds (retries waiting)."""
        if entry_ids:
            stream = self._keys.campaign(campaign).stream
            await self._redis.xclaim(stream, GROUP, self.consumer, 0, list(entry_ids),
                                     justid=True)

    async def admit(self, campaign: str, sender: str, items: Sequence[tuple[bytes, str]]
                    ) -> list[bool]:
        """Mark messages in flight before sending; False: nothing to send (acked). A number
        that opted out (for every line, or for `sender`) since it was queued is suppressed."""
        keys = self._keys.campaign(campaign)
        flat: list[Any] = []
        for entry_id, number in items:
            flat += (entry_id, number)
        args: list[Any] = [GROUP, await self.optouts.secret(), packed(flat)]
        optout_keys = self.optouts.scope_keys(scopes_for_sender(sender))
        flags: list[int] = await self._admit(
            keys=[keys.state, keys.counts, keys.stream, *optout_keys], args=args)
        return [flag == 1 for flag in flags]

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        """Keep an unreadable entry in the dead-letter list, with why, then ack it (one
        transaction): it must not loop."""
        stream = self._keys.campaign(entry.campaign).stream
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self._keys.dead_letters, [dead_letter(entry, reason)])
            pipe.xack(stream, GROUP, [entry.entry_id])

    async def record(self, campaign: str, outcomes: Sequence[Outcome]) -> list[int]:
        """Record outcomes and ack them: [submitted, ended otherwise, receipts adopted]."""
        keys = self._keys.campaign(campaign)
        map_ttl_s = (self.receipt_timeout_h + MAP_MARGIN_H) * 3600
        flat: list[Any] = []
        for outcome in outcomes:
            flat += (outcome.entry_id, outcome.number, outcome.code, outcome.detail)
        now = self._clock()
        hour = hour_number(now)
        # The batch's acceptance time goes with each correlation (to the decisecond, within
        # its map's hour: a few bytes), so that the receipt tells its latency.
        args: list[Any] = [GROUP, campaign, map_ttl_s, packed(flat), into_hour_ds(now, hour)]
        this_hour = self._keys.receipt_map(hour)
        return list(await self._record(
            keys=[*_record_keys(keys), this_hour, self._keys.orphan_receipts], args=args))

    def receipt_maps(self) -> ReceiptMaps:
        """Every receipt map a live correlation can be in, newest first (most receipts come
        within minutes, so a lookup usually stops at the first), and now. Give them to
        `record_receipts` (a retry too: the ages stay those of the first try)."""
        now = self._clock()
        hour = hour_number(now)
        return ReceiptMaps([self._keys.receipt_map(hour - back)
                            for back in range(self.receipt_timeout_h + 1)],
                           into_hour_ds(now, hour))

    async def record_receipts(self, receipts: Sequence[tuple[str, str, str]],
                              maps: ReceiptMaps, *, park: bool = True,
                              age_bounds_s: Sequence[float] = ()) -> RecordedReceipts:
        """Final receipts (gateway id, code, reason) applied to their messages, whatever
        their campaigns, in one round trip; unknown ones parked until their submission is
        recorded, while fewer than `orphan_cap` are (beyond: counted dropped), or skipped
        (`park=False`). With `age_bounds_s` (ascending) and maps that
        say when (`now_ds`), the ages of the receipts applied are counted per campaign, in
        Redis: nothing per receipt comes back."""
        flat: list[str] = []
        for receipt in receipts:
            flat += receipt
        args: list[Any] = [ORPHAN_TTL_S, self._keys.campaign_head,
                           self.orphan_cap if park else 0, packed(flat)]
        timed = maps.now_ds is not None and bool(age_bounds_s)
        if timed:
            args += [maps.now_ds, _packed_bounds(tuple(age_bounds_s))]
        reply = await self._record_receipts(
            keys=[self._keys.orphan_receipts, *maps.keys], args=args)
        return RecordedReceipts([int(count) for count in reply[:5]],
                                _ages(reply[5], len(age_bounds_s)) if timed else {},
                                int(reply[6]))

    def overdue_maps(self) -> list[str]:
        """Receipt maps older than the receipt timeout that may still exist."""
        overdue = hour_number(self._clock()) - self.receipt_timeout_h - 1
        return [self._keys.receipt_map(hour)
                for hour in range(overdue - MAP_MARGIN_H, overdue + 1)]

    async def scan_map(self, map_key: str, cursor: int, count: int
                       ) -> tuple[int, list[tuple[str, str, str]]]:
        """A chunk of a receipt map: (next cursor, [(gateway id, campaign, number)])."""
        next_cursor, chunk = await self._redis.hscan(map_key, cursor, count=count)
        rows = []
        for gateway_id, target in chunk.items():
            # "campaign<TAB>number", and "<TAB>submission time" when stamped (record.lua)
            campaign, number = target.decode().split("\t")[:2]
            rows.append((gateway_id.decode(), campaign, number))
        return int(next_cursor), rows

    async def drop_map(self, map_key: str) -> None:
        await self._redis.delete([map_key])

    async def store_inbound(self, messages: Sequence[InboundMessage],
                            intents: Sequence[str], answers: Sequence[Answer] = ()) -> None:
        """Append replies (and what they were taken for) to the inbound stream, and the
        answers they get (HELP) to the answers stream, in one transaction."""
        received_at = f"{time.time():.3f}"
        async with self._redis.pipeline(transaction=bool(answers)) as pipe:
            for message, intent in zip(messages, intents, strict=True):
                pipe.xadd(self._keys.inbound, {
                    "source": message.source, "destination": message.destination,
                    "text": message.text, "gateway": message.gateway, "intent": intent,
                    "received_at": received_at})
            self.answers.queue(pipe, answers)

    async def campaigns_with(self, number: str, campaigns: Sequence[str]) -> list[str]:
        """The campaigns among `campaigns` that sent (or tried to send) to `number`."""
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [pipe.hget(self._keys.campaign(c).state, number) for c in campaigns]
        states = [await reply for reply in replies]
        return [c for c, state in zip(campaigns, states, strict=True)
                if state not in _NEVER_SENT]



@functools.cache
def _packed_bounds(bounds_s: tuple[float, ...]) -> bytes:
    """Age bounds as receipt_record.lua takes them: deciseconds, one packed argument."""
    return packed([round(bound * 10) for bound in bounds_s])


def _ages(flat: Any, bounds: int) -> dict[str, AgeCounts]:
    """receipt_record.lua's ages: per campaign its id, the sum (ds), then bounds + 1
    bucket counts."""
    ages: dict[str, AgeCounts] = {}
    row = bounds + 3
    for start in range(0, len(flat), row):
        campaign = flat[start]
        ages[campaign.decode() if isinstance(campaign, bytes) else str(campaign)] = AgeCounts(
            int(flat[start + 1]) / 10, [int(n) for n in flat[start + 2:start + row]])
    return ages


def _record_keys(keys: CampaignKeys) -> list[str]:
    return [keys.state, keys.counts, keys.stream, keys.errors]


def _read_entries(campaign_of: Mapping[bytes, str], reply: Any) -> list[Entry]:
    """From an XREADGROUP reply as RESP2 has it: nil, or [[stream, [[id, fields]...]]...]
    where fields is [name, value, ...]."""
    return [Entry(campaign_of[stream], entry_id, field_value(fields))
            for stream, entries in reply or () for entry_id, fields in entries]


def _entry(campaign: str, entry: Any) -> Entry:
    """From coredis' StreamEntry; fields are None for an entry deleted while pending."""
    fields = entry.field_values
    return Entry(campaign, entry.identifier, fields.get(ENTRY_FIELD) if fields else None)
