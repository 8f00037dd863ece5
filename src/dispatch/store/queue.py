"""The daemon's side of the queue: batch reads, admits, records, receipts and claims.

Every method is one Redis round trip for a whole batch (a Lua script or one stream
command), never one per message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import trio

from dispatch.keys import GROUP, CampaignKeys, Keys
from dispatch.store.answers import Answer, AnswerStore
from dispatch.store.cluster import is_cluster
from dispatch.store.cluster_link import ClusterScriptLink
from dispatch.store.entries import ENTRY_FIELD, Entry, dead_letter, field_value
from dispatch.store.optout import OptOutStore
from dispatch.store.receipts import (
    MAP_MARGIN_H,
    ORPHAN_CAP,
    ReceiptMaps,
    Receipts,
    RecordedReceipts,
    hour_number,
    into_hour_ds,
)
from dispatch.store.redis import Redis
from dispatch.store.replication import NO_WAIT, Replication
from dispatch.store.script_link import ScriptLink
from dispatch.store.scripts import CommandLink, ScriptHost, load_script, packed
from dispatch.vocabulary import InboundMessage, Outcome, StateCode

# In a Redis Cluster, how long one read of several campaigns waits for new entries at
# most (`Queue._read_each`): entries of an idle daemon wait this long at worst.
CLUSTER_BLOCK_MS = 100
# ... and how many of its reads go out at once (each holds a connection while it waits).
CLUSTER_READS_AT_ONCE = 32
# States (as HGET gives them) of a number no message of the campaign reached.
_NEVER_SENT = (None, StateCode.QUEUED.encode(), StateCode.SUPPRESSED.encode())


class Queue:
    def __init__(self, redis: Redis, keys: Keys, consumer: str, *,
                 receipt_timeout_h: int = 48, clock: Callable[[], float] = time.time,
                 scripts: ScriptHost | None = None, reads: CommandLink | None = None,
                 orphan_cap: int = ORPHAN_CAP,
                 replication: Replication = NO_WAIT) -> None:
        """`scripts`: where the per-batch scripts go (default: `redis`); the daemon gives
        its script link, far cheaper per call than coredis. `reads`: where `read_new`
        reads (default: `redis`); the daemon gives a link of its own, whose replies cost
        a tenth of coredis' per entry (on a cluster, for the reads that find entries at
        once: `_read_routed`)."""
        self._redis = redis
        self._keys = keys
        self.consumer = consumer
        self.receipt_timeout_h = receipt_timeout_h
        self._clock = clock  # wall clock: receipt maps are named by the hour
        self._reads = reads
        self._replication = replication
        # WAIT on the connection the scripts write on (coredis: the replicas' offsets).
        # Not on a cluster's link (store/cluster_link.py), which writes to every master
        # over a connection each and does not keep which ones a batch wrote to: there
        # `replication` writes a marker on every master through coredis and waits for each
        # (a master replicates in order: its marker comes after the link's writes).
        self._written_on = scripts if isinstance(scripts, ScriptLink) else None
        host: ScriptHost = scripts or redis
        self.optouts = OptOutStore(redis, keys, scripts=host)
        self.answers = AnswerStore(redis, keys, consumer)
        self._admit = host.register_script(load_script("admit", states=True))
        self._record = host.register_script(load_script("record", states=True))
        self.receipts = Receipts(keys, host, orphan_cap)

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
        if isinstance(self._reads, ClusterScriptLink):
            return (await self._read_routed(self._reads, campaign_of, count)
                    or await self._read_waiting(campaign_of, count, block_ms))
        if self._reads is not None:
            return _read_entries(campaign_of, await self._reads.command(
                ["XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", count,
                 "BLOCK", block_ms, "STREAMS", *streams, *[">"] * len(streams)],
                blocks_s=block_ms / 1000))
        if is_cluster(self._redis) and len(streams) > 1:
            return await self._read_each(campaign_of, count, block_ms)
        return await self._read(campaign_of, list(streams), count, block_ms)

    async def _read(self, campaign_of: Mapping[bytes, str], streams: list[str],
                    count: int, block_ms: int | None) -> list[Entry]:
        reply = await self._redis.xreadgroup(
            GROUP, self.consumer, streams=dict.fromkeys(streams, ">"), count=count,
            block=block_ms)
        return [_entry(campaign_of[key], entry)
                for key, entries in (reply or {}).items() for entry in entries]

    async def _read_routed(self, link: ClusterScriptLink, campaign_of: Mapping[bytes, str],
                           count: int) -> list[Entry]:
        """In a Redis Cluster, over the daemon's link: one read per stream (a command may
        name keys of one slot only), side by side, none waiting (a blocking read would
        hold its master's connection, the other streams' reads queued behind it)."""
        found: list[Entry] = []

        async def read_one(stream: bytes) -> None:
            found.extend(_read_entries(campaign_of, await link.command(
                ["XREADGROUP", "GROUP", GROUP, self.consumer, "COUNT", count,
                 "STREAMS", stream, ">"], key=stream)))

        if len(campaign_of) == 1:  # the common case, without a nursery's tasks
            await read_one(next(iter(campaign_of)))
            return found
        async with trio.open_nursery() as nursery:
            for stream in campaign_of:
                nursery.start_soon(read_one, stream)
        return found

    async def _read_waiting(self, campaign_of: Mapping[bytes, str], count: int,
                            block_ms: int) -> list[Entry]:
        """In a Redis Cluster, once `_read_routed` found nothing: waiting for entries
        through coredis (a connection per read)."""
        if len(campaign_of) == 1:
            return await self._read(campaign_of, [key.decode() for key in campaign_of],
                                    count, block_ms)
        return await self._read_each(campaign_of, count, block_ms, wait_first=True)

    async def _read_each(self, campaign_of: Mapping[bytes, str], count: int, block_ms: int,
                         *, wait_first: bool = False) -> list[Entry]:
        """In a Redis Cluster, one read per stream (each campaign has its own slot, and a
        command may name keys of one slot only), side by side: first without waiting
        (unless `wait_first`: just done otherwise); when none had anything, waiting at
        most CLUSTER_BLOCK_MS, and returning once every read has answered (a read is
        never cancelled: what it took is pending for this consumer)."""
        at_once = trio.CapacityLimiter(CLUSTER_READS_AT_ONCE)
        passes = (None, min(block_ms, CLUSTER_BLOCK_MS))
        for block in passes[1:] if wait_first else passes:
            found: list[Entry] = []

            async def read_one(stream: bytes, block: int | None = block,
                               found: list[Entry] = found) -> None:
                async with at_once:
                    found += await self._read(campaign_of, [stream.decode()], count, block)

            async with trio.open_nursery() as nursery:
                for stream in campaign_of:
                    nursery.start_soon(read_one, stream)
            if found:
                return found
        return []

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

    async def admit(self, campaign: str, items: Sequence[tuple[bytes, str]]) -> list[bool]:
        """Mark messages in flight before sending; False: nothing to send (acked). Opt-outs
        are the senders' last check's (admit.lua says why)."""
        keys = self._keys.campaign(campaign)
        flat: list[Any] = []
        for entry_id, number in items:
            flat += (entry_id, number)
        flags: list[int] = await self._admit(keys=[keys.state, keys.counts, keys.stream],
                                             args=[GROUP, packed(flat)])
        return [flag == 1 for flag in flags]

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        """Keep an unreadable entry in the dead-letter list, with why, then ack it: it must
        not loop. Not one transaction (the list and the stream are in two cluster slots):
        a crash between the two leaves the entry pending, read again, dead-lettered twice
        (the purge drops both copies)."""
        stream = self._keys.campaign(entry.campaign).stream
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(self._keys.dead_letters, [dead_letter(entry, reason)])
            pipe.xack(stream, GROUP, [entry.entry_id])

    async def record(self, campaign: str, outcomes: Sequence[Outcome]) -> list[int]:
        """Record outcomes and ack them: [submitted, ended otherwise, receipts adopted].
        The submissions' receipt correlations are written first (store/receipts.py)."""
        keys = self._keys.campaign(campaign)
        flat: list[Any] = []
        submitted: list[tuple[str, str]] = []
        for outcome in outcomes:
            flat += (outcome.entry_id, outcome.number, outcome.code, outcome.detail)
            if outcome.code == StateCode.SUBMITTED:
                submitted.append((outcome.detail, outcome.number))
        early: list[Any] = []
        if submitted:
            now = self._clock()
            hour = hour_number(now)
            # The batch's acceptance time goes with each correlation (to the decisecond,
            # within its map's hour: a few bytes), so that the receipt tells its latency.
            early = await self.receipts.expect(
                campaign, submitted, self._keys.receipt_map(hour),
                (self.receipt_timeout_h + MAP_MARGIN_H) * 3600, into_hour_ds(now, hour))
        result = list(await self._record(keys=_record_keys(keys),
                                         args=[GROUP, packed(flat), packed(early)]))
        if early:
            await self.receipts.forget_orphans(early[::3])
        return result

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
        """Final receipts applied to their messages (Receipts.record)."""
        return await self.receipts.record(receipts, maps, park=park,
                                          age_bounds_s=age_bounds_s)

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
