"""A campaign's meta hash: its one format, typed as `CampaignMeta`. Python reads and writes
it only here; the Lua scripts that touch it are named below.

Fields:
- written when the campaign is created (enqueue; HSETNX, so a top-up keeps the first
  values): text, gateway, pool, placeholders (JSON array: the order of the values in each
  message), created_at, window and deadline (absent: the channel's default, none),
  consent_required ("1"/"0"), client and election ("" when it has none: no exclusivity),
  consent_buckets, sender_identity, and per lint refusal an operator overrode
  `override:<code>` = when it was first overridden;
- running totals of the enqueue runs (HINCRBY): rows, accepted, duplicates, rejected,
  suppressed, excluded;
- operated (`dispatch campaign`): status (absent: active), weight and priority; window,
  deadline and sender_identity changed on purpose (`dispatch campaign set`, audited in
  CampaignKeys.changes) bump `revision`, so that every daemon reloads the campaign;
- retention: finished_at (stamped here when nothing is left to send or receive, cleared
  by enqueue.lua when more is queued), purge_started_at, purged_text and purged_unsent
  (purge_mark.lua, which also removes text), purged_at;
- a voice campaign's (channel "voice"): preamble (read first: who calls, how to object),
  audio_url (the recording; absent: `text` is read aloud), and its call policy:
  call_attempts, busy_retry_s, no_answer_retry_s, machine ("leave" or "retry");
- read, written by no command yet: holidays ("ignore": send on public holidays too).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from dispatch.keys import Keys
from dispatch.model import ACTIVE, Share
from dispatch.policy.calls import CallPolicy
from dispatch.policy.sending import Schedule
from dispatch.store.redis import Redis
from dispatch.store.status import campaign_ids

TEXT: Final = "text"
GATEWAY: Final = "gateway"
POOL: Final = "pool"
PLACEHOLDERS: Final = "placeholders"
CREATED_AT: Final = "created_at"
WINDOW: Final = "window"
DEADLINE: Final = "deadline"
CHANNEL: Final = "channel"
HOLIDAYS: Final = "holidays"
CONSENT_REQUIRED: Final = "consent_required"
CLIENT: Final = "client"
ELECTION: Final = "election"
CONSENT_BUCKETS: Final = "consent_buckets"
SENDER_IDENTITY: Final = "sender_identity"
OVERRIDE_PREFIX: Final = "override:"
STATUS: Final = "status"
WEIGHT: Final = "weight"
PRIORITY: Final = "priority"
TOTALS: Final = ("rows", "accepted", "duplicates", "rejected", "suppressed", "excluded")
FINISHED_AT: Final = "finished_at"
PURGE_STARTED_AT: Final = "purge_started_at"
PURGED_UNSENT: Final = "purged_unsent"
PURGED_AT: Final = "purged_at"
PREAMBLE: Final = "preamble"
AUDIO_URL: Final = "audio_url"
CALL_ATTEMPTS: Final = "call_attempts"
BUSY_RETRY_S: Final = "busy_retry_s"
NO_ANSWER_RETRY_S: Final = "no_answer_retry_s"
MACHINE: Final = "machine"
VOICE: Final = "voice"
HOLIDAYS_IGNORED: Final = b"ignore"
REVISION: Final = "revision"  # bumped by every change after creation: daemons reload it
# What a top-up must agree with (text and gateway first: the first difference is named);
# and the status (a cancelled campaign takes no more messages).
CHECKED: Final = (TEXT, GATEWAY, CONSENT_REQUIRED, CLIENT, ELECTION, CONSENT_BUCKETS, POOL,
                  CHANNEL, WINDOW, DEADLINE, SENDER_IDENTITY, STATUS, CREATED_AT)


@dataclass(frozen=True)
class CampaignMeta:
    campaign_id: str
    text: str | None = None  # None: being created right now, or purged
    gateway: str = "default"
    pool: str = ""  # its pool of lines; "": its gateway's `sender`
    placeholders: tuple[str, ...] = ()
    created_at: int | None = None
    schedule: Schedule = field(default_factory=Schedule)
    consent_required: bool = True
    client: str = ""
    election: str = ""
    consent_buckets: int = 1
    sender_identity: str = ""  # the party or candidate its text names
    overrides: dict[str, int] = field(default_factory=dict)  # lint code -> when
    status: str = ACTIVE
    share: Share = field(default_factory=Share)
    purge_started_at: int | None = None
    purged_at: int | None = None
    preamble: str = ""  # voice: read first
    audio_url: str = ""  # voice: the recording ("": `text` is read aloud)
    calls: CallPolicy | None = None  # voice: what a call's end leads to
    revision: int = 0  # changes made on purpose since creation

    @property
    def voice(self) -> bool:
        return self.schedule.channel == VOICE


@dataclass(frozen=True)
class Live:
    """What changes while a campaign runs: re-read about once a second by every daemon."""

    queued: int
    status: str
    share: Share
    revision: int = 0  # a daemon reloads a campaign whose revision moved
    counts: Mapping[str, int] = field(default_factory=dict)  # state -> messages (the log)


@dataclass(frozen=True)
class RetentionMarks:
    finished_at: float | None
    purge_started_at: float | None
    purged_at: float | None


def creation_fields(*, text: str, gateway: str, pool: str, placeholders: Sequence[str],
                    created_at: float, window: str, deadline: str, consent_required: bool,
                    client: str, election: str, consent_buckets: int,
                    sender_identity: str, overrides: Sequence[str],
                    channel: str = "sms", preamble: str = "", audio_url: str = "",
                    calls: CallPolicy | None = None) -> dict[str, str]:
    """The fields a new campaign's meta starts with ("" window or deadline: absent)."""
    return {
        **({CHANNEL: channel} if channel != "sms" else {}),
        **({PREAMBLE: preamble} if preamble else {}),
        **({AUDIO_URL: audio_url} if audio_url else {}),
        **(_call_fields(calls) if calls is not None else {}),
        TEXT: text, GATEWAY: gateway,
        PLACEHOLDERS: json.dumps(list(placeholders), ensure_ascii=False),
        CREATED_AT: str(int(created_at)),
        **({WINDOW: window} if window else {}), **({DEADLINE: deadline} if deadline else {}),
        CONSENT_REQUIRED: "1" if consent_required else "0",
        CLIENT: client, ELECTION: election, CONSENT_BUCKETS: str(consent_buckets),
        SENDER_IDENTITY: sender_identity,
        **{OVERRIDE_PREFIX + code: str(int(created_at)) for code in overrides},
        POOL: pool,
    }


def _call_fields(calls: CallPolicy) -> dict[str, str]:
    return {CALL_ATTEMPTS: str(calls.max_attempts), BUSY_RETRY_S: repr(calls.busy_retry_s),
            NO_ANSWER_RETRY_S: repr(calls.no_answer_retry_s), MACHINE: calls.machine}


def decode_calls(raw: Mapping[bytes, bytes]) -> CallPolicy:
    """A voice campaign's call policy (absent fields: the defaults; a damaged value raises
    ValueError, as a damaged window does)."""
    default = CallPolicy()

    def value(name: str) -> bytes | None:
        return raw.get(name.encode())

    return CallPolicy(int(value(CALL_ATTEMPTS) or default.max_attempts),
                      float(value(BUSY_RETRY_S) or default.busy_retry_s),
                      float(value(NO_ANSWER_RETRY_S) or default.no_answer_retry_s),
                      (value(MACHINE) or default.machine.encode()).decode())


def decode(campaign_id: str, raw: Mapping[bytes, bytes]) -> CampaignMeta:
    """The typed meta from the hash as HGETALL gives it (absent fields: the defaults)."""
    def text(name: str, default: str = "") -> str:
        value = raw.get(name.encode())
        return value.decode() if value is not None else default

    return CampaignMeta(
        campaign_id, raw[TEXT.encode()].decode() if TEXT.encode() in raw else None,
        text(GATEWAY, "default"), text(POOL), tuple(json.loads(text(PLACEHOLDERS, "[]"))),
        _int(raw.get(CREATED_AT.encode())), decode_schedule(raw),
        raw.get(CONSENT_REQUIRED.encode()) != b"0", text(CLIENT), text(ELECTION),
        _int(raw.get(CONSENT_BUCKETS.encode())) or 1, text(SENDER_IDENTITY),
        _overrides(raw), text(STATUS, ACTIVE),
        decode_share(raw.get(WEIGHT.encode()), raw.get(PRIORITY.encode())),
        _int(raw.get(PURGE_STARTED_AT.encode())), _int(raw.get(PURGED_AT.encode())),
        text(PREAMBLE), text(AUDIO_URL), _calls_of(raw), _int(raw.get(REVISION.encode())) or 0)


def _calls_of(raw: Mapping[bytes, bytes]) -> CallPolicy | None:
    """A voice campaign's call policy; None for an SMS campaign, or a damaged policy (the
    daemon then refuses to send the campaign, as for a damaged window)."""
    if raw.get(CHANNEL.encode()) != VOICE.encode():
        return None
    try:
        return decode_calls(raw)
    except ValueError:
        return None


def decode_schedule(raw: Mapping[bytes, bytes]) -> Schedule:
    def optional(name: str) -> str | None:
        value = raw.get(name.encode())
        return value.decode() if value is not None else None

    return Schedule(window=optional(WINDOW), deadline=optional(DEADLINE),
                    channel=optional(CHANNEL) or "sms",
                    skip_holidays=raw.get(HOLIDAYS.encode()) != HOLIDAYS_IGNORED)


def decode_share(weight: bytes | None, priority: bytes | None) -> Share:
    """A campaign's share (absent: the defaults; damaged: the defaults too, since
    `dispatch campaign share` only writes checked values)."""
    try:
        return Share.checked(float(weight or b"1"), int(priority or b"0"))
    except ValueError:
        return Share()


def _int(value: bytes | None) -> int | None:
    return int(float(value)) if value else None


def _overrides(raw: Mapping[bytes, bytes]) -> dict[str, int]:
    """The lint refusals overridden for the campaign's text, and when (enqueue)."""
    prefix = OVERRIDE_PREFIX.encode()
    return {name[len(prefix):].decode(): int(value) for name, value in sorted(raw.items())
            if name.startswith(prefix)}


class MetaStore:
    """Reads and writes of the meta hashes."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    def _key(self, campaign_id: str) -> str:
        return self._keys.campaign(campaign_id).meta

    async def campaign_ids(self) -> list[str]:
        return await campaign_ids(self._redis, self._keys)

    async def read(self, campaign_id: str) -> CampaignMeta:
        return decode(campaign_id, await self._redis.hgetall(self._key(campaign_id)))

    async def read_many(self, campaign_ids: Sequence[str]) -> list[CampaignMeta]:
        """One pipelined round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [pipe.hgetall(self._key(c)) for c in campaign_ids]
        return [decode(c, await reply) for c, reply in zip(campaign_ids, replies, strict=True)]

    async def purge_started(self, campaign_id: str) -> bool:
        return bool(await self._redis.hexists(self._key(campaign_id), PURGE_STARTED_AT))

    async def checked(self, campaign_id: str) -> dict[str, bytes | None]:
        """The CHECKED fields as stored (all None: no such campaign yet)."""
        stored = await self._redis.hmget(self._key(campaign_id), list(CHECKED))
        return dict(zip(CHECKED, stored, strict=True))

    async def create(self, campaign_id: str, fields: Mapping[str, str]
                     ) -> dict[str, bytes | None]:
        """Write the fields an existing campaign does not have yet; the stored values of
        the CHECKED fields (a top-up must agree with them)."""
        key = self._key(campaign_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for name, value in fields.items():
                pipe.hsetnx(key, name, value)
            stored = pipe.hmget(key, list(CHECKED))
        return dict(zip(CHECKED, await stored, strict=True))

    async def add_totals(self, campaign_id: str, totals: Mapping[str, int]) -> None:
        key = self._key(campaign_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            for name in TOTALS:
                pipe.hincrby(key, name, totals[name])

    async def status(self, campaign_id: str) -> str:
        raw = await self._redis.hget(self._key(campaign_id), STATUS)
        return raw.decode() if raw else ACTIVE

    async def set_status(self, campaign_id: str, status: str) -> None:
        await self._redis.hset(self._key(campaign_id), {STATUS: status})

    async def share(self, campaign_id: str) -> Share:
        return decode_share(*await self._redis.hmget(self._key(campaign_id),
                                                     [WEIGHT, PRIORITY]))

    async def set_share(self, campaign_id: str, share: Share) -> None:
        await self._redis.hset(self._key(campaign_id), {WEIGHT: repr(share.weight),
                                                        PRIORITY: str(share.priority)})

    async def live(self, campaign_ids: Sequence[str]) -> dict[str, Live]:
        """Counts by state (queue depth among them), status, share and revision of each
        campaign, in one pipelined round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            replies = [(pipe.hgetall(self._keys.campaign(c).counts),
                        pipe.hmget(self._key(c), [STATUS, WEIGHT, PRIORITY, REVISION]))
                       for c in campaign_ids]
        live: dict[str, Live] = {}
        for campaign_id, (depth, fields) in zip(campaign_ids, replies, strict=True):
            counts = {state.decode(): int(value) for state, value in (await depth).items()}
            status, weight, priority, revision = await fields
            live[campaign_id] = Live(counts.get("queued", 0),
                                     status.decode() if status else ACTIVE,
                                     decode_share(weight, priority), int(revision or 0),
                                     counts)
        return live

    async def change(self, campaign_id: str, changes: Mapping[str, str | None],
                     audit: Mapping[str, str]) -> None:
        """Set (a value) or remove (None) fields on purpose, bump the revision and audit
        it, in one transaction."""
        key = self._key(campaign_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            written = {name: value for name, value in changes.items() if value is not None}
            if written:
                pipe.hset(key, written)
            removed = [name for name, value in changes.items() if value is None]
            if removed:
                pipe.hdel(key, removed)
            pipe.hincrby(key, REVISION, 1)
            pipe.xadd(self._keys.campaign(campaign_id).changes,
                      {"campaign": campaign_id, **audit})

    async def retention_marks(self, campaign_id: str) -> RetentionMarks:
        found = await self._redis.hmget(self._key(campaign_id),
                                        [FINISHED_AT, PURGE_STARTED_AT, PURGED_AT])
        finished, started, purged = (float(v) if v is not None else None for v in found)
        return RetentionMarks(finished, started, purged)

    async def stamp_finished(self, campaign_id: str, now: float) -> None:
        """`finished_at` = `now`, unless another process stamped it meanwhile."""
        await self._redis.hsetnx(self._key(campaign_id), FINISHED_AT, f"{now:.0f}")

    async def clear_finished(self, campaign_id: str) -> None:
        await self._redis.hdel(self._key(campaign_id), [FINISHED_AT])

    async def purged_unsent(self, campaign_id: str) -> int:
        unsent = await self._redis.hget(self._key(campaign_id), PURGED_UNSENT)
        return int(unsent) if unsent else 0

    async def mark_purged(self, campaign_id: str, now: float) -> None:
        """The purge's last step: `purged_at`, and no text (in case an enqueue racing the
        purge's first step wrote it again)."""
        key = self._key(campaign_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(key, [TEXT])
            pipe.hset(key, {PURGED_AT: f"{now:.0f}"})
