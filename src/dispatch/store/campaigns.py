"""Campaigns in Redis: creating one (meta, consumer group, index) and queueing batches.

The layout is the contract the daemon reads (see keys.py): the meta hash
(campaign_meta.py), the state hash as dedupe set, one stream entry per queued message
(entries.py), the consent records of the numbers queued or recorded suppressed
(consent_records.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coredis.exceptions import ResponseError, StreamDuplicateConsumerGroupError

from dispatch.consent import Consent
from dispatch.keys import GROUP, Keys
from dispatch.model import CANCELLED
from dispatch.policy.calls import CallPolicy
from dispatch.store.campaign_meta import (
    CHANNEL,
    CLIENT,
    CONSENT_BUCKETS,
    CONSENT_REQUIRED,
    CREATED_AT,
    DEADLINE,
    ELECTION,
    GATEWAY,
    POOL,
    SENDER_IDENTITY,
    STATUS,
    TEXT,
    WINDOW,
    MetaStore,
    creation_fields,
)
from dispatch.store.consent_records import ConsentRecords
from dispatch.store.optout import OptOutStore, keyed_hash, scopes_for_sender
from dispatch.store.redis import Redis
from dispatch.store.replication import NO_WAIT, Replication
from dispatch.store.scripts import load_script, packed
from dispatch.vocabulary import StateCode


class CampaignConflict(Exception):
    """The campaign exists with another text, gateway, consent rule or client, or it was
    purged; the message names which."""


@dataclass(frozen=True)
class CampaignSpec:
    campaign_id: str
    text: str
    placeholders: tuple[str, ...]
    gateway: str
    sender: str = ""  # the gateway's sender identity: opt-outs of its line apply
    # When it may be sent (read by the daemon's SendPolicy): "" = the channel's default.
    window: str = ""  # parse_window spec, or "always"
    deadline: str = ""  # parse_deadline spec (an election: 00:00 local, the day before)
    consent_required: bool = True  # rows without a consent source and date are rejected
    client: str = ""  # with `election` (both or neither): exclusivity
    election: str = ""
    sender_identity: str = ""  # the party or candidate the text was checked to name
    # Lint refusals an operator overrode for this text (dispatch.policy.lint codes).
    lint_overrides: tuple[str, ...] = ()
    pool: str = ""  # the pool of lines it goes out on; "": the gateway's `sender`
    channel: str = "sms"  # or "voice": a call per message, `text` read aloud
    preamble: str = ""  # voice: read first (who calls, "tapez 9")
    audio_url: str = ""  # voice: the recording, instead of reading `text`
    calls: CallPolicy | None = None  # voice: what a call's end leads to


@dataclass(frozen=True, slots=True)
class QueueItem:
    number: str  # E.164
    payload: bytes  # the stream entry's (entries.py): what the daemon reads
    consent: Consent


@dataclass(frozen=True, slots=True)
class BatchResult:
    accepted: int
    duplicates: int
    suppressed: int
    excluded: int  # reserved by another client for the same election


@dataclass(frozen=True)
class RunTotals:
    """What one enqueue run did, added to the campaign's running totals."""

    rows: int
    accepted: int
    duplicates: int
    rejected: int
    suppressed: int = 0
    excluded: int = 0


class CampaignStore:
    def __init__(self, redis: Redis, keys: Keys,
                 replication: Replication = NO_WAIT) -> None:
        self._redis = redis
        self._replication = replication
        self._keys = keys
        self._optouts = OptOutStore(redis, keys)
        self._consent_records: dict[str, ConsentRecords] = {}
        self._meta = MetaStore(redis, keys)
        self._enqueue = redis.register_script(load_script("enqueue", states=True))
        self._reserve = redis.register_script(load_script("reserve"))

    async def ensure(self, spec: CampaignSpec, now: float, consent_buckets: int = 1) -> int:
        """Create the campaign, or check that the existing one has the same text, gateway,
        consent rule, client and election; returns its number of consent buckets
        (`consent_buckets` if this call creates it). A purged campaign is refused.

        The consumer group exists before any message, and the campaign is listed only after.
        """
        keys = self._keys.campaign(spec.campaign_id)
        buckets = await self._create_meta(spec, now, consent_buckets)
        with contextlib.suppress(StreamDuplicateConsumerGroupError):  # a re-run
            await self._redis.xgroup_create(keys.stream, GROUP, identifier="0", mkstream=True)
        await self._redis.sadd(self._keys.campaigns, [spec.campaign_id])
        return buckets

    async def replicated(self) -> None:
        """Return once the replicas `replication` asks for have what was enqueued so far
        (ReplicasBehind, transient, when not in time): before a batch counts as queued."""
        await self._replication.confirmed(self._redis, self._keys.replication_marker)

    async def enqueue_batch(self, spec: CampaignSpec, buckets: int,
                            items: Sequence[QueueItem]) -> BatchResult:
        """Queue the items with their consent records, leaving out numbers that opted out
        for the campaign's sender and, with exclusivity, numbers another client reserved
        for the election (the numbers queued are reserved). One call for each group of
        keys (keys.py): the opt-out sets, the election's reservations, the campaign."""
        records = await self._consents(spec.campaign_id).records(
            [item.consent for item in items])
        found = await self._found(spec, [item.number for item in items])
        rows: list[str | bytes] = []
        for item, record, what in zip(items, records, found, strict=True):
            rows += (item.number, item.payload, record, what)
        args: list[str | bytes | int] = [StateCode.QUEUED, buckets, packed(rows)]
        try:
            result: Any = await self._enqueue(keys=self._batch_keys(spec), args=args)
        except ResponseError as exc:
            if str(exc).startswith("PURGED"):
                raise CampaignConflict(_purged(spec.campaign_id)) from None
            raise
        return BatchResult(*(int(value) for value in result))

    async def _found(self, spec: CampaignSpec, numbers: Sequence[str]) -> list[str]:
        """Per number, what enqueue.lua is told: "p" opted out for the campaign's sender,
        "x" reserved for another client in the campaign's election, "" neither. A number
        not opted out is reserved for the campaign's client here, whether it is then
        queued or found a duplicate (it was reserved when first queued)."""
        secret = await self._optouts.secret()
        hashes = [keyed_hash(secret, number) for number in numbers]
        opted = await self._optouts.holding(hashes, scopes_for_sender(spec.sender))
        found = ["p" if out else "" for out in opted]
        free = [index for index, out in enumerate(opted) if not out]
        if spec.client and free:
            mine: list[int] = await self._reserve(
                keys=[self._keys.reservation_prefix(spec.election)],
                args=[spec.client, packed([hashes[index] for index in free])])
            for index, flag in zip(free, mine, strict=True):
                if flag != 1:
                    found[index] = "x"
        return found

    async def add_totals(self, campaign_id: str, totals: RunTotals) -> None:
        await self._meta.add_totals(campaign_id, dataclasses.asdict(totals))

    def _consents(self, campaign_id: str) -> ConsentRecords:
        found = self._consent_records.get(campaign_id)
        if found is None:
            found = self._consent_records[campaign_id] = ConsentRecords(
                self._redis, self._keys, campaign_id)
        return found

    def _batch_keys(self, spec: CampaignSpec) -> list[str]:
        """The KEYS of enqueue.lua, in its order."""
        keys = self._keys.campaign(spec.campaign_id)
        return [keys.state, keys.stream, keys.counts, keys.meta,
                self._keys.consent_bucket_prefix(spec.campaign_id)]

    async def _create_meta(self, spec: CampaignSpec, now: float, consent_buckets: int
                           ) -> int:
        if await self._meta.purge_started(spec.campaign_id):
            raise CampaignConflict(_purged(spec.campaign_id))
        # Refused before anything is written: a field the campaign lacks (no deadline, say)
        # would otherwise be set by this run's HSETNX, re-dating what is queued already.
        existing = await self._meta.checked(spec.campaign_id)
        if existing[CREATED_AT] is not None:
            _check_same(spec, existing)
        values = await self._meta.create(spec.campaign_id, creation_fields(
            text=spec.text, gateway=spec.gateway, pool=spec.pool,
            placeholders=spec.placeholders, created_at=now, window=spec.window,
            deadline=spec.deadline, consent_required=spec.consent_required,
            client=spec.client, election=spec.election, consent_buckets=consent_buckets,
            sender_identity=spec.sender_identity, overrides=spec.lint_overrides,
            channel=spec.channel, preamble=spec.preamble, audio_url=spec.audio_url,
            calls=spec.calls))
        _check_same(spec, values)
        return int(values[CONSENT_BUCKETS] or consent_buckets)


def _purged(campaign_id: str) -> str:
    return f"campaign {campaign_id!r} was purged: it takes no more messages"


def _check_same(spec: CampaignSpec, stored: dict[str, bytes | None]) -> None:
    name = f"campaign {spec.campaign_id!r} already exists"
    if stored[STATUS] == CANCELLED.encode():
        raise CampaignConflict(f"campaign {spec.campaign_id!r} is cancelled: it takes no more "
                               f"messages (enqueue into a new campaign)")
    text, gateway = stored[TEXT], stored[GATEWAY]
    if text is not None and text.decode() != spec.text:
        raise CampaignConflict(f"{name} with a different text")
    if gateway is not None and gateway.decode() != spec.gateway:
        raise CampaignConflict(f"{name} with gateway {gateway.decode()!r}, not "
                               f"{spec.gateway!r}")
    channel = (stored[CHANNEL] or b"sms").decode()
    if channel != spec.channel:
        raise CampaignConflict(f"{name} as a {channel} campaign, not {spec.channel}")
    pool = stored[POOL]
    if pool is not None and pool.decode() != spec.pool:
        raise CampaignConflict(f"{name} on pool {pool.decode() or '(none)'!r}, not "
                               f"{spec.pool or '(none)'!r}")
    required = stored[CONSENT_REQUIRED]
    if required is not None and (required == b"1") != spec.consent_required:
        rule = "requiring consent" if required == b"1" else "not requiring consent"
        raise CampaignConflict(f"{name} {rule} (give the same consent option again)")
    client, election = (stored[CLIENT] or b"").decode(), (stored[ELECTION] or b"").decode()
    if (client, election) != (spec.client, spec.election):
        held = (f"for client {client!r} in election {election!r}" if client
                else "without a client and election")
        raise CampaignConflict(f"{name} {held} (give the same --client and --election "
                               f"again)")
    for field, option, wanted in ((WINDOW, "--window", spec.window),
                                  (DEADLINE, "--deadline", spec.deadline),
                                  (SENDER_IDENTITY, "--sender", spec.sender_identity)):
        _check_setting(name, stored[field], option, wanted)


def _check_setting(name: str, stored: bytes | None, option: str, wanted: str) -> None:
    """A top-up gives the campaign's setting again: changing it goes through `dispatch
    campaign set` (audited), never by a file loaded on top."""
    current = (stored or b"").decode()
    if current != wanted:
        raise CampaignConflict(
            f"{name} with {option} {current or '(none)'!r}, not {wanted or '(none)'!r}: give "
            f"the same {option} again, or change it with 'dispatch campaign set'")
