"""Campaigns in Redis: creating one (meta, consumer group, index) and queueing batches.

The layout is the contract the daemon reads (see keys.py): meta hash with text, gateway,
placeholders (JSON array, the order of the values in each message) and created_at; the
state hash as dedupe set; one stream entry per queued message.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coredis.exceptions import StreamDuplicateConsumerGroupError

from dispatch import model
from dispatch.keys import GROUP, CampaignKeys, Keys
from dispatch.store.optout import OptOutStore, scopes_for_sender
from dispatch.store.redis import Redis
from dispatch.store.scripts import load_script

QUEUED_CODE = model.STATE_CODES[model.QUEUED]


class CampaignConflict(Exception):
    """The campaign exists with another text or gateway; the message names which."""


@dataclass(frozen=True)
class CampaignSpec:
    campaign_id: str
    text: str
    placeholders: tuple[str, ...]
    gateway: str
    sender: str = ""  # the gateway's sender identity: opt-outs of its line apply


@dataclass(frozen=True)
class RunTotals:
    """What one enqueue run did, added to the campaign's running totals."""

    rows: int
    accepted: int
    duplicates: int
    rejected: int
    suppressed: int = 0


class CampaignStore:
    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys
        self._optouts = OptOutStore(redis, keys)
        self._enqueue = redis.register_script(load_script("_states") + "\n"
                                              + load_script("enqueue"))

    async def ensure(self, spec: CampaignSpec, now: float) -> None:
        """Create the campaign, or check that the existing one has the same text and gateway.

        The consumer group exists before any message, and the campaign is listed only after.
        """
        keys = self._keys.campaign(spec.campaign_id)
        await self._create_meta(keys, spec, now)
        with contextlib.suppress(StreamDuplicateConsumerGroupError):  # a re-run
            await self._redis.xgroup_create(keys.stream, GROUP, identifier="0", mkstream=True)
        await self._redis.sadd(self._keys.campaigns, [spec.campaign_id])

    async def enqueue_batch(self, spec: CampaignSpec, items: Sequence[tuple[str, bytes]]
                            ) -> tuple[int, int, int]:
        """Queue (number, payload) pairs in one script call, leaving out numbers that opted
        out for the campaign's sender; returns (accepted, duplicates, suppressed)."""
        keys = self._keys.campaign(spec.campaign_id)
        args: list[str | bytes] = [QUEUED_CODE, await self._optouts.secret()]
        for number, payload in items:
            args.append(number)
            args.append(payload)
        optout_keys = self._optouts.scope_keys(scopes_for_sender(spec.sender))
        result: Any = await self._enqueue(
            keys=[keys.state, keys.stream, keys.counts, *optout_keys], args=args)
        accepted, duplicates, suppressed = result
        return int(accepted), int(duplicates), int(suppressed)

    async def add_totals(self, campaign_id: str, totals: RunTotals) -> None:
        meta = self._keys.campaign(campaign_id).meta
        async with self._redis.pipeline(transaction=True) as pipe:
            for field in ("rows", "accepted", "duplicates", "rejected", "suppressed"):
                pipe.hincrby(meta, field, getattr(totals, field))

    async def _create_meta(self, keys: CampaignKeys, spec: CampaignSpec, now: float) -> None:
        fields = {
            "text": spec.text,
            "gateway": spec.gateway,
            "placeholders": json.dumps(list(spec.placeholders), ensure_ascii=False),
            "created_at": str(int(now)),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            for field, value in fields.items():
                pipe.hsetnx(keys.meta, field, value)
            stored = pipe.hmget(keys.meta, ["text", "gateway"])
        text, gateway = await stored
        _check_same(spec, text, gateway)


def _check_same(spec: CampaignSpec, text: bytes | None, gateway: bytes | None) -> None:
    if text is not None and text.decode() != spec.text:
        raise CampaignConflict(f"campaign {spec.campaign_id!r} already exists with a different "
                               f"text")
    if gateway is not None and gateway.decode() != spec.gateway:
        raise CampaignConflict(f"campaign {spec.campaign_id!r} already exists with gateway "
                               f"{gateway.decode()!r}, not {spec.gateway!r}")
